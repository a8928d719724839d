"""One trainer for every model and task: reconstruction, denoising, one-class.

The whole training set lives on the device as uint8 (47 MB for MNIST) and each batch is gathered
and converted to float there: no DataLoader, no per-sample transforms. The trainer only knows that
a model has ``loss(x, target) -> {"loss": ..., other named terms}``; callers watch it through
callbacks: ``on_progress`` (running losses) and ``on_snapshot`` (called at the optimiser steps it
chooses: the training replay's :class:`apcore.snapshots.Snapshotter`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

import torch

from . import models
from .config import ModelConfig
from .cores import CoreShare
from .data import Dataset, corrupt, to_float
from .defaults import DATA_START, WARMUP, adam_betas, bf16_eligible

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # report at most this often: each report synchronises the GPU
GRAPH_STEPS = 32  # on a GPU, at most this many optimiser steps per replay of a captured CUDA graph


class Cancelled(Exception):
    """Training stopped because ``should_stop`` said so."""


@dataclass
class Progress:
    """What a progress callback receives. ``losses`` are running means over the current epoch."""

    epoch: int
    epochs: int
    step: int
    steps: int
    losses: dict[str, float]
    elapsed: float
    history: list[dict] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return ((self.epoch - 1) * self.steps + self.step) / max(1, self.epochs * self.steps)

    @property
    def remaining(self) -> float:
        """Seconds of training left at this report, at the pace so far (inf before the first step)."""
        done = self.fraction
        return self.elapsed * (1 - done) / done if done > 0 else math.inf


class SnapshotHook(Protocol):
    """What ``fit(on_snapshot=...)`` calls: asked once for the global optimiser steps it wants
    (0: before the first step; ``total_steps``: after the last), then called after each of them."""

    def steps(self, total_steps: int) -> Iterable[int]: ...

    def __call__(self, step: int) -> None: ...


def pick_device(preference: str = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU. Asking for "cuda" without a GPU is an error."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but no CUDA GPU is available")
    if preference not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {preference!r}; choose auto, cpu or cuda")
    return torch.device(preference)


def training_images(config: ModelConfig, data: Dataset) -> torch.Tensor:
    """The uint8 training images (N, 28, 28) this config trains on: its normal classes only for a
    one-class model, the first ``train_limit`` of them for a budget of fewer images (the conv AE's) or
    a tiny test config."""
    images = data.train_images
    if config.is_one_class:
        keep = torch.isin(data.train_labels, torch.tensor(config.normal_classes))
        images = images[keep]
    if config.train_limit:
        images = images[: config.train_limit]
    return images


MEAN_CHUNK = 1024  # images per partial sum in mean_image: 1,024 x 255 < 2^24, exact in float32


def mean_image(images: torch.Tensor) -> torch.Tensor:
    """The mean of uint8 ``images`` (N, 28, 28) as a float image (1, 28, 28) in [0, 1].

    Summed :data:`MEAN_CHUNK` images at a time, each partial sum exact in float32, into float64:
    the same numbers as one float64 sum, without its float64 copy of all the images (376 MB for
    MNIST, paid in page faults: 0.16 s of every MLP training's start on a 2-core Intel Xeon,
    against 0.015 s)."""
    total = torch.zeros(images.shape[-2:], dtype=torch.float64, device=images.device)
    for chunk in images.split(MEAN_CHUNK):
        total += chunk.sum(0, dtype=torch.float32)
    return (total / (255.0 * max(1, len(images)))).float().reshape(1, *images.shape[-2:])


def cpu_has_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (AVX512-BF16 or AMX, as oneDNN sees it)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_dtype(device: torch.device, config: ModelConfig) -> torch.dtype | None:
    """The reduced precision ``config`` runs its forward pass in on ``device``, or None (float32).

    bfloat16 for the configs :func:`apcore.defaults.bf16_eligible` names, on a CPU with native
    bf16 (oneDNN's matrix products run ~2x float32 there: ``bench/train_speed.py``); float32 for
    the others (quality), on other CPUs (emulated bf16 is slower) and on a GPU (launch-bound at
    these sizes: nothing to gain). ``APCORE_PRECISION=fp32`` forces float32. Weights, optimiser state, loss
    terms and evaluation stay float32 either way.
    """
    if os.environ.get("APCORE_PRECISION", "auto") == "fp32" or device.type != "cpu" or not bf16_eligible(config):
        return None
    return torch.bfloat16 if cpu_has_bf16() else None


def _device_schedule(total_steps: int, warmup: float = 0.0):
    """The learning-rate factor after ``t`` optimiser steps, as tensor arithmetic (a step-count
    tensor in, a factor tensor out: what a captured CUDA graph evaluates on the device): a linear
    warm-up over ``warmup`` of the steps, then a cosine decay to zero (a one-cycle shape for the
    VAEs, whose larger learning rates need the warm-up: :data:`apcore.defaults.WARMUP`)."""
    rise = round(warmup * total_steps)  # 0: the plain cosine
    span = max(1, total_steps - rise)

    def factor(t: torch.Tensor) -> torch.Tensor:
        cosine = 0.5 * (1 + torch.cos(math.pi * torch.clamp(t - rise, max=total_steps - rise) / span))
        return torch.where(t < rise, (t + 1) / max(1, rise), cosine)
    return factor


def _schedule(total_steps: int, warmup: float = 0.0) -> list[float]:
    """:func:`_device_schedule`'s factor for each of ``total_steps`` steps, in one evaluation
    (float64; the same numbers as step by step). The eager loop sets the learning rate from this
    list: ``LambdaLR``, which evaluated the factor as tensor arithmetic at every step, took ~0.15
    ms of a 4.7 ms step of the MLP VAE."""
    return _device_schedule(total_steps, warmup)(torch.arange(total_steps, dtype=torch.float64)).tolist()


def cuda_graphs(device: torch.device) -> bool:
    """Whether :func:`fit` replays captured CUDA graphs on ``device`` (a GPU, unless
    ``APCORE_CUDA_GRAPHS=0``)."""
    return device.type == "cuda" and os.environ.get("APCORE_CUDA_GRAPHS", "1") != "0"


def steps_per_graph(steps: int, most: int = GRAPH_STEPS) -> int:
    """The largest divisor of ``steps`` (an epoch's) up to ``most``: an epoch is whole graphs."""
    return max(d for d in range(1, min(steps, most) + 1) if steps % d == 0)


def graph_chunks(steps: int, k: int, done: int, wanted: list[int]) -> Iterable[int]:
    """One epoch of ``steps`` optimiser steps as replays of a ``k``-step graph and single steps,
    ``done`` steps having run before it: each chunk's size, in order. A chunk never runs past a step
    in ``wanted`` (the replay's snapshots, ascending; steps counted over the whole training), so the
    trainer can stop there and take the snapshot."""
    at, upcoming = 0, iter(w for w in wanted if w > done)
    next_wanted = next(upcoming, None)
    while at < steps:
        size = k if at + k <= steps and (next_wanted is None or next_wanted >= done + k) else 1
        at, done = at + size, done + size
        while next_wanted is not None and next_wanted <= done:
            next_wanted = next(upcoming, None)
        yield size


def fit(model: models.Autoencoder, config: ModelConfig, data: Dataset, device: torch.device,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_snapshot: SnapshotHook | None = None) -> list[dict]:
    """Train ``model`` in place on ``device``; returns the history, one dict per epoch.

    Adam (fused; its betas per family: :func:`~apcore.defaults.adam_betas`), for the MLPs a start
    from the data's mean image (:data:`~apcore.defaults.DATA_START`), for the VAEs and the denoising
    CNN a short linear warm-up (:data:`~apcore.defaults.WARMUP`), and a cosine learning-rate decay
    to zero over the run (:func:`_schedule`: a lower loss in the same number of epochs than a
    constant rate); the forward pass in
    :func:`autocast_dtype`'s precision (logged). Raises :class:`Cancelled` when ``should_stop()``.
    ``on_snapshot`` (a :class:`SnapshotHook`) is called with the global step number at the steps
    it asks for; it must leave the model as it found it (mode, weights, random state).
    In a process that shares its cores (the worker: :func:`apcore.cores.share_with_others`), the
    training runs one torch thread fewer while other processes want a core (:class:`CoreShare`).
    On a GPU the steps are replayed CUDA graphs (:func:`_fit_graphed`; ``APCORE_CUDA_GRAPHS=0``:
    this eager loop there too).

    On the CPU this turns on flush-to-zero for denormal floats **for the whole process** and
    leaves it on (torch has no way to read the flag back, so it cannot be restored). Adam's
    moments for MNIST's always-black border pixels decay into denormals, and every step then runs
    ~20x slower (measured: 9 ms -> 180 ms per step). Trainings run in their own process (the
    command line, :mod:`apcore.worker`), so the flag never reaches the app's server.
    """
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    images = training_images(config, data).to(device)
    model.to(device).train()
    if config.family in DATA_START:
        model.start_from(mean_image(images))
    if cuda_graphs(device):
        history = _fit_graphed(model, config, images, device, on_progress, should_stop, on_snapshot)
        if history is not None:
            return history
    n = len(images)
    batch = min(config.batch_size, n)
    steps = n // batch  # drop the ragged last batch: constant shapes, unbiased epoch means
    generator = torch.Generator(device=device).manual_seed(config.seed)
    betas = adam_betas(config.family)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=betas, fused=True)  # one kernel for all tensors
    precision = autocast_dtype(device, config)
    log.info("training %s on %s in %s", config.describe(), device, precision or torch.float32)
    rates = [config.lr * f for f in _schedule(steps * config.epochs, WARMUP.get(config.family, 0.0))]
    history: list[dict] = []
    report = _Reporter(on_progress, config.epochs, steps, history)
    snapshot_at = set(on_snapshot.steps(steps * config.epochs)) if on_snapshot is not None else set()
    if 0 in snapshot_at:
        on_snapshot(0)
    done = 0  # optimiser steps over all epochs
    sharing = None if device.type == "cpu" else False  # CPU threads only; on where the process asks
    with CoreShare(on=sharing) as share:
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=generator, device=device)
            sums: dict[str, torch.Tensor] = {}
            for step in range(1, steps + 1):
                if should_stop is not None and should_stop():
                    raise Cancelled()
                batch_ids = perm[(step - 1) * batch: step * batch]
                clean = to_float(images.index_select(0, batch_ids))  # ~10x as fast as images[batch_ids] here
                x = corrupt(clean, config.noise, config.noise_level, generator) if config.is_denoising else clean
                with torch.autocast(device.type, dtype=precision or torch.float32, enabled=precision is not None):
                    terms = model.loss(x, clean, generator)
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt.param_groups[0]["lr"] = rates[done]
                opt.step()
                done += 1
                share.step()
                if done in snapshot_at:
                    on_snapshot(done)
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0) + v.detach()
                report(epoch, step, sums)
            history.append(_epoch_row(epoch, sums, steps, t0))
            log.info("epoch %d/%d %s", epoch, config.epochs, history[-1])
    if share.switches:
        log.info("torch threads changed %d times while other processes wanted a core", share.switches)
    model.eval()
    return history


