"""Objects shared by every browser tab of one server (``st.cache_resource``): treat as read-only.

Importing this module (``app.py`` does, on every page) does not import torch: the Overview of a
fresh server opens without it (2.8 -> 1.6 s, ``bench/page_open.py``). The server's start-up
(:func:`serving`) and its first page view (:func:`preload`) import it in the background.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil
import threading
import time
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from apcore.defaults import warm_list

from . import compress, leave_pages_folder_mode, nodelay

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import ModuleType

    from apcore.cache import ModelStore
    from apcore.data import Dataset
    from apcore.jobs import JobRegistry

log = logging.getLogger(__name__)

# Streamlit's own, on the first page view of a server: ``st.set_page_config``'s emoji icon compiles a
# regex of every emoji (26 ms alone; ~0.26 s of the interpreter lock, sampled with py-spy, while the
# first page was also being served), ``st.Page``'s icons load their names.
FIRST_VIEW_MODULES = ("streamlit.emojis", "streamlit.material_icon_names")
# Imported inside apcore's functions (a page that never clusters never pays for them), but every
# page's first use would: the preload takes them ahead.
LAZY_MODULES = ("sklearn.cluster", "sklearn.metrics", "sklearn.mixture", "scipy.optimize", "skimage.metrics",
                "matplotlib.figure", "matplotlib.backends.backend_agg")
# ui's modules that declare a Streamlit component: Streamlit registers one only when its module is
# imported during a script run, so the server's start-up (no script) leaves them to the first page.
COMPONENT_MODULES = ("ui.plane", "ui.touch")


@st.cache_resource(show_spinner=False)
def store() -> ModelStore:
    from apcore.cache import ModelStore

    return ModelStore()


@st.cache_resource(show_spinner=False, on_release=lambda jobs: jobs.close())
def registry() -> JobRegistry:
    """Trainings of every tab, run by one worker process; started by the server's start-up (or by
    the first page, if that comes first), so that neither a Retrain nor the first page's drawing
    waits for the worker to import torch. A cleared cache ends the worker."""
    from apcore.jobs import JobRegistry

    jobs = JobRegistry(store())
    jobs.start_worker()
    return jobs


@st.cache_resource(show_spinner="Reading the data set…", max_entries=2)
def dataset(name: str) -> Dataset:
    from apcore.data import load_dataset

    return load_dataset(name)


QUIET_S = 3.0  # the start-up waits until no page has been drawn or requested for this long
GAP_S = 0.15  # ... and between its imports, until no HTTP request has been answered for this long


class Activity:
    """When the server last received a request (a page's files, its WebSocket, its images: as
    ASGI middleware of ``app.py``'s ``st.App``) or finished drawing a page, how many page scripts
    are running now (:meth:`drawing`), and how many HTTP requests are being answered."""

    last = 0.0
    drawn_now = 0
    answering = 0
    answered = 0.0  # when the last HTTP answer was sent
    _lock = threading.Lock()

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        Activity.last = time.monotonic()
        if scope["type"] == "websocket":  # open as long as its tab: not an answer being waited for
            return await self.app(scope, receive, send)
        Activity.answering += 1  # the event loop's thread only
        try:
            await self.app(scope, receive, send)
        finally:
            Activity.answering -= 1
            Activity.answered = time.monotonic()

    @staticmethod
    @contextlib.contextmanager
    def drawing():
        with Activity._lock:
            Activity.drawn_now += 1
        try:
            yield
        finally:
            with Activity._lock:
                Activity.drawn_now -= 1
                Activity.last = time.monotonic()

    @staticmethod
    def wait_for_quiet() -> None:
        while Activity.drawn_now or time.monotonic() - Activity.last < QUIET_S:
            time.sleep(0.1)

    @staticmethod
    def wait_while_drawing() -> None:
        """Returns once no page script is running."""
        while Activity.drawn_now:
            time.sleep(0.05)

    @staticmethod
    def wait_while_serving() -> None:
        """Returns once no page script is running, no HTTP request is being answered and none has
        been for :data:`GAP_S`: a browser loading a page's files between two of the start-up's
        imports has the interpreter to itself."""
        while Activity.drawn_now or Activity.answering or time.monotonic() - Activity.answered < GAP_S:
            time.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(_app: Any) -> AsyncIterator[None]:
    """The server's lifespan (``app.py``'s ``st.App``): as it starts, before anyone connects, a
    background thread imports torch and the pages' libraries and loads what the pages show
    (:func:`prepared`), so that the first page of a lecture opens as fast as the second
    (``bench/page_open.py``), then has Streamlit's frontend files compressed for the room
    (:func:`ui.compress.prime`) and starts the training worker (:func:`registry`). It holds the
    interpreter lock for seconds, so it steps aside for the pages (:class:`Activity`): it imports
    while no page is drawn and no file sent, and does the rest only once no page has been drawn or
    requested for :data:`QUIET_S`.
    Before uvicorn accepts anyone, Nagle's algorithm is turned off for its connections
    (:func:`ui.nodelay.install`), and a deep link (``/anomaly``) is made to run ``app.py`` at once
    (:func:`ui.leave_pages_folder_mode`), not first its page alone and then again."""
    nodelay.install()
    leave_pages_folder_mode()
    Activity.last = time.monotonic()
    threading.Thread(target=_start_up, name="apcore-start-up", daemon=True).start()
    yield


def start_up_modules() -> list[str]:
    """What the server's start-up imports, in the order a first page view needs them: Streamlit's
    own, apcore's (torch first of all), the pages' (not those declaring a component), then the
    libraries only some pages use."""
    import apcore
    import ui

    skip = set(COMPONENT_MODULES) | {"apcore.__main__", "apcore.warm"}
    return [m for m in FIRST_VIEW_MODULES + _modules(apcore) + _modules(ui) + LAZY_MODULES if m not in skip]


def _start_up() -> None:
    """The imports at once, as the server starts, but none while a page is drawn or its files are
    sent: a page opened in the server's first seconds finds torch and its modules imported, or
    imports the rest itself without sharing the interpreter lock. The rest (the libraries' first
    calls, the pages' data, the frontend's compression, the worker) once the server is quiet. The
    compression steps aside for a page being drawn (not for its files: they are its own requests)."""
    start = time.perf_counter()
    try:
        for module in start_up_modules():
            Activity.wait_while_serving()
            importlib.import_module(module)
        log.info("imported torch and the pages' modules in %.1f s", time.perf_counter() - start)
        Activity.wait_for_quiet()
        _first_calls()
    except Exception:  # noqa: BLE001 - the pages import what they need themselves
        log.exception("start-up imports failed")
    prepared()
    compress.prime(compress.own_url(), between=Activity.wait_while_drawing)
    # The training worker, which the first page would start: it imports torch in its own process now, not
    # while that page is drawn. A fresh server's first visit to a chart page: 0.87-0.89x for this alone,
    # 0.71-0.84x with the emoji regex and inspect's module paths (bench/results/page_open.md).
    jobs = registry()
    log.info("started the training worker (pid %s)", jobs.worker_pid)


def _first_calls() -> None:
    """What libraries do once, on their first call, which a page's first run did (3 ms to ~0.1 s each)."""
    import inspect

    import nbformat
    import pandas as pd
    import plotly.graph_objects as go
    import pyarrow as pa

    from . import figures

    figures.layout(go.Figure()).to_json()  # Plotly copies its template on first use
    nbformat.v4.new_notebook()  # nbformat compiles its schema's validator
    frame = pd.DataFrame({"a": [0.0]})
    frame.style  # pandas imports its Styler, compiles its Jinja templates (32 ms; the clustering table)
    pa.Table.from_pandas(frame)  # pyarrow imports its pandas conversion (3 ms; a page's first table)
    # A component's declaration (ui.touch, ui.plane: imported by the first page's run) finds its module
    # with inspect.getmodule, which first resolves the path of every module imported (~3,000, torch's).
    inspect.getmodule(inspect.currentframe())


