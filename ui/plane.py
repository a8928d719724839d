"""The 2-D latent plane as a picture one can click: latent (z1, z2) <-> image pixel, and its drawing.

No Streamlit here (``ui/touch.py`` shows it): the mapping is tested on its own, round trip, and
against the drawing itself (a marker drawn at ``z`` lies at ``to_pixel(z)``).

Pixel coordinates are continuous, as a browser reports a click (``offsetX``: CSS pixels from the
image's left edge): pixel column ``i`` covers ``[i, i + 1)``. The plot area's edges are pixel
edges, so ``left`` is z1's minimum and ``left + plot_width`` its maximum; z2 grows upwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .figures import COLORS

INK = (40, 40, 40)
MARKER = (0, 0, 0)


@dataclass(frozen=True)
class Plane:
    """A rectangle of a 2-D latent space drawn in a ``width`` x ``height`` image.

    ``z1`` and ``z2`` are (min, max) of each axis; the margins hold ticks (left, bottom) and the
    class legend (right).
    """

    z1: tuple[float, float]
    z2: tuple[float, float]
    width: int = 600
    height: int = 480
    left: int = 64
    top: int = 12
    right: int = 118
    bottom: int = 50

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    def to_pixel(self, z) -> tuple[float, float]:
        """Latent point (z1, z2) -> image pixel (x, y), continuous."""
        (a, b), (c, d) = self.z1, self.z2
        x = self.left + (float(z[0]) - a) / (b - a) * self.plot_width
        y = self.top + (d - float(z[1])) / (d - c) * self.plot_height
        return x, y

    def to_latent(self, x: float, y: float) -> np.ndarray | None:
        """Image pixel (x, y) -> latent point (2,) float64; None outside the plot area."""
        u = (x - self.left) / self.plot_width
        v = (y - self.top) / self.plot_height
        if not (0 <= u <= 1 and 0 <= v <= 1):
            return None
        (a, b), (c, d) = self.z1, self.z2
        # clipped: rounding must not step past an end (a slider set to it would refuse the value)
        return np.array([min(max(a + u * (b - a), a), b), min(max(d - v * (d - c), c), d)])

    def from_click(self, click: dict) -> np.ndarray | None:
        """A click as ``streamlit_image_coordinates`` reports it ({x, y, width, height}: the point
        and the image's size as shown, in CSS pixels) -> latent point, or None (a margin)."""
        scale_x, scale_y = self.width / click["width"], self.height / click["height"]
        return self.to_latent(click["x"] * scale_x, click["y"] * scale_y)


def extent(codes: np.ndarray, pad: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per dimension of ``codes`` (N, d), widened by ``pad`` of the range each side:
    the decoder playground's slider ranges and the plane's axes, so room for the holes around the
    data."""
    lo, hi = codes.min(0), codes.max(0)
    span = np.maximum(hi - lo, 1e-6) * pad
    return lo - span, hi + span


def plane_for(codes: np.ndarray, pad: float = 0.5) -> Plane:
    """The plane over the first two dimensions of :func:`extent`."""
    lo, hi = extent(codes, pad)
    return Plane((float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])))


def ticks(lo: float, hi: float, target: int = 5) -> np.ndarray:
    """Round tick values inside [lo, hi], about ``target`` of them (steps 1, 2 or 5 x 10^k)."""
    raw = (hi - lo) / target
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def draw(plane: Plane, codes: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...],
         radius: int = 2, alpha: int = 110) -> Image.Image:
    """The plane with ``codes`` (N, 2) as dots coloured by ``labels``, axes, ticks and a legend.

    Returns an RGB image of ``plane.width`` x ``plane.height``; draw the chosen point on it with
    :func:`with_marker` (the dots are the costly part: keep this image, mark copies).
    """
    im = Image.new("RGB", (plane.width, plane.height), "white")
    pen = ImageDraw.Draw(im, "RGBA")  # RGBA: dots blend, dense clusters look dense
    x0, y0 = plane.left, plane.top
    x1, y1 = plane.left + plane.plot_width, plane.top + plane.plot_height
    small, large = _font(13), _font(15)
    for t in ticks(*plane.z1):
        x = plane.to_pixel((t, plane.z2[0]))[0]
        pen.line([(x, y0), (x, y1)], fill=(232, 232, 232))
        pen.text((x, y1 + 4), f"{t:g}", fill=INK, font=small, anchor="mt")
    for t in ticks(*plane.z2):
        y = plane.to_pixel((plane.z1[0], t))[1]
        pen.line([(x0, y), (x1, y)], fill=(232, 232, 232))
        pen.text((x0 - 5, y), f"{t:g}", fill=INK, font=small, anchor="rm")
    pen.text(((x0 + x1) / 2, plane.height - 4), "z1", fill=INK, font=large, anchor="mb")
    pen.text((4, (y0 + y1) / 2), "z2", fill=INK, font=large, anchor="lm")
    xy = np.array([plane.to_pixel(z) for z in codes]) if len(codes) else np.zeros((0, 2))
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    for (x, y), c in zip(xy[inside], np.asarray(labels)[inside]):
        pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(*_rgb(COLORS[c % 10]), alpha))
    pen.rectangle([x0, y0, x1, y1], outline=INK)
    for c, name in enumerate(class_names):
        y = y0 + 10 + 22 * c
        pen.ellipse([x1 + 12, y - 5, x1 + 22, y + 5], fill=_rgb(COLORS[c % 10]))
        pen.text((x1 + 28, y), name[:11], fill=INK, font=small, anchor="lm")
    return im


def star(x: float, y: float, r: float) -> list[tuple[float, float]]:
    """A five-pointed star's outline centred on (x, y), outer radius ``r``."""
    return [(x + (r if k % 2 == 0 else r * 0.45) * math.sin(k * math.pi / 5),
             y - (r if k % 2 == 0 else r * 0.45) * math.cos(k * math.pi / 5)) for k in range(10)]


def with_marker(base: Image.Image, plane: Plane, z) -> Image.Image:
    """A copy of ``base`` with a star at latent point ``z`` (the decoded point)."""
    im = base.copy()
    x, y = plane.to_pixel(z)
    ImageDraw.Draw(im).polygon(star(x, y, 13), fill=MARKER, outline=(255, 255, 255), width=2)
    return im


# -- the latent grid (apcore.explore.latent_grid), clicked cell by cell ----------------------------

def grid_axis(n: int, span: float | None = None) -> np.ndarray:
    """The values each axis of ``apcore.explore.latent_grid(model, n, span)`` takes: the prior's
    5 %-95 % quantiles for a VAE (``span`` None), else ``linspace(-span, span, n)``."""
    from scipy.stats import norm

    return norm.ppf(np.linspace(0.05, 0.95, n)) if span is None else np.linspace(-span, span, n)


def grid_cell(click: dict, n: int) -> tuple[int, int]:
    """(row, column) of an n x n montage that a click ({x, y, width, height}) fell in."""
    col = min(n - 1, max(0, int(click["x"] * n // click["width"])))
    row = min(n - 1, max(0, int(click["y"] * n // click["height"])))
    return row, col


def grid_z(row: int, col: int, n: int, span: float | None = None) -> np.ndarray:
    """Latent point (2,) of cell (row, col) of ``latent_grid``: z1 grows along a row, z2 falls
    down the rows."""
    axis = grid_axis(n, span)
    return np.array([axis[col], axis[::-1][row]])
