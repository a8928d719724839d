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
from .defaults import ADAM_BETA2, DATA_START, WARMUP, bf16_eligible

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # report at most this often: each report synchronises the GPU


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


def mean_image(images: torch.Tensor) -> torch.Tensor:
    """The mean of uint8 ``images`` (N, 28, 28) as a float image (1, 28, 28) in [0, 1], summed
    without a float copy of them all."""
    return (images.sum(0, dtype=torch.float64) / (255.0 * max(1, len(images)))).float().reshape(1, *images.shape[-2:])


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


def _schedule(total_steps: int, warmup: float = 0.0):
    """Linear warm-up over ``warmup`` of the steps, then a cosine decay to zero (a one-cycle shape
    for the VAEs, whose larger learning rates need the warm-up: :data:`apcore.defaults.WARMUP`)."""
    rise = round(warmup * total_steps)  # 0: the plain cosine

    def factor(t: int) -> float:
        if t < rise:
            return (t + 1) / rise
        return 0.5 * (1 + math.cos(math.pi * min(t - rise, total_steps - rise) / max(1, total_steps - rise)))
    return factor


def fit(model: models.Autoencoder, config: ModelConfig, data: Dataset, device: torch.device,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_snapshot: SnapshotHook | None = None) -> list[dict]:
    """Train ``model`` in place on ``device``; returns the history, one dict per epoch.

    Adam (fused), for the MLPs a start from the data's mean image and beta2 0.99
    (:data:`~apcore.defaults.DATA_START`), for a VAE a short linear warm-up, and a cosine
    learning-rate decay to zero over the run (:func:`_schedule`: a lower loss in the same number
    of epochs than a constant rate); the
    forward pass in :func:`autocast_dtype`'s precision (logged). Raises :class:`Cancelled` when
    ``should_stop()``.
    ``on_snapshot`` (a :class:`SnapshotHook`) is called with the global step number at the steps
    it asks for; it must leave the model as it found it (mode, weights, random state).
    In a process that shares its cores (the worker: :func:`apcore.cores.share_with_others`), the
    training runs one torch thread fewer while other processes want a core (:class:`CoreShare`).

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
    n = len(images)
    batch = min(config.batch_size, n)
    steps = n // batch  # drop the ragged last batch: constant shapes, unbiased epoch means
    generator = torch.Generator(device=device).manual_seed(config.seed)
    betas = (0.9, ADAM_BETA2.get(config.family, 0.999))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=betas, fused=True)  # one kernel for all tensors
    precision = autocast_dtype(device, config)
    log.info("training %s on %s in %s", config.describe(), device, precision or torch.float32)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(steps * config.epochs, WARMUP.get(config.family, 0.0)))
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
                clean = to_float(images[perm[(step - 1) * batch: step * batch]])
                x = corrupt(clean, config.noise, config.noise_level, generator) if config.is_denoising else clean
                with torch.autocast(device.type, dtype=precision or torch.float32, enabled=precision is not None):
                    terms = model.loss(x, clean, generator)
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt.step()
                sched.step()
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
