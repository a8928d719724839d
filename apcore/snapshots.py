"""Training snapshots: the model *becoming* what it is, for the pages' training replay.

A training's budget is a few epochs, so one frame per epoch would give 2 to 7 frames. Instead a
:class:`Snapshotter` records about :data:`FRAMES` frames at log-spaced optimiser steps, step 0
(the untrained model) first and the last step last: early training changes the model fastest.
Each frame holds

- the reconstructions of the ten fixed test digits (one per class, the pages' row:
  :func:`apcore.explore.first_of_each_class`; a denoiser sees them corrupted with a fixed seed),
- the codes of a fixed sample of :data:`SAMPLE_SIZE` test images (:func:`sample_indices`: the same
  images for every model), whose labels the record keeps,
- the loss terms (``model.loss_terms``) on the first :data:`LOSS_SIZE` of that sample: a test
  loss, the same images and the same sampling noise in every frame.

The trainer knows nothing of this: :func:`apcore.train.fit` calls the snapshotter at the steps it
asks for (:meth:`Snapshotter.steps`). The record (:class:`Snapshots`) is stored float16 in the
checkpoint's ``.pt`` only, under 1 MB: a code longer than :data:`MAX_CODE_DIMS` (a 20-d VAE, the
denoising MLP's 32, ``ae-fconv``'s 8x7x7 = 392 numbers, flattened) is kept as its coordinates on
the :data:`MAX_CODE_DIMS` principal axes of the last frame's codes. The replay's 2-D view is one
PCA fitted on the last frame (:func:`replay_frames`), so it is the same as from the full codes.
Measured cost: ``bench/snapshots.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .config import ModelConfig
from .data import NOISE_SEED, Dataset, corrupt, to_float
from .explore import Pca, first_of_each_class
from .metrics import EVAL_BATCH
from .models import Autoencoder

log = logging.getLogger(__name__)

FRAMES = 12            # snapshots per training, step 0 included
SAMPLE_SIZE = 2000     # test images whose codes each frame keeps
SAMPLE_SEED = 0        # picks them: the same images for every model
LOSS_SIZE = 500        # of those, the first LOSS_SIZE give each frame's loss terms
MAX_CODE_DIMS = 12     # 12 frames x 2,000 codes x 12 dims x 2 bytes = 576 kB; + reconstructions 188 kB
MAX_BYTES = 1_000_000  # a record's size in the checkpoint (tests check the largest default model)


def snapshot_steps(total_steps: int, frames: int = FRAMES) -> list[int]:
    """Step 0 and ``frames - 1`` log-spaced optimiser steps from 1 to ``total_steps`` (fewer when
    there are fewer steps): increasing, the last one ``total_steps``.

    Each step is about the same factor after the one before, at least one more."""
    m = min(frames - 1, total_steps)
    steps, prev = [0], 1
    if m >= 1:
        steps.append(1)
    for i in range(2, m + 1):
        left = m - i + 1                      # points still to place, this one included
        step = round(prev * (total_steps / prev) ** (1 / left))
        step = min(max(step, prev + 1), total_steps - left + 1)
        steps.append(step)
        prev = step
    return steps


def sample_indices(n_test: int, size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> np.ndarray:
    """The fixed test images whose codes every frame keeps: sorted indices (min(size, n_test),)."""
    return np.sort(np.random.default_rng(seed).choice(n_test, min(size, n_test), replace=False))


@dataclass(frozen=True)
class Frame:
    """One snapshot, as it is sent live from a training (``apcore.worker``) and kept on a ``Job``.

    step : optimiser steps done (0: untrained); total_steps : the training's; epoch : step in epochs.
    losses : loss terms per image on the first :data:`LOSS_SIZE` sample images.
    inputs, reconstructions : (10, 1, 28, 28) float16 in [0, 1]: the ten digits as the model sees
        them (corrupted for a denoiser) and their reconstructions.
    labels : (N,) uint8 classes of the sample; codes : (N, code_size) float16, the full codes.
    """

    step: int
    total_steps: int
    epoch: float
    losses: dict[str, float]
    inputs: np.ndarray
    reconstructions: np.ndarray
    labels: np.ndarray
    codes: np.ndarray

    def to_message(self) -> dict:
        """Plain values (NumPy arrays included) to pickle across a socket."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_message(cls, message: dict) -> "Frame":
        return cls(**{name: message[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Snapshots:
    """A training's replay: K frames of one model, as stored with its checkpoint.

    steps : (K,) int64, increasing from 0; epochs : (K,) float32; losses : K dicts of loss terms.
    digits : (10,) test indices of the ten digits; inputs : (10, 1, 28, 28) float16 as the model
        sees them; reconstructions : (K, 10, 1, 28, 28) float16.
    sample : (N,) test indices; labels : (N,) uint8; codes : (K, N, d) float16.
    code_size : the model's code length D. When D > :data:`MAX_CODE_DIMS`, ``codes`` are the
        coordinates on the last frame's d = MAX_CODE_DIMS principal axes, and
        ``codes @ code_axes + code_mean`` approximates the full codes (code_axes (d, D),
        code_mean (D,), float32); otherwise ``codes`` are the codes and both are None.
    """

    steps: np.ndarray
    epochs: np.ndarray
    losses: list[dict[str, float]]
    digits: np.ndarray
    inputs: np.ndarray
    reconstructions: np.ndarray
    sample: np.ndarray
    labels: np.ndarray
    codes: np.ndarray
    code_size: int
    code_mean: np.ndarray | None = None
    code_axes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def compressed(self) -> bool:
        return self.code_axes is not None

    def to_dict(self) -> dict:
        """Tensors and plain values only: what ``torch.load(weights_only=True)`` reads back."""
        out = {"code_size": self.code_size, "losses": [dict(row) for row in self.losses]}
        for name in ("steps", "epochs", "digits", "inputs", "reconstructions", "sample", "labels", "codes",
                     "code_mean", "code_axes"):
            value = getattr(self, name)
            out[name] = None if value is None else torch.from_numpy(np.ascontiguousarray(value))
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Snapshots":
        """The inverse of :meth:`to_dict`; raises ValueError when the shapes do not fit together."""
        arrays = {name: None if d.get(name) is None else d[name].numpy()
                  for name in ("steps", "epochs", "digits", "inputs", "reconstructions", "sample", "labels", "codes",
                               "code_mean", "code_axes")}
        out = cls(losses=[dict(row) for row in d["losses"]], code_size=int(d["code_size"]), **arrays)
        k, n = len(out.steps), len(out.sample)
        ok = (k >= 1 and len(out.epochs) == len(out.losses) == k and out.reconstructions.shape[:2] == (k, len(out.digits))
              and out.codes.shape[:2] == (k, n) and len(out.labels) == n
              and (out.code_axes is None or out.code_axes.shape == (out.codes.shape[2], out.code_size)))
        if not ok:
            raise ValueError("snapshot arrays of inconsistent shapes")
        return out

    def frame(self, i: int) -> Frame:
        """Frame ``i`` (its codes as stored: principal coordinates when :attr:`compressed`)."""
        return Frame(int(self.steps[i]), int(self.steps[-1]), float(self.epochs[i]), self.losses[i], self.inputs,
                     self.reconstructions[i], self.labels, self.codes[i])


class Snapshotter:
    """Records :class:`Frame` s of ``model`` while :func:`apcore.train.fit` trains it.

    Pass it as ``fit(..., on_snapshot=snapshotter)``: the trainer asks :meth:`steps` once and calls
    the snapshotter after each of those optimiser steps (and before the first, step 0). Each call
    runs the model in evaluation mode without gradients, on its own generator, then puts it back in
    training mode: the training itself is unchanged (same weights, same random draws).

    Parameters
    ----------
    model, config, data, device : what is being trained, on which device.
    frames : how many snapshots to aim for.
    on_frame : called with each new :class:`Frame` (a worker sends it to the server).
    """

    def __init__(self, model: Autoencoder, config: ModelConfig, data: Dataset, device: torch.device,
                 frames: int = FRAMES, on_frame: Callable[[Frame], None] | None = None):
        self.model, self.config, self.frames, self.on_frame = model, config, frames, on_frame
        self.digits = first_of_each_class(data.test_labels)
        self.sample = sample_indices(len(data.test_images))
        self.labels = data.test_labels[self.sample].numpy().astype(np.uint8)
        gen = torch.Generator(device=device).manual_seed(NOISE_SEED)
        clean_digits = to_float(data.test_images[self.digits].to(device))
        self._inputs = self._corrupt(clean_digits, gen)
        self._clean = to_float(data.test_images[self.sample].to(device))   # (N, 1, 28, 28)
        self._loss_target = self._clean[:LOSS_SIZE]
        self._loss_input = self._corrupt(self._loss_target, gen)
        self._device = device
        self._recorded: list[Frame] = []
        self._total = 0
        self._per_epoch = 1

    def _corrupt(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        c = self.config
        return corrupt(x, c.noise, c.noise_level, gen) if c.is_denoising else x

    def steps(self, total_steps: int) -> list[int]:
        """The optimiser steps to be called at (0: before the first); the trainer asks once."""
        self._total = total_steps
        self._per_epoch = max(1, total_steps // self.config.epochs)
        self._recorded = []
        return snapshot_steps(total_steps, self.frames)

    @torch.no_grad()
    def __call__(self, step: int) -> None:
        model = self.model
        was_training = model.training
        model.eval()
        try:
            recon = model.reconstruct(self._inputs)
            codes = torch.cat([model.embed(x) for x in self._clean.split(EVAL_BATCH)])
            gen = torch.Generator(device=self._device).manual_seed(NOISE_SEED)  # the same VAE noise each frame
            terms = model.loss_terms(self._loss_input, self._loss_target, gen)
            losses = {k: float(v.mean()) for k, v in terms.items()}
        finally:
            model.train(was_training)
        frame = Frame(step, self._total, step / self._per_epoch, losses,
                      self._inputs.cpu().half().numpy(), recon.cpu().half().numpy(), self.labels,
                      codes.cpu().half().numpy())
        self._recorded.append(frame)
        if self.on_frame is not None:
            self.on_frame(frame)

    def record(self) -> Snapshots | None:
        """The frames so far as a :class:`Snapshots` (codes compressed if long), or None if none."""
        if not self._recorded:
            return None
        frames = self._recorded
        codes = np.stack([f.codes for f in frames])                  # (K, N, D) float16
        k, n, dims = codes.shape
        mean = axes = None
        if dims > MAX_CODE_DIMS:
            pca = Pca.fit(codes[-1], MAX_CODE_DIMS)
            mean, axes = pca.mean, pca.axes
            codes = np.stack([pca.transform(c) for c in codes])
        return Snapshots(
            steps=np.array([f.step for f in frames], dtype=np.int64),
            epochs=np.array([f.epoch for f in frames], dtype=np.float32),
            losses=[f.losses for f in frames],
            digits=np.asarray(self.digits, dtype=np.int64),
            inputs=frames[0].inputs,
            reconstructions=np.stack([f.reconstructions for f in frames]),
            sample=self.sample.astype(np.int64),
            labels=self.labels,
            codes=codes.astype(np.float16),
            code_size=dims,
            code_mean=mean,
            code_axes=axes,
        )


# -- the replay's 2-D view -------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplayView:
    """Every frame's codes on one pair of axes.

    points : (K, N, 2) float32; labels : (N,); x_range, y_range : shared axis ranges (padded);
    axis_titles : ("z1", "z2") for a 2-D code, else ("PC 1", "PC 2") of the last frame's codes.
    """

    points: np.ndarray
    labels: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    axis_titles: tuple[str, str]


def replay_frames(snapshots: Snapshots, pad: float = 0.05) -> ReplayView:
    """The codes of every frame in 2-D, on the same axes for all frames.

    A 2-D code is drawn as it is; a longer one through one PCA (:class:`explore.Pca`) fitted on the last
    frame's codes, so the clusters settle into the places the trained model gives them. The axis
    ranges hold every frame's points (0.1 % trimmed at each end against a few far outliers)."""
    codes = snapshots.codes.astype(np.float32)                       # (K, N, d)
    if codes.shape[2] == 2 and not snapshots.compressed:
        points, titles = codes, ("z1", "z2")
    else:
        pca = Pca.fit(codes[-1], 2)
        points = np.stack([pca.transform(c) for c in codes]).astype(np.float32)
        titles = ("PC 1", "PC 2")
    flat = points.reshape(-1, 2)
    lo, hi = np.percentile(flat, 0.1, axis=0), np.percentile(flat, 99.9, axis=0)
    margin = np.maximum((hi - lo) * pad, 1e-3)
    lo, hi = lo - margin, hi + margin
    return ReplayView(points, snapshots.labels, (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])), titles)


def frame_points(frame: Frame) -> np.ndarray:
    """One (live) frame's codes in 2-D: as they are for a 2-D code, else their own PCA: (N, 2)."""
    codes = frame.codes.astype(np.float32)
    if codes.shape[1] == 2:
        return codes
    return Pca.fit(codes, 2).transform(codes)
