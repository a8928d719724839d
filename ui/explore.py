"""Per-model results the pages reuse across reruns.

Each is cached under the key of the model it was computed from (``trained.config.key``, seed
included), never under the page's config: after a Retrain the page shows the newest seed, and
everything drawn from it must be recomputed.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from apcore import cluster, explore
from apcore.cache import TrainedModel
from apcore.explore import Pca
from apcore.metrics import encode_images

from . import hall
from .resources import dataset

SHOWN = 3000  # points in a scatter: enough to see the shape, few enough for SVG and selection


def test_codes(trained: TrainedModel) -> np.ndarray:
    """Codes of the 10,000 test images by ``trained`` (read-only)."""
    return _test_codes(trained.config.key, trained)


def projection(trained: TrainedModel, method: str) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """(indices of the shown test images, their 2-D points, axis titles). t-SNE sees a subsample."""
    return _projection(trained.config.key, method, trained)


def place(trained: TrainedModel, method: str, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes of new images (N, 1, 28, 28) float, and where they land in ``projection(trained,
    method)``'s view: (N, latent_dim) and (N, 2), or None for t-SNE (it has no map for new points)."""
    codes = encode_images(trained.model, images)
    if codes.shape[1] == 2:
        return codes, codes.astype(np.float32)
    if method == "tsne":
        return codes, None
    return codes, _pca(trained.config.key, trained).transform(codes)


@st.cache_resource(max_entries=32, show_spinner=False)
def _pca(key: str, _trained: TrainedModel) -> Pca:
    # the PCA of cluster.project_2d's "pca" view (same rows): the same axes
    return Pca.fit(test_codes(_trained)[:SHOWN], 2)


@st.cache_resource(max_entries=32, show_spinner="Encoding the test set…")
def _test_codes(key: str, _trained: TrainedModel) -> np.ndarray:
    codes = explore.codes(_trained.model, dataset(_trained.config.dataset))
    codes.setflags(write=False)
    return codes


@hall.costly(when=lambda a: a["method"] == "tsne")
@st.cache_resource(max_entries=32, show_spinner="Projecting the codes to 2-D…")
def _projection(key: str, method: str, _trained: TrainedModel) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    points, idx, used = cluster.project_2d(test_codes(_trained)[:SHOWN], method)
    return idx, points, cluster.AXIS_TITLES[used]
