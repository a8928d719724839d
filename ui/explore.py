"""Per-model results the pages reuse across reruns (keyed by the model's config key)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from apcore import cluster, explore
from apcore.cache import TrainedModel

from .resources import dataset


@st.cache_resource(max_entries=32, show_spinner="Encoding the test set…")
def test_codes(key: str, _trained: TrainedModel) -> np.ndarray:
    """Codes of the 10,000 test images (read-only)."""
    return explore.codes(_trained.model, dataset(_trained.config.dataset))


AXES = {"native": ("z1", "z2"), "pca": ("PC 1", "PC 2"), "tsne": ("t-SNE 1", "t-SNE 2")}
SHOWN = 3000  # points in a scatter: enough to see the shape, few enough for SVG and selection


@st.cache_resource(max_entries=32, show_spinner="Projecting the codes to 2-D…")
def projection(key: str, method: str, _trained: TrainedModel) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """(indices of the shown test images, their 2-D points, axis titles). t-SNE sees a subsample."""
    codes = test_codes(key, _trained)[:SHOWN]
    points, idx, used = cluster.project_2d(codes, method)
    return idx, points, AXES[used]
