""""Try your own image": one upload widget shared by the pages that run a digit through a model."""

from __future__ import annotations

import logging
import re

import streamlit as st
import torch

from apcore.digitize import EXTENSIONS, FORMAT_NAMES, DigitizeError, digitize

logger = logging.getLogger(__name__)


def shown_name(name: str, limit: int = 60) -> str:
    """A file name safe to put in Markdown: shortened, and Markdown/LaTeX characters escaped
    (a name like ``my_$3$_*.png`` must not turn into maths or bold)."""
    name = name if len(name) <= limit else name[:limit - 1] + "…"
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|$<>~:])", r"\\\1", name)


def uploaded_digit(key: str, label: str = f"Upload a photo or drawing of a digit ({FORMAT_NAMES})") -> torch.Tensor | None:
    """A file uploader; the upload converted as MNIST digits were made, (1, 1, 28, 28) float in
    [0, 1], or None (nothing uploaded, or a bad file: then a message says why)."""
    # The accepted types come from apcore.digitize.EXTENSIONS, the formats digitize reads.
    file = st.file_uploader(label, type=list(EXTENSIONS), key=key,
                            help="Any size up to the upload limit; it is turned grey, inverted if the ink is dark, cropped, scaled to "
                                 "fit 20x20 and centred by mass in 28x28, as MNIST was made. Transparent backgrounds are filled; "
                                 "an animated GIF gives its first frame.")
    if file is None:
        return None
    try:
        digit, notes = digitize(file.getvalue())
    except DigitizeError as exc:
        st.error(f"Cannot use **{shown_name(file.name)}**: {exc}")
        return None
    except Exception:  # a bug, not the student's file: log it, keep the page (no trace on screen)
        logger.exception("digitize failed on an upload")
        st.error(f"Cannot use **{shown_name(file.name)}**: the image could not be converted; please try another picture.")
        return None
    if notes:
        st.caption("Converted: " + "; ".join(notes) + ".")
    return torch.from_numpy(digit).reshape(1, 1, 28, 28)
