"""Shared by the benchmark scripts: machine description and writing a results table."""

from __future__ import annotations

import contextlib
import platform
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with the number of torch threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({cpu_name()}, {torch.get_num_threads()} threads)"


def train_timed(config, data, device):
    """A fresh model for ``config`` trained on ``device``: (model, training seconds)."""
    from apcore import models, train

    torch.manual_seed(config.seed)
    model = models.build(config)
    start = time.perf_counter()
    train.fit(model, config, data, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    model.requires_grad_(False)
    return model, seconds


def chosen(spec: str, known, what: str) -> list[str]:
    """A comma-separated command-line list, each name checked against ``known`` (else the command
    exits, naming ``what`` was unknown and what is known)."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if unknown := set(names) - set(known):
        sys.exit(f"unknown {what}: {', '.join(sorted(unknown))} (known: {', '.join(known)})")
    return names


def page_model(store, config, data):
    """The page's model of ``config`` at its seed: seed 0 from ``store`` (trained there if missing),
    any other seed trained here and not kept (kept, it would look like a Retrain to the page):
    (model, training seconds)."""
    if config.seed == 0:
        trained = store.get_or_train(config)
        return trained.model, trained.train_seconds
    return train_timed(config, data, store.device)


def variant(spec: str):
    """``family,latent,epochs,batch,lr[,beta1,warmup]`` -> (config, (beta1, warm-up) or None): the
    family's page model at that latent size (its number of training images kept) with the given
    epochs, batch and rate; Adam's beta1 and the warm-up fraction, when given, for :func:`recipe`.
    ``latent`` may list sizes (``2/5/10/20``): one config each, in that order. ValueError on a
    malformed spec."""
    from apcore import defaults

    fields = spec.split(",")
    if len(fields) not in (5, 7):
        raise ValueError(f"--variant {spec!r}: family,latent,epochs,batch,lr[,beta1,warmup] "
                         "(both of beta1 and warmup, or neither)")
    fam, latents, epochs, batch, lr, *rest = fields
    try:
        override = tuple(map(float, rest)) or None
        return [(defaults.default_config(fam, latent_dim=int(latent)).replace(
            epochs=int(epochs), batch_size=int(batch), lr=float(lr)), override) for latent in latents.split("/")]
    except ValueError as exc:  # a number that is not one, or a config the app would refuse (ConfigError)
        raise ValueError(f"--variant {spec!r}: {exc}") from None


@contextlib.contextmanager
def recipe(family: str, override: tuple[float, float] | None):
    """Adam's beta1 and the warm-up fraction of ``family`` set to ``override`` (None: the family's
    own) while inside; yields them as a table cell. The trainer reads them from
    ``apcore.defaults``' tables (:data:`~apcore.defaults.ADAM_BETAS`, :data:`~apcore.defaults.WARMUP`),
    which are restored on the way out."""
    from apcore import defaults

    betas, warmup = dict(defaults.ADAM_BETAS), dict(defaults.WARMUP)
    if override:
        defaults.ADAM_BETAS[family] = (override[0], defaults.adam_betas(family)[1])
        defaults.WARMUP[family] = override[1]
    try:
        yield f"{defaults.adam_betas(family)}, {defaults.WARMUP.get(family, 0.0):g}"
    finally:
        defaults.ADAM_BETAS.clear()
        defaults.ADAM_BETAS.update(betas)
        defaults.WARMUP.clear()
        defaults.WARMUP.update(warmup)


def mm_rate(dtype: torch.dtype, device: torch.device, n: int = 4096, reps: int = 4) -> float:
    """GFLOP/s of an n x n matrix product (best of three runs of ``reps``)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 * reps / best / 1e9


def machine() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu_name()}, {torch.get_num_threads()} torch threads, {gpu}; "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def write_table(name: str, title: str, header: list[str], rows: list[list], notes: str = "", write: bool = True) -> str:
    """Print a markdown table and (unless ``write`` is false: a trial run) write it to bench/results/<name>.md."""
    lines = [f"# {title}", "", f"Machine: {machine()}", "", f"Command: `python3 {' '.join(sys.argv)}`", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if notes:
        lines += ["", notes]
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.md").write_text(text)
    return text