def _fit_graphed(model: models.Autoencoder, config: ModelConfig, images: torch.Tensor, device: torch.device,
                 on_progress, should_stop, on_snapshot) -> list[dict] | None:
    """:func:`fit` on a GPU: the whole optimiser step (batch gather by a device-side counter,
    forward, loss, backward, fused capturable Adam, the learning rate of :func:`_device_schedule`) captured
    once as a CUDA graph of :func:`steps_per_graph` steps, and once as a graph of one step for
    the steps up to each snapshot step (:func:`graph_chunks`), then replayed. At MNIST size an eager step
    is launch-bound (~2.7 ms of launches for < 0.1 ms of arithmetic, TARGETS.md): on an H200 the
    20-d VAE's epoch at batch 128 took 0.146 s against 1.27 s, at the same test loss
    (``bench/results/gpu_train.md``). Float32, as :func:`autocast_dtype` says for a GPU.

    Random draws (VAE sampling, input corruption) come from CUDA's default generator, seeded from
    the config (a replay advances it safely); the shuffles from the config's own generator. So a
    seed trains the same weights each time, but not the eager loop's. Returns None, the model as
    it was, when the capture fails: the caller trains eagerly.
    """
    n = len(images)
    batch = min(config.batch_size, n)
    steps = n // batch
    total, k = steps * config.epochs, steps_per_graph(steps)
    torch.cuda.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    factor = _device_schedule(total, WARMUP.get(config.family, 0.0))
    first_lr = config.lr * float(factor(torch.zeros(())))
    lr = torch.tensor(first_lr, device=device)
    betas = adam_betas(config.family)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, fused=True, capturable=True)
    perm = torch.zeros(steps, batch, dtype=torch.long, device=device)  # this epoch's batches
    position = torch.zeros((), dtype=torch.long, device=device)      # the step within the epoch
    done_t = torch.zeros((), dtype=torch.float32, device=device)      # steps so far, for the schedule
    sums: dict[str, torch.Tensor] = {}

    def one_step() -> None:
        opt.zero_grad(set_to_none=False)
        clean = to_float(images.index_select(0, perm.index_select(0, position.view(1)).view(-1)))
        x = corrupt(clean, config.noise, config.noise_level) if config.is_denoising else clean
        terms = model.loss(x, clean)
        terms["loss"].backward()
        opt.step()
        done_t.add_(1)
        lr.copy_(config.lr * factor(done_t))
        position.add_(1)
        for key, v in terms.items():
            if key not in sums:  # made in the warm-up, before the capture
                sums[key] = torch.zeros((), device=device)
            sums[key].add_(v.detach())

    # Warm up on a side stream (gradients, optimiser state, cuBLAS workspaces), capture, then put
    # everything back: the replays start from the model fit would have started from.
    state = {key: v.clone() for key, v in model.state_dict().items()}
    try:
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):
                position.zero_()  # an epoch may have fewer than three steps
                one_step()
        torch.cuda.current_stream(device).wait_stream(side)
        graphs = {}
        for size in dict.fromkeys((k, 1)):
            graphs[size] = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graphs[size]):
                for _ in range(size):
                    one_step()
    except RuntimeError as exc:
        torch.cuda.synchronize(device)
        model.load_state_dict(state)
        log.warning("CUDA graph capture failed (%s); training %s without graphs", exc, config.describe())
        return None
    model.load_state_dict(state)
    for values in opt.state.values():
        for v in values.values():
            v.zero_()
    done_t.zero_()
    lr.fill_(first_lr)
    log.info("training %s on %s in float32, CUDA graphs of %d steps", config.describe(), device, k)

    wanted = sorted(set(on_snapshot.steps(total))) if on_snapshot is not None else []
    if 0 in wanted:
        on_snapshot(0)
    history: list[dict] = []
    report = _Reporter(on_progress, config.epochs, steps, history)
    done = 0
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        perm.copy_(torch.randperm(n, generator=generator, device=device)[: steps * batch].view(steps, batch))
        position.zero_()
        for v in sums.values():
            v.zero_()
        at = 0
        for size in graph_chunks(steps, k, done, wanted):
            if should_stop is not None and should_stop():
                raise Cancelled()
            graphs[size].replay()
            at, done = at + size, done + size
            if done in wanted:
                on_snapshot(done)
            report(epoch, at, sums)
        history.append(_epoch_row(epoch, sums, steps, t0))
        log.info("epoch %d/%d %s", epoch, config.epochs, history[-1])
    torch.cuda.synchronize(device)
    model.eval()
    return history


class _Reporter:
    """Calls ``on_progress`` with the epoch's running means at most every ``PROGRESS_EVERY_S``
    (reading the sums synchronises a GPU) and at the end of each epoch."""

    def __init__(self, on_progress, epochs: int, steps: int, history: list[dict]):
        self.on_progress, self.epochs, self.steps, self.history = on_progress, epochs, steps, history
        self.start, self.last = time.perf_counter(), -math.inf

    def __call__(self, epoch: int, step: int, sums: dict) -> None:
        now = time.perf_counter()
        if self.on_progress is None or (now - self.last < PROGRESS_EVERY_S and step != self.steps):
            return
        self.last = now
        losses = {k: float(v) / step for k, v in sums.items()}
        self.on_progress(Progress(epoch, self.epochs, step, self.steps, losses, now - self.start, self.history))


def _epoch_row(epoch: int, sums: dict, steps: int, t0: float) -> dict:
    return {"epoch": epoch, **{k: float(v) / steps for k, v in sums.items()}, "seconds": time.perf_counter() - t0}
