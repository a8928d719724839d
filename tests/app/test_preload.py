"""The server's preload computes the anomaly and denoising pages' default figures ahead, so that a
page's first visit finds them cached (``ui.resources.prepare``: the server's start-up and first page view run it)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from apcore import anomaly as scoring
from apcore import defaults
from apcore import denoise as denoising
from apcore.cache import ModelStore
from tests.app.conftest import ROOT
from ui import anomaly, denoise, hall, resources


def _fail(*args, **kwargs):
    raise AssertionError("computed again: the preload did not cache it")


def test_preload_computes_the_anomaly_and_denoising_defaults(tmp_path, monkeypatch):
    store = ModelStore(tmp_path)
    pages = defaults.page_defaults()
    for config in pages["anomaly"] + pages["denoise"]:
        store.get_or_train(config)
    resources.prepare(store)

    for module, name in ((scoring, "score_test_set"), (denoising, "quality"), (denoising, "psnr_curve")):
        monkeypatch.setattr(module, name, _fail)
    config = pages["anomaly"][0]
    s = anomaly.scores(store.latest(config), anomaly.DEFAULT_MEASURE, config.dataset)
    assert 0.5 < s.test.auroc <= 1
    for config in pages["denoise"]:
        trained = store.latest(config)
        q = denoise.quality(trained, config.dataset, config.noise, denoise.DEFAULT_TEST_LEVEL)
        assert set(q) == {"psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised"}
        curve = denoise._curve.ahead(trained.config.key, config.dataset, config.noise, trained)
        assert len(curve["psnr_denoised"]) == len(denoise.CURVE_LEVELS)
    # the PSNR curve is a lecture hall's costly figure: computed ahead, the audience may have it
    assert any(key[0] == "_curve" for key in hall.hall().computed)


def test_the_start_up_waits_while_a_page_is_drawn_or_requested(monkeypatch):
    """The server's start-up (``ui.resources.serving``) holds the interpreter lock for seconds: it
    begins only once no page script has run and no request has come for ``QUIET_S``."""
    monkeypatch.setattr(resources, "QUIET_S", 0.3)
    activity = resources.Activity
    waiter = threading.Thread(target=activity.wait_for_quiet)
    with activity.drawing():        # a page being drawn, however long
        activity.last = 0.0
        waiter.start()
        waiter.join(0.6)
        assert waiter.is_alive()
    waiter.join(0.15)
    assert waiter.is_alive()        # drawn just now: a quiet moment has not passed yet
    waiter.join(2)
    assert not waiter.is_alive() and activity.drawn_now == 0


def test_the_start_up_imports_at_once_but_never_while_a_page_is_drawn(monkeypatch):
    """The start-up's imports begin as the server starts (a page opened in its first seconds finds
    torch imported), wait while a page script runs, and only what follows them waits for quiet."""
    events = []
    monkeypatch.setattr(resources, "start_up_modules", lambda: ["first", "second"])
    monkeypatch.setattr(resources, "importlib", SimpleNamespace(import_module=events.append))
    monkeypatch.setattr(resources.Activity, "wait_for_quiet", staticmethod(lambda: events.append("quiet")))
    monkeypatch.setattr(resources, "_first_calls", lambda: events.append("first calls"))
    monkeypatch.setattr(resources, "prepared", lambda: events.append("prepared"))
    monkeypatch.setattr(resources.compress, "prime", lambda url, between: events.append("prime"))
    monkeypatch.setattr(resources, "registry", lambda: SimpleNamespace(worker_pid=None))
    start_up = threading.Thread(target=resources._start_up)
    with resources.Activity.drawing():   # a page being drawn as the server starts
        start_up.start()
        start_up.join(0.4)
        assert start_up.is_alive() and events == []
    start_up.join(5)
    assert not start_up.is_alive()
    assert events == ["first", "second", "quiet", "first calls", "prepared", "prime"]


def test_the_start_up_imports_in_the_gaps_between_the_files_a_browser_asks_for(monkeypatch):
    monkeypatch.setattr(resources, "GAP_S", 0.3)
    activity = resources.Activity
    monkeypatch.setattr(activity, "answering", 1)   # a page's file being sent
    monkeypatch.setattr(activity, "answered", 0.0)
    waiter = threading.Thread(target=activity.wait_while_serving)
    waiter.start()
    waiter.join(0.4)
    assert waiter.is_alive()
    activity.answered, activity.answering = time.monotonic(), 0
    waiter.join(0.15)
    assert waiter.is_alive()        # sent just now: the browser may ask for the next one
    waiter.join(2)
    assert not waiter.is_alive()


def test_activity_counts_the_http_answers_being_sent_not_the_open_websockets():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["type"], resources.Activity.answering))

    middleware, start = resources.Activity(app), time.monotonic()
    for kind in ("http", "websocket", "lifespan"):
        with pytest.raises(StopIteration):   # nothing awaited: done at its first step
            middleware({"type": kind}, None, None).send(None)
    assert seen == [("http", 1), ("websocket", 0), ("lifespan", 0)]
    assert resources.Activity.answering == 0 and resources.Activity.answered >= start


def test_the_start_up_imports_what_a_first_page_needs_first():
    modules = resources.start_up_modules()
    assert modules[:2] == list(resources.FIRST_VIEW_MODULES)                  # the page view's own, at once
    assert modules.index("apcore.train") < min(modules.index(m) for m in modules if m.startswith("ui."))
    assert modules.index("ui.figures") < modules.index("sklearn.metrics")     # some pages' libraries last
    assert set(resources.LAZY_MODULES) <= set(modules) and len(set(modules)) == len(modules)
    assert not set(resources.COMPONENT_MODULES) & set(modules)               # registered in a script run only
    assert "apcore.warm" not in modules and "apcore.__main__" not in modules


def test_the_clustering_score_table_imports_nothing_the_start_up_has_not():
    """What a library does once per process on its first call (an import, a template compiled) is the
    server's start-up's work, not the first visitor's: after the start-up's imports and first calls,
    the clustering page's styled table imports no module. In a fresh interpreter: this one has
    imported everything by now."""
    code = """
import sys
import pandas as pd
from ui import clustering, resources
resources._import_modules()
resources._first_calls()
before = set(sys.modules)
frame = pd.DataFrame({"Representation": ["AE code", "pixels"], "Accuracy": [0.9, 0.5], "NMI": [0.8, 0.4],
                      "ARI": [0.7, 0.3], "Seconds": [1.0, 2.0]})
clustering.show_scores(frame, "AE code")
print(sorted(set(sys.modules) - before))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
