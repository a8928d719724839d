"""Per-model results the pages reuse across reruns.

Each is cached under the key of the model it was computed from (``trained.config.key``, seed
included), never under the page's config: after a Retrain the page shows the newest seed, and
everything drawn from it must be recomputed.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from apcore import cluster, explore
from apcore.cache import TrainedModel

from . import hall
from .resources import dataset

SHOWN = 3000  # points in a scatter: enough to see the shape, few enough for SVG and selection


def test_codes(trained: TrainedModel) -> np.ndarray:
    """Codes of the 10,000 test images by ``trained`` (read-only)."""
    return _test_codes(trained.config.key, trained)


def projection(trained: TrainedModel, method: str) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """(indices of the shown test images, their 2-D points, axis titles). t-SNE sees a subsample."""
    return _projection(trained.config.key, method, trained)


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
