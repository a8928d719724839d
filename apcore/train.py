"""One trainer for every model and task: reconstruction, denoising, one-class.

The whole training set lives on the device as uint8 (47 MB for MNIST) and each batch is gathered
and converted to float there: no DataLoader, no per-sample transforms. The trainer only knows that
a model has ``loss(x, target) -> {"loss": ..., other named terms}``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import models
from .config import ModelConfig
from .data import Dataset, corrupt, to_float

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # report at most this often: each report synchronises the GPU
# Replay captured training steps on a GPU (see _fit_graphed). Off unless APCORE_CUDA_GRAPHS=1:
# written for the GPU speed target but not yet run on a GPU (no device time was left to check it).
CUDA_GRAPHS = os.environ.get("APCORE_CUDA_GRAPHS") == "1"
GRAPH_STEPS = 32         # at most this many steps per captured graph


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
    one-class model, the first ``train_limit`` of them for a tiny test config."""
    images = data.train_images
    if config.is_one_class:
        keep = torch.isin(data.train_labels, torch.tensor(config.normal_classes))
        images = images[keep]
    if config.train_limit:
        images = images[: config.train_limit]
    return images


def fit(model: models.Autoencoder, config: ModelConfig, data: Dataset, device: torch.device,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None) -> list[dict]:
    """Train ``model`` in place on ``device``; returns the history, one dict per epoch.

    Adam with a cosine learning-rate decay to zero over the run (reaches a lower loss in the same
    number of epochs than a constant rate). Raises :class:`Cancelled` when ``should_stop()``.
    On a GPU the steps run as replayed CUDA graphs (:func:`_fit_graphed`); if capture fails the
    eager loop takes over from the same starting weights.
    """
    if device.type == "cpu":
        # Adam's moments for MNIST's always-black border pixels decay into denormals, and every
        # step then runs ~20x slower on the CPU (measured: 9 ms -> 180 ms per step).
        torch.set_flush_denormal(True)
    images = training_images(config, data).to(device)
    model.to(device).train()
    if device.type == "cuda" and CUDA_GRAPHS:
        start_state = {k: v.clone() for k, v in model.state_dict().items()}
        try:
            return _fit_graphed(model, config, images, device, on_progress, should_stop)
        except Cancelled:
            raise
        except Exception as exc:  # capture is picky (ops, versions): never fail a training over it
            log.warning("CUDA graph training unavailable (%s); training eagerly", exc)
            model.load_state_dict(start_state)
    return _fit_eager(model, config, images, device, on_progress, should_stop)


def _schedule(total_steps: int):
    return lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))


def _fit_eager(model, config, images, device, on_progress, should_stop) -> list[dict]:
    n = len(images)
    batch = min(config.batch_size, n)
    steps = n // batch  # drop the ragged last batch: constant shapes, unbiased epoch means
    generator = torch.Generator(device=device).manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, **({"fused": True} if device.type == "cuda" else {}))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(steps * config.epochs))
    history: list[dict] = []
    report = _Reporter(on_progress, config.epochs, steps, history)
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=generator, device=device)
        sums: dict[str, torch.Tensor] = {}
        for step in range(1, steps + 1):
            if should_stop is not None and should_stop():
                raise Cancelled()
            clean = to_float(images[perm[(step - 1) * batch: step * batch]])
            x = corrupt(clean, config.noise, config.noise_level, generator) if config.is_denoising else clean
            terms = model.loss(x, clean, generator)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            opt.step()
            sched.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0) + v.detach()
            report(epoch, step, sums)
        history.append(_epoch_row(epoch, sums, steps, t0))
        log.info("epoch %d/%d %s", epoch, config.epochs, history[-1])
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


def _steps_per_graph(steps: int, most: int = GRAPH_STEPS) -> int:
    """The largest divisor of ``steps`` up to ``most``: whole epochs of whole graphs."""
    return max(d for d in range(1, min(steps, most) + 1) if steps % d == 0)


def _fit_graphed(model, config, images, device, on_progress, should_stop) -> list[dict]:
    """The same training as :func:`_fit_eager`, as CUDA graphs of several whole steps each.

    At MNIST size one eager step is launch-bound (~2.7 ms of kernel launches for <0.1 ms of
    arithmetic, TARGETS.md). Here K steps -- batch gather by a device-side step counter, forward,
    loss, backward, fused capturable Adam, the cosine learning rate -- are captured once and
    replayed: no host synchronisation inside an epoch except the progress reports. Sampling (VAE
    noise, input corruption) draws from CUDA's default generator, seeded from the config: graph
    replay advances it safely, but the results are not bit-identical to the eager loop's.
    """
    n = len(images)
    batch = min(config.batch_size, n)
    steps = n // batch
    k_steps = _steps_per_graph(steps)
    total = steps * config.epochs
    torch.cuda.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    lr = torch.tensor(config.lr, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True, capturable=True)
    perm = torch.zeros(steps, batch, dtype=torch.long, device=device)   # (steps, B) this epoch's batches
    step_in_epoch = torch.zeros((), dtype=torch.long, device=device)
    global_step = torch.zeros((), dtype=torch.float32, device=device)
    names = ["loss", "recon"] + (["kl"] if config.is_vae else [])
    sums = {k: torch.zeros((), device=device) for k in names}

    def one_step():
        idx = perm.index_select(0, step_in_epoch.view(1)).view(-1)
        clean = to_float(images.index_select(0, idx))
        x = corrupt(clean, config.noise, config.noise_level) if config.is_denoising else clean
        terms = model.loss(x, clean)
        terms["loss"].backward()
        opt.step()
        # cosine decay, evaluated on the device from the step counter
        global_step.add_(1)
        lr.copy_(config.lr * 0.5 * (1 + torch.cos(math.pi * torch.clamp(global_step / total, max=1.0))))
        step_in_epoch.add_(1)
        for k in names:
            sums[k].add_(terms[k].detach())

    # Warm up on a side stream (optimizer state, cuBLAS workspaces), then undo its effects on the
    # weights: the graph must start from the same model as the eager loop would.
    state = {k: v.clone() for k, v in model.state_dict().items()}
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=False)
            one_step()
    torch.cuda.current_stream().wait_stream(side)
    model.load_state_dict(state)
    for group_state in opt.state.values():
        for v in group_state.values():
            v.zero_()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(k_steps):
            opt.zero_grad(set_to_none=False)
            one_step()
    global_step.zero_()
    lr.fill_(config.lr)

    history: list[dict] = []
    report = _Reporter(on_progress, config.epochs, steps, history)
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        perm.copy_(torch.randperm(n, generator=generator, device=device)[: steps * batch].view(steps, batch))
        step_in_epoch.zero_()
        for v in sums.values():
            v.zero_()
        for done in range(k_steps, steps + 1, k_steps):
            if should_stop is not None and should_stop():
                raise Cancelled()
            graph.replay()
            report(epoch, done, sums)
        history.append(_epoch_row(epoch, sums, steps, t0))
    torch.cuda.synchronize()
    model.eval()
    return history
