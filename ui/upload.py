""""Try your own image": one upload widget shared by the pages that run a digit through a model."""

from __future__ import annotations

import streamlit as st
import torch

from apcore.digitize import DigitizeError, digitize


def uploaded_digit(key: str, label: str = "Upload a photo or drawing of a digit (PNG or JPEG)") -> torch.Tensor | None:
    """A file uploader; the upload converted as MNIST digits were made, (1, 1, 28, 28) float in
    [0, 1], or None (nothing uploaded, or a bad file: then a message says why)."""
    file = st.file_uploader(label, type=["png", "jpg", "jpeg"], key=key,
                            help="Any size up to the upload limit; it is turned grey, inverted if the ink is dark, cropped, scaled to "
                                 "fit 20x20 and centred by mass in 28x28, as MNIST was made.")
    if file is None:
        return None
    try:
        digit, notes = digitize(file.getvalue())
    except DigitizeError as exc:
        st.error(f"Cannot use **{file.name}**: {exc}")
        return None
    if notes:
        st.caption("Converted: " + "; ".join(notes) + ".")
    return torch.from_numpy(digit).reshape(1, 1, 28, 28)
