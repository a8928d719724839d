"""Turn an uploaded photo or drawing of a digit into an MNIST-style 28x28 image.

MNIST's own recipe (LeCun et al., the MNIST page): the digit is size-normalised to fit a 20x20
box keeping its aspect ratio (anti-aliasing gives grey levels), then centred in a 28x28 field by
its centre of mass. MNIST digits are light ink on a black background, so a dark-on-light upload is
inverted first. Everything here is numpy and PIL; every refusal is a :class:`DigitizeError` whose
message can be shown to a user as it is.
"""

from __future__ import annotations

import io
import logging
import math
import re

import numpy as np
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

# The formats an upload may be, by Pillow's name, with their file extensions: the uploader's
# ``type=`` list is built from this (one place). A JPEG from a camera that stores a second
# picture after the first (many phones) opens as format "MPO", the JPEG it starts with.
FORMATS = {"PNG": ("png",), "JPEG": ("jpg", "jpeg"), "GIF": ("gif",), "BMP": ("bmp",),
           "TIFF": ("tif", "tiff"), "WEBP": ("webp",)}
EXTENSIONS = tuple(ext for exts in FORMATS.values() for ext in exts)
FORMAT_NAMES = "PNG, JPEG, GIF, BMP, TIFF or WebP"
# File signatures of those formats: a file that starts like one but cannot be read is damaged,
# not "not an image".
SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\0", b"MM\0*", b"RIFF")

MAX_BYTES = 10 * 2**20        # the upload itself (the server's own limit, server.maxUploadSize, is lower)
# Decoded size limit, checked on the header before any pixel is decoded: a 5 MB PNG can unpack to
# gigabytes ("decompression bomb"). Pillow stores at most 4 bytes a pixel; with the one working
# copy made before reduction, an upload peaks at ~8 bytes a pixel: 130 MB at the limit (measured,
# tests/test_digitize.py). JPEGs are decoded scaled down (below), so their limit is higher and
# fits phone photos; a progressive JPEG still buffers ~3 bytes a pixel (150 MB at the limit).
MAX_PIXELS = 16_000_000
MAX_JPEG_PIXELS = 50_000_000
WORK_SIDE = 1024              # decoded images are box-reduced to at most this side before numpy
MIN_SIDE = 8                  # below this there is no digit to see
BOX, SIZE = 20, 28            # MNIST: fit in 20x20, centre of mass in the middle of 28x28
INK = 0.15                    # fraction of the ink range below which a pixel counts as background
MIN_CONTRAST = 0.08           # range of grey levels (0-1) below which the image is blank

# EXIF orientation (tag 0x0112) -> the transpose that makes the picture upright, as
# PIL.ImageOps.exif_transpose does; applied after reduction, which drops the EXIF block.
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


class DigitizeError(ValueError):
    """An upload that cannot become a digit; the message says why, in a user's words."""


def read_grey(blob: bytes) -> tuple[np.ndarray, list[str]]:
    """Decode an uploaded image into grey levels in [0, 1] (full scale of its bit depth is 1.0).

    Returns an (H, W) float array, at most ``WORK_SIDE`` on a side, and notes on what was
    converted (mode, transparency, frames, orientation) for the user. Memory stays bounded: the
    size is checked on the header, before decoding.
    """
    if not blob:
        raise DigitizeError("The file is empty (0 bytes); please choose the picture again.")
    if len(blob) > MAX_BYTES:
        raise DigitizeError(f"The file is {len(blob) / 2**20:.1f} MB, over the limit of {MAX_BYTES // 2**20} MB.")
    # No warnings.catch_warnings() here: it is not thread-safe, and Streamlit runs sessions in
    # threads. Pillow's own DecompressionBombWarning (over Image.MAX_IMAGE_PIXELS) only logs; the
    # MAX_PIXELS check below refuses those images anyway, and Pillow raises above twice its limit.
    try:
        # Only our formats' parsers ever see the bytes; other files are "not an image".
        im = Image.open(io.BytesIO(blob), formats=list(FORMATS))
    except UnidentifiedImageError:
        raise DigitizeError(_unidentified(blob)) from None
    except Image.DecompressionBombError as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels.group(1)) / 1e6:.0f} megapixels" if pixels else "too many pixels"
        limit = MAX_JPEG_PIXELS if blob.startswith(b"\xff\xd8") else MAX_PIXELS
        raise DigitizeError(f"The image would unpack to {size}, too large: the limit is "
                            f"{limit // 10**6} megapixels.") from None
    except Exception as exc:  # a header Pillow trips over: damaged
        raise DigitizeError(_damaged(exc)) from None
    with im:
        jpeg = im.format in ("JPEG", "MPO")
        w, h = im.size
        limit = MAX_JPEG_PIXELS if jpeg else MAX_PIXELS
        if w * h > limit:
            raise DigitizeError(f"The image is {w}x{h} pixels ({w * h / 1e6:.0f} megapixels), too large: "
                                f"the limit is {limit // 10**6} megapixels.")
        if min(w, h) < MIN_SIDE:
            raise DigitizeError(f"The image is only {w}x{h} pixels; a digit needs at least {MIN_SIDE}x{MIN_SIDE}.")
        try:
            if jpeg:
                # DCT scaling: libjpeg decodes at 1/2, 1/4 or 1/8 size directly, so a phone
                # photo never exists at full size in memory.
                im.draft("L", (WORK_SIDE, WORK_SIDE))
            animated = getattr(im, "is_animated", False)
            im.load()  # the first frame only
            grey, notes = _grey(im)
        except DigitizeError:
            raise
        except MemoryError:
            raise DigitizeError("The image is too large to decode on this server; please upload a smaller picture.") from None
        except Exception as exc:  # truncated or damaged data; Pillow raises many kinds
            raise DigitizeError(_damaged(exc)) from None
        orientation = _orientation(im)
    if animated:
        notes.insert(0, "animated or multi-page image: its first frame is used")
    if orientation in _UPRIGHT:
        grey = np.asarray(Image.fromarray(grey).transpose(_UPRIGHT[orientation]))
        notes.append("turned upright as the camera recorded")
    return grey.astype(np.float64), notes


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # a photo with a broken EXIF block is still a photo
        return 1


