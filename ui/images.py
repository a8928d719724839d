"""Digit images for the screen: one montage per grid (cheaper than many small images)."""

from __future__ import annotations

import base64
import io

import numpy as np
import streamlit as st
import torch
from PIL import Image

from apcore.data import to_float

UPSCALE = 4  # 28 px -> 112 px per digit, nearest neighbour: crisp pixels on a projector


def montage(images: torch.Tensor, nrow: int = 10, padding: int = 2, upscale: int = UPSCALE) -> np.ndarray:
    """N digits (uint8 as in the data set, or floats in [0, 1]) -> one (H, W) uint8 grid, white
    separators, float pixels clamped to [0, 1]."""
    images = to_float(images.detach().cpu()).clamp(0, 1).reshape(-1, 28, 28)
    grid = _grid(images, nrow, padding)
    if upscale > 1:
        grid = grid.repeat_interleave(upscale, 0).repeat_interleave(upscale, 1)
    return (grid.numpy() * 255).round().astype(np.uint8)


def _grid(images: torch.Tensor, nrow: int, padding: int) -> torch.Tensor:
    """(N, h, w) -> one (H, W) picture, ``nrow`` per row, ``padding`` white pixels around each cell:
    what torchvision's ``make_grid(..., pad_value=1)`` draws for one channel, without importing
    torchvision (it pulls in ``torch._dynamo``: 1.5-5 s on a page's first visit)."""
    n, h, w = images.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = torch.ones(rows * (h + padding) + padding, cols * (w + padding) + padding)
    for i, image in enumerate(images):
        top, left = (i // cols) * (h + padding) + padding, (i % cols) * (w + padding) + padding
        grid[top:top + h, left:left + w] = image
    return grid


def show_rows(rows: dict[str, torch.Tensor], nrow: int | None = None, width: int | str = "stretch") -> None:
    """Labelled rows of digits (uint8 or float), e.g. {"Original": x, "Reconstruction": y}, same length each."""
    for label, images in rows.items():
        st.markdown(f"**{label}**")
        st.image(montage(images, nrow=nrow or len(images)), width=width)


def show_digit(image: torch.Tensor, caption: str | None = None, width: int = 160) -> None:
    """One digit (1, 28, 28) or (28, 28), uint8 or float, upscaled."""
    st.image(montage(image, nrow=1, padding=0, upscale=8), caption=caption, width=width)


def data_uri(grid: np.ndarray) -> str:
    """A montage (H, W) uint8 as a PNG ``data:`` address, for an ``<img>`` inside one HTML element
    (``st.html``) where many ``st.image`` elements would each cost the page's first drawing."""
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
