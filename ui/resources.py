"""Objects shared by every browser tab of one server (``st.cache_resource``): treat as read-only.

Importing this module (``app.py`` does, on every page) does not import torch: the Overview of a
fresh server opens without it (2.8 -> 1.6 s, ``bench/page_open.py``), and the preload imports
it in the background.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
import time
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from apcore.defaults import warm_list

if TYPE_CHECKING:
    from apcore.cache import ModelStore
    from apcore.data import Dataset
    from apcore.jobs import JobRegistry

log = logging.getLogger(__name__)

# Imported inside apcore's functions (a page that never clusters never pays for them), but every
# page's first use would: the preload takes them ahead.
LAZY_MODULES = ("sklearn.cluster", "sklearn.metrics", "sklearn.mixture", "scipy.optimize", "skimage.metrics",
                "matplotlib.figure", "matplotlib.backends.backend_agg")


@st.cache_resource(show_spinner=False)
def store() -> ModelStore:
    from apcore.cache import ModelStore

    return ModelStore()


@st.cache_resource(show_spinner=False, on_release=lambda jobs: jobs.close())
def registry() -> JobRegistry:
    """Trainings of every tab, run by one worker process; started by the first page that shows a
    model (its training panel asks for it), so a Retrain does not wait for the worker to import
    torch. A cleared cache ends the worker."""
    from apcore.jobs import JobRegistry

    jobs = JobRegistry(store())
    jobs.start_worker()
    return jobs


@st.cache_resource(show_spinner="Reading the data set…", max_entries=2)
def dataset(name: str) -> Dataset:
    from apcore.data import load_dataset

    return load_dataset(name)


@st.cache_resource(show_spinner=False)
def preload() -> threading.Thread:
    """Once per server, in background threads: what the other pages' first visits would wait for
    (the modules every page imports, scikit-learn and SciPy, the data set, every page default's
    model on disk, the anomaly and denoising pages' test-set figures of their defaults). ``app.py``
    starts it after its first complete run, so the page being opened first is not slowed down by
    it, and the next page opens without importing, loading or scoring. Returns the thread that
    ends last.

    The imports run under the calling script's context: Streamlit registers a component (the
    latent plane's ``streamlit_image_coordinates``) only when its module is imported during a
    script run, and a module is imported once, so a bare thread that imported ``ui.touch`` first
    left every plane of the server answering 404. The rest runs in a bare thread, so that no
    cached function's spinner is sent to the session that started it."""
    imports = threading.Thread(target=_import_modules, name="apcore-preload-imports", daemon=True)
    add_script_run_ctx(imports, get_script_run_ctx())
    imports.start()
    thread = threading.Thread(target=_preload, args=(imports,), name="apcore-preload", daemon=True)
    thread.start()
    return thread


def _import_modules() -> None:
    import ui

    for module in [f"ui.{m.name}" for m in pkgutil.iter_modules(ui.__path__)] + list(LAZY_MODULES):
        importlib.import_module(module)


def _preload(imports: threading.Thread, models: ModelStore | None = None) -> None:
    """After ``imports``: data, models and page figures into ``models`` (default: the server's
    :func:`store`, made here, so that torch is imported here and not in the script's run)."""
    start = time.perf_counter()
    imports.join()
    try:
        from apcore.data import load_dataset

        from . import anomaly, denoise

        models = models or store()
        configs = warm_list()
        for name in dict.fromkeys(c.dataset for c in configs):
            load_dataset(name)
        loaded = sum(models.latest(c) is not None for c in configs)
        for view in (anomaly, denoise):
            view.prepare_default(models)
    except Exception:  # noqa: BLE001 - a preload that fails only leaves the work to the pages
        log.exception("preload failed")
    else:
        log.info("preloaded modules, data and %d of %d page defaults in %.1f s", loaded, len(configs),
                 time.perf_counter() - start)
