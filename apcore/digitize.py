"""Turn an uploaded photo or drawing of a digit into an MNIST-style 28x28 image.

MNIST's own recipe (LeCun et al., the MNIST page): the digit is size-normalised to fit a 20x20
box keeping its aspect ratio (anti-aliasing gives grey levels), then centred in a 28x28 field by
its centre of mass. MNIST digits are light ink on a black background, so a dark-on-light upload is
inverted first. Everything here is numpy and PIL; every refusal is a :class:`DigitizeError` whose
message can be shown to a user as it is.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("PNG", "JPEG")
MAX_BYTES = 10 * 2**20        # the upload itself
MAX_PIXELS = 40_000_000       # a 10 MB PNG can still unpack to gigabytes ("decompression bomb")
MIN_SIDE = 8                  # below this there is no digit to see
BOX, SIZE = 20, 28            # MNIST: fit in 20x20, centre of mass in the middle of 28x28
INK = 0.15                    # fraction of the ink range below which a pixel counts as background
MIN_CONTRAST = 0.08           # range of grey levels (0-1) below which the image is blank


class DigitizeError(ValueError):
    """An upload that cannot become a digit; the message says why, in a user's words."""


def read_grey(blob: bytes) -> tuple[np.ndarray, list[str]]:
    """Decode a PNG or JPEG into grey levels in [0, 1]: (H, W) float array, and notes on what
    was converted (mode, transparency, orientation) for the user."""
    if not blob:
        raise DigitizeError("The file is empty.")
    if len(blob) > MAX_BYTES:
        raise DigitizeError(f"The file is {len(blob) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(blob))
            if im.format not in FORMATS:
                raise DigitizeError(f"This is a {im.format} image; please upload a PNG or JPEG.")
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise DigitizeError(f"The image is {w}x{h} pixels: too large (limit {MAX_PIXELS // 10**6} megapixels).")
            if min(w, h) < MIN_SIDE:
                raise DigitizeError(f"The image is only {w}x{h} pixels; a digit needs at least {MIN_SIDE}x{MIN_SIDE}.")
            im.load()
            im = ImageOps.exif_transpose(im)
    except DigitizeError:
        raise
    except UnidentifiedImageError:
        raise DigitizeError("This file is not an image that can be read; please upload a PNG or JPEG.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DigitizeError("The image unpacks to too many pixels; please upload a smaller one.") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or damaged file
        raise DigitizeError(f"The image could not be decoded ({exc}); the file may be damaged.") from None
    return _grey(im)


def _grey(im: Image.Image) -> tuple[np.ndarray, list[str]]:
    notes = []
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        notes.append(f"{'16-bit' if im.mode.startswith('I;16') else im.mode + '-mode'} grey image scaled to its own range")
        return np.asarray(im, dtype=np.float64), notes  # scale is irrelevant: to_mnist normalises
    if im.mode == "P" or im.mode == "PA":
        notes.append("palette image converted to grey")
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        alpha = np.asarray(im.getchannel("A"), dtype=np.float64) / 255
        grey = np.asarray(im.convert("L"), dtype=np.float64) / 255
        if alpha.min() < 0.98:
            # Transparent parts are background. Compose on white; if the ink was light (a white
            # digit on a transparent canvas) that leaves nothing, so compose on black instead.
            on_white = grey * alpha + (1 - alpha)
            on_black = grey * alpha
            grey = on_white if np.ptp(on_white) >= np.ptp(on_black) else on_black
            notes.append("transparent background filled")
        return grey, notes
    if im.mode not in ("L", "1"):
        notes.append(f"{im.mode} colour image converted to grey")
    return np.asarray(im.convert("L"), dtype=np.float64) / 255, notes


def to_mnist(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """Grey image (H, W), any scale -> MNIST-style digit (28, 28) float32 in [0, 1].

    Returns the digit and whether the input was inverted (dark ink on a light background, decided
    by the border, which is background in any reasonable photo of one digit).
    """
    g = np.asarray(grey, dtype=np.float64)
    lo, hi = float(g.min()), float(g.max())
    if hi - lo <= 0:
        raise DigitizeError("The image is blank: every pixel has the same value.")
    g = (g - lo) / (hi - lo)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    inverted = bool(np.median(border) > 0.5)
    if inverted:
        g = 1 - g
    background = float(np.median(border if not inverted else 1 - border))
    ink = np.clip((g - background) / max(1e-9, 1 - background), 0, 1)
    ink[ink < INK] = 0
    if (hi - lo) * ink.max() < MIN_CONTRAST or not ink.any():
        raise DigitizeError("The image looks blank: no digit stands out from the background.")
    rows, cols = np.nonzero(ink)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    # Resampling a float image ("F" mode) keeps the anti-aliased grey levels, as in MNIST.
    small = np.asarray(Image.fromarray(crop.astype(np.float32)).resize((new_w, new_h), Image.LANCZOS))
    small = np.clip(small, 0, None)
    small /= max(1e-9, small.max())
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    yy, xx = np.mgrid[:new_h, :new_w]
    mass = small.sum()
    cy, cx = (yy * small).sum() / mass, (xx * small).sum() / mass
    top = int(np.clip(round((SIZE - 1) / 2 - cy), 0, SIZE - new_h))
    left = int(np.clip(round((SIZE - 1) / 2 - cx), 0, SIZE - new_w))
    out[top:top + new_h, left:left + new_w] = small
    return out, inverted


def digitize(blob: bytes) -> tuple[np.ndarray, list[str]]:
    """Uploaded file bytes -> (28, 28) float32 digit in [0, 1] and notes on the conversion.

    Raises :class:`DigitizeError` (a ``ValueError``) with a user-facing message for anything that
    is not a usable PNG/JPEG of a digit: not an image, too large, too small, blank.
    """
    grey, notes = read_grey(blob)
    digit, inverted = to_mnist(grey)
    if inverted:
        notes.append("dark ink on a light background: inverted (MNIST digits are light on black)")
    return digit, notes
