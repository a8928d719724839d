"""Per-model results the pages reuse across reruns (keyed by the model's config key)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from apcore import explore
from apcore.cache import TrainedModel

from .resources import dataset


@st.cache_resource(max_entries=32, show_spinner="Encoding the test set…")
def test_codes(key: str, _trained: TrainedModel) -> np.ndarray:
    """Codes of the 10,000 test images (read-only)."""
    return explore.codes(_trained.model, dataset(_trained.config.dataset))


@st.cache_resource(max_entries=32, show_spinner="Projecting the codes to 2-D…")
def projection(key: str, method: str, _trained: TrainedModel) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """(indices of the shown test images, their 2-D points, axis titles). t-SNE sees a subsample."""
    codes = test_codes(key, _trained)
    n = explore.TSNE_MAX_POINTS if method == "tsne" and codes.shape[1] > 2 else 3000
    idx = np.arange(n)
    points, titles = explore.project_2d(codes[idx], method)
    return idx, points, titles