@st.cache_resource(show_spinner=False)
def preload() -> threading.Thread:
    """Once per server, in background threads: what the other pages' first visits would wait for
    (the modules every page imports, scikit-learn and SciPy, then :func:`prepared`). ``app.py``
    starts it after its first complete run, so the page being opened first is not slowed down by
    it, and the next page opens without importing, loading or scoring. Returns the thread that
    ends last. Under ``streamlit run`` the server's start-up has done most of it already.

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


def _preload(imports: threading.Thread) -> None:
    start = time.perf_counter()
    imports.join()
    log.info("preloaded modules of the pages in %.1f s", time.perf_counter() - start)
    prepared()


def _modules(package: ModuleType) -> tuple[str, ...]:
    return tuple(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))


def _import_modules() -> None:
    import ui

    for module in FIRST_VIEW_MODULES + _modules(ui) + LAZY_MODULES:
        importlib.import_module(module)


@st.cache_resource(show_spinner=False)
def prepared() -> None:
    """Once per server (a second caller waits for the first): :func:`prepare` into :func:`store`,
    made here, so that torch is imported here and not in a script's run."""
    prepare(store())


def prepare(models: ModelStore) -> None:
    """The data sets, every page default's model on disk and the anomaly, denoising and clustering
    pages' test-set figures of their defaults into ``models`` and the pages' caches."""
    start = time.perf_counter()
    try:
        from apcore.data import load_dataset

        from . import anomaly, clustering, denoise

        configs = warm_list()
        for name in dict.fromkeys(c.dataset for c in configs):
            load_dataset(name)
        loaded = sum(models.latest(c) is not None for c in configs)
        for view in (anomaly, denoise, clustering):
            view.prepare_default(models)
    except Exception:  # noqa: BLE001 - a preload that fails only leaves the work to the pages
        log.exception("preload failed")
    else:
        log.info("preloaded data and %d of %d page defaults in %.1f s", loaded, len(configs),
                 time.perf_counter() - start)