def _unidentified(blob: bytes) -> str:
    head = blob[:4096]
    if head.startswith(SIGNATURES):
        return "The image file is damaged: it is cut short or corrupt, so it cannot be decoded; please save it again."
    if b"<svg" in head:
        return "This is an SVG drawing, which cannot be read here; please export it as a PNG."
    if _is_text(head):
        return f"This file is text, not an image; please upload a picture of a digit as a {FORMAT_NAMES} file."
    return f"This file is not an image that can be read; please upload a {FORMAT_NAMES} file."


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut in two at the end
            return False
    return b"\0" not in head


def _damaged(exc: Exception) -> str:
    logger.info("undecodable upload: %r", exc)
    if "truncat" in str(exc).lower() or isinstance(exc, EOFError):
        return "The image file is damaged: it is cut short (truncated), so it cannot be decoded; please save it again."
    return "The image file is damaged or corrupt, so it cannot be decoded; please save it again."


def _reduce(im: Image.Image) -> Image.Image:
    """Box-average down to at most WORK_SIDE on a side (the digit ends up 20x20 anyway)."""
    factor = math.ceil(max(im.size) / WORK_SIDE)
    return im.reduce(factor) if factor > 1 else im


def _grey(im: Image.Image) -> tuple[np.ndarray, list[str]]:
    """A loaded image -> (H, W) float32 grey in [0, 1], reduced to WORK_SIDE, and notes."""
    notes = []
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # High bit depth. Pillow's convert("L") clips 16-bit values at 255 (garbage); go through
        # float instead: 16-bit full scale (65535) is 1.0. "I" within 0-65535 is 16-bit data too
        # (older Pillow read 16-bit PNGs as "I"); other ranges are scaled to their own.
        g = np.asarray(_reduce(im.convert("F")), np.float32)
        lo, hi = float(g.min()), float(g.max())
        if im.mode != "F" and lo >= 0 and hi <= 65535:
            return g / 65535, ["16-bit grey image scaled to 0-1 (65535 is white)"]
        if lo >= 0 and hi <= 1:
            return g, notes
        return (g - lo) / max(hi - lo, 1e-12), [f"{im.mode}-mode image scaled to its own range"]
    if im.mode in ("P", "PA"):
        notes.append("palette image converted to grey")
    transparent = im.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in im.info
    if transparent:
        # Pillow reduces LA/RGBA with premultiplied alpha, so a half-covered pixel keeps its ink.
        small = _reduce(im if im.mode in ("LA", "RGBA") else im.convert("RGBA"))
        grey = np.asarray(small.convert("L"), np.float32) / 255
        alpha = np.asarray(small.getchannel("A"), np.float32) / 255
        if alpha.min() < 0.98:
            # Transparent parts are background. Compose on white (dark strokes on a transparent
            # canvas); if the ink was light (a white digit on a transparent canvas) that leaves
            # nothing, so compose on black instead: whichever shows the larger contrast.
            on_white, on_black = grey * alpha + (1 - alpha), grey * alpha
            notes.append("transparent background filled")
            return on_white if np.ptp(on_white) >= np.ptp(on_black) else on_black, notes
        return grey, notes
    if im.mode not in ("L", "1", "P"):
        notes.append(f"{im.mode} colour image converted to grey")
        try:
            im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV... (Pillow honours Adobe CMYK JPEGs)
        except ValueError:
            raise DigitizeError(f"The image's colour format ({im.mode}) cannot be read; "
                                "please save it as PNG or JPEG.") from None
    return np.asarray(_reduce(im.convert("L")), np.float32) / 255, notes


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

    Raises :class:`DigitizeError` (a ``ValueError``) with a one-sentence message for a user for
    anything that is not a usable image of a digit in one of ``FORMATS``: empty, not an image,
    damaged or truncated, too large (refused from its header), too small, blank.
    """
    grey, notes = read_grey(blob)
    digit, inverted = to_mnist(grey)
    if inverted:
        notes.append("dark ink on a light background: inverted (MNIST digits are light on black)")
    return digit, notes
