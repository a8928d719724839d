"""Transposed convolution step by step, as the lecture's slides draw it.

Each input value scales the whole kernel, and the scaled kernel is added into the output at
``(i * stride, j * stride)`` (kernel taps ``dilation`` apart). Summing every contribution gives the
*full* output; ``padding`` then crops that many rows and columns from each border, and
``output_padding`` adds rows and columns at the bottom and right. The result equals
``torch.nn.functional.conv_transpose2d`` (``tests/test_tconv.py`` checks it as an oracle), and equally
an ordinary convolution of the zero-inserted, padded input with the flipped kernel
(Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning", section 4).

Single channel, 2-D, no bias: what the slides show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

MAX_INPUT = (8, 8)    # a readable grid on a projector
MAX_KERNEL = (5, 5)
MAX_ABS_VALUE = 1e6   # larger numbers do not fit in a cell


class TConvInputError(ValueError):
    """Invalid grid or settings; the message is written for the person using the page."""


@dataclass(frozen=True)
class Step:
    """One input position's contribution.

    ``scaled`` (kh, kw) is ``value * kernel``; kernel tap (a, b) lands on full-output cell
    ``(rows[a], cols[b])``, with ``rows = i * stride + a * dilation`` (likewise ``cols``).
    """

    i: int
    j: int
    value: float
    scaled: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    def placed(self, full_shape: tuple[int, int]) -> np.ndarray:
        """The contribution as a grid of ``full_shape`` (zeros elsewhere): one partial grid of the slides."""
        grid = np.zeros(full_shape)
        grid[np.ix_(self.rows, self.cols)] = self.scaled
        return grid


def output_size(n_in: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0,
                dilation: int = 1) -> int:
    """out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1 (PyTorch's formula)."""
    return (n_in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def full_size(n_in: int, kernel: int, stride: int = 1, output_padding: int = 0, dilation: int = 1) -> int:
    """Size before cropping: every contribution fits, plus ``output_padding`` zero rows at the end."""
    return output_size(n_in, kernel, stride, 0, output_padding, dilation)


def check_settings(in_shape: tuple[int, int], kernel_shape: tuple[int, int], stride: int = 1, padding: int = 0,
                   output_padding: int = 0, dilation: int = 1) -> tuple[int, int]:
    """Raise :class:`TConvInputError` where PyTorch would refuse; return the output shape."""
    for name, value, low in (("Stride", stride, 1), ("Dilation", dilation, 1), ("Padding", padding, 0),
                             ("Output padding", output_padding, 0)):
        if int(value) != value or value < low:
            raise TConvInputError(f"{name} must be a whole number of at least {low} (got {value}).")
    if not (output_padding < stride or output_padding < dilation):
        raise TConvInputError(
            f"Output padding ({output_padding}) must be smaller than the stride ({stride}) or the dilation "
            f"({dilation}): PyTorch's rule, since a larger one would add rows no input can reach.")
    shape = tuple(output_size(n, k, stride, padding, output_padding, dilation) for n, k in zip(in_shape, kernel_shape))
    if min(shape) < 1:
        h, w = shape
        raise TConvInputError(
            f"These settings give an empty output ({h} x {w}): padding {padding} crops more than the "
            f"{full_size(in_shape[0], kernel_shape[0], stride, output_padding, dilation)} x "
            f"{full_size(in_shape[1], kernel_shape[1], stride, output_padding, dilation)} full output holds. "
            "Lower the padding or use a larger input, kernel or stride.")
    return shape


def transposed_conv_steps(x, kernel, stride: int = 1, padding: int = 0, output_padding: int = 0,
                          dilation: int = 1) -> tuple[list[Step], np.ndarray]:
    """Transposed convolution as a list of scaled-kernel contributions.

    Parameters
    ----------
    x : array-like of shape (h, w)
    kernel : array-like of shape (kh, kw)
    stride, padding, output_padding, dilation : int, as in ``torch.nn.ConvTranspose2d``

    Returns
    -------
    steps : list of Step, one per input position in row-major order
    output : ndarray of shape (out_h, out_w), the full output cropped by ``padding``;
        equals ``F.conv_transpose2d(x[None, None], kernel[None, None], ...)[0, 0]``.
    """
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    if x.ndim != 2 or kernel.ndim != 2 or x.size == 0 or kernel.size == 0:
        raise TConvInputError("The input and the kernel must be non-empty 2-D grids.")
    check_settings(x.shape, kernel.shape, stride, padding, output_padding, dilation)
    (h, w), (kh, kw) = x.shape, kernel.shape
    full = np.zeros((full_size(h, kh, stride, output_padding, dilation),
                     full_size(w, kw, stride, output_padding, dilation)))
    steps = []
    for i in range(h):
        for j in range(w):
            step = Step(i, j, float(x[i, j]), x[i, j] * kernel,
                        i * stride + dilation * np.arange(kh), j * stride + dilation * np.arange(kw))
            full[np.ix_(step.rows, step.cols)] += step.scaled
            steps.append(step)
    return steps, crop(full, padding)


def crop(full: np.ndarray, padding: int) -> np.ndarray:
    """Remove ``padding`` rows and columns from every border."""
    h, w = full.shape
    return full[padding:h - padding, padding:w - padding]


def overlap_counts(in_shape: tuple[int, int], kernel_shape: tuple[int, int], stride: int = 1, padding: int = 0,
                   output_padding: int = 0, dilation: int = 1) -> np.ndarray:
    """How many (input, kernel tap) pairs add into each output cell: (out_h, out_w) ints.

    Kernel 3 / stride 2 gives the checkerboard 1-2-1-2 pattern (uneven overlap, Odena et al. 2016,
    "Deconvolution and checkerboard artifacts"); kernel 4 / stride 2 covers the interior evenly.
    """
    _, counts = transposed_conv_steps(np.ones(in_shape), np.ones(kernel_shape), stride, padding,
                                      output_padding, dilation)
    return counts.round().astype(int)


@dataclass(frozen=True)
class Equivalent:
    """The same output as an ordinary (stride-1) convolution.

    ``grid`` is the input with ``stride - 1`` zeros inserted between neighbours, then ``border``
    zeros around it (``dilation * (kernel - 1) - padding`` per side, plus ``output_padding`` at the
    bottom and right; a negative amount crops that side instead). ``kind`` marks each cell of ``grid``:
    0 = an input value, 1 = an inserted zero, 2 = border padding. ``flipped`` is the kernel turned
    by 180 degrees, its taps ``dilation`` apart.
    """

    grid: np.ndarray
    kind: np.ndarray
    flipped: np.ndarray
    border: tuple[int, int]
    output: np.ndarray


def equivalent_convolution(x, kernel, stride: int = 1, padding: int = 0, output_padding: int = 0,
                           dilation: int = 1) -> Equivalent:
    """Build the zero-inserted, padded input and convolve it with the flipped kernel (NumPy, no torch)."""
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    check_settings(x.shape, kernel.shape, stride, padding, output_padding, dilation)
    (h, w), (kh, kw) = x.shape, kernel.shape
    inserted = np.zeros(((h - 1) * stride + 1, (w - 1) * stride + 1))
    inserted[::stride, ::stride] = x
    kind = np.ones(inserted.shape, dtype=int)
    kind[::stride, ::stride] = 0
    border = (dilation * (kh - 1) - padding, dilation * (kw - 1) - padding)
    grid, kind = _pad(inserted, border, output_padding, 0.0), _pad(kind, border, output_padding, 2)
    flipped = kernel[::-1, ::-1]
    span_h, span_w = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    out = np.zeros((grid.shape[0] - span_h + 1, grid.shape[1] - span_w + 1))
    for a in range(kh):
        for b in range(kw):
            r, c = a * dilation, b * dilation
            out += flipped[a, b] * grid[r:r + out.shape[0], c:c + out.shape[1]]
    return Equivalent(grid, kind, flipped, border, out)


def _pad(a: np.ndarray, border: tuple[int, int], extra: int, fill) -> np.ndarray:
    """Pad ``border`` per side, ``extra`` more at the bottom and right; a negative amount crops that side."""
    (bh, bw), (h, w) = border, a.shape
    top, bottom, left, right = bh, bh + extra, bw, bw + extra
    src = a[max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    out = np.full((h + top + bottom, w + left + right), fill, dtype=a.dtype)
    out[max(top, 0):max(top, 0) + src.shape[0], max(left, 0):max(left, 0) + src.shape[1]] = src
    return out


def torch_reference(x, kernel, stride: int = 1, padding: int = 0, output_padding: int = 0,
                    dilation: int = 1) -> np.ndarray:
    """The same computation by a ``torch.nn.ConvTranspose2d`` layer whose weight is ``kernel``."""
    kernel = torch.as_tensor(np.asarray(kernel, dtype=np.float64))
    layer = nn.ConvTranspose2d(1, 1, tuple(kernel.shape), stride=stride, padding=padding,
                               output_padding=output_padding, dilation=dilation, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(kernel[None, None])   # weight: (in_channels, out_channels, kh, kw)
        return layer(torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None])[0, 0].numpy()


def parse_grid(cells, name: str = "input", max_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Rows of cells (numbers or text as typed, e.g. from a grid editor) -> float (h, w) array.

    Raises :class:`TConvInputError` naming the first bad cell (1-based row and column), for an
    empty or ragged grid, and for a grid larger than ``max_shape``.
    """
    rows = [list(r) for r in (cells.tolist() if isinstance(cells, np.ndarray) else cells)]
    if not rows or not rows[0]:
        raise TConvInputError(f"The {name} grid is empty: it needs at least one row and one column.")
    if any(len(r) != len(rows[0]) for r in rows):
        raise TConvInputError(f"The {name} grid is not rectangular: every row needs the same number of cells.")
    if max_shape and (len(rows) > max_shape[0] or len(rows[0]) > max_shape[1]):
        raise TConvInputError(f"The {name} grid is {len(rows)} x {len(rows[0])}; at most "
                              f"{max_shape[0]} x {max_shape[1]} fits on the page.")
    out = np.zeros((len(rows), len(rows[0])))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            out[r, c] = _number(cell, f"{name.capitalize()} cell (row {r + 1}, column {c + 1})")
    return out


def _number(cell, where: str) -> float:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        raise TConvInputError(f"{where} is empty: type a number.")
    try:
        value = float(cell.strip().replace("\u2212", "-") if isinstance(cell, str) else cell)
    except (TypeError, ValueError):
        raise TConvInputError(f"{where} is '{cell}': not a number. Type a number such as 2 or -0.5.") from None
    if math.isnan(value):
        raise TConvInputError(f"{where} is empty: type a number.")
    if not abs(value) <= MAX_ABS_VALUE:
        raise TConvInputError(f"{where} is {cell}: use numbers between -{MAX_ABS_VALUE:g} and {MAX_ABS_VALUE:g}.")
    return value


@dataclass(frozen=True)
class Explanation:
    """Everything the page draws for one setting (see :func:`explain`)."""

    x: np.ndarray
    kernel: np.ndarray
    stride: int
    padding: int
    output_padding: int
    dilation: int
    steps: list[Step]
    full: np.ndarray            # (full_h, full_w) before cropping
    output: np.ndarray          # (out_h, out_w)
    overlap: np.ndarray         # (out_h, out_w) contributions per output cell
    equivalent: Equivalent
    torch_output: np.ndarray
    max_difference: float       # |ours - torch|, max over cells

    @property
    def full_shape(self) -> tuple[int, int]:
        return self.full.shape

    def running_full(self, upto: int) -> np.ndarray:
        """Full output after the first ``upto`` steps (0 = all zeros)."""
        return _accumulate(self.steps[:upto], self.full.shape)


def _accumulate(steps: list[Step], shape: tuple[int, int]) -> np.ndarray:
    grid = np.zeros(shape)
    for step in steps:
        grid[np.ix_(step.rows, step.cols)] += step.scaled
    return grid


def explain(x_cells, kernel_cells, stride: int = 1, padding: int = 0, output_padding: int = 0,
            dilation: int = 1) -> Explanation:
    """Parse and check the two grids (typed cells allowed), then compute every view of the page."""
    x = parse_grid(x_cells, "input", MAX_INPUT)
    kernel = parse_grid(kernel_cells, "kernel", MAX_KERNEL)
    steps, output = transposed_conv_steps(x, kernel, stride, padding, output_padding, dilation)
    full = _accumulate(steps, (full_size(x.shape[0], kernel.shape[0], stride, output_padding, dilation),
                               full_size(x.shape[1], kernel.shape[1], stride, output_padding, dilation)))
    reference = torch_reference(x, kernel, stride, padding, output_padding, dilation)
    return Explanation(
        x, kernel, stride, padding, output_padding, dilation, steps, full, output,
        overlap_counts(x.shape, kernel.shape, stride, padding, output_padding, dilation),
        equivalent_convolution(x, kernel, stride, padding, output_padding, dilation),
        reference, float(np.abs(reference - output).max()))


def decoder_transposed_layers(model: nn.Module, latent_dim: int | None = None) -> list[dict]:
    """The ``ConvTranspose2d`` layers of ``model.decoder`` with their settings and shapes.

    Shapes come from one forward pass of a zeros code (1, latent_dim) with forward hooks; nothing
    is trained. Each row: name, in/out channels, kernel, stride, padding, output padding, dilation,
    input and output shapes (C, H, W).
    """
    latent_dim = latent_dim or model.latent_dim
    rows, hooks = [], []

    def record(name):
        def hook(module, inputs, output):
            rows.append({
                "layer": name, "in_channels": module.in_channels, "out_channels": module.out_channels,
                "kernel": module.kernel_size[0], "stride": module.stride[0], "padding": module.padding[0],
                "output_padding": module.output_padding[0], "dilation": module.dilation[0],
                "input_shape": tuple(inputs[0].shape[1:]), "output_shape": tuple(output.shape[1:])})
        return hook

    for name, module in model.decoder.named_modules():
        if isinstance(module, nn.ConvTranspose2d):
            hooks.append(module.register_forward_hook(record(f"decoder.{name}")))
    try:
        with torch.no_grad():
            model.decoder(torch.zeros(1, latent_dim))
    finally:
        for h in hooks:
            h.remove()
    return rows


__all__ = ["TConvInputError", "Step", "Equivalent", "Explanation", "MAX_INPUT", "MAX_KERNEL",
           "output_size", "full_size", "check_settings", "transposed_conv_steps", "crop", "overlap_counts",
           "equivalent_convolution", "torch_reference", "parse_grid", "explain", "decoder_transposed_layers"]
