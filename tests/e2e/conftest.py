"""Real-browser tests: the app served by ``streamlit run`` and driven by Debian's chromium.

Tiny training budgets (``APCORE_EPOCHS``, ``APCORE_TRAIN_LIMIT``) keep each model a few seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.browser import CHROMIUM, launch, start_server, stop_server
from bench.browser import wait_for_app as _wait_for_app

pytestmark = pytest.mark.e2e

HALL_KEY = "e2e-presenter-key"


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e-checkpoints")


def serve(tmp_path_factory, checkpoints, log: Path | None = None, **env):
    """A server on ``checkpoints`` with the tiny budgets, logging to ``log`` (default: a new
    temporary folder); (process, url)."""
    base = {k: v for k, v in os.environ.items() if k != "APCORE_PRESENTER_KEY"}
    base.update(APCORE_EPOCHS="1", APCORE_TRAIN_LIMIT="6000", APCORE_CHECKPOINT_DIR=str(checkpoints), **env)
    try:
        return start_server(base, log or tmp_path_factory.mktemp("e2e-log") / "streamlit.log")
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, checkpoints):
    """A lecturer alone: no presenter key, every session presents."""
    proc, url = serve(tmp_path_factory, checkpoints)
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def hall_url(tmp_path_factory, checkpoints):
    """A lecture hall: ``HALL_KEY`` set; the same checkpoints as ``app_url``."""
    proc, url = serve(tmp_path_factory, checkpoints, APCORE_PRESENTER_KEY=HALL_KEY)
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_failed = report.failed
    return report


@pytest.fixture
def new_tab(browser, request, tmp_path):
    """Opens tabs by name, each in its own browser context (its own session): ``new_tab("follower",
    390, 844)``. On a failure each tab's screenshot, address and browser console are kept (the
    folder is printed)."""
    opened = {}

    def open_tab(name: str = "page", width: int = 1400, height: int = 1000, timeout_ms: int = 60_000):
        p = browser.new_context(viewport={"width": width, "height": height}).new_page()
        p.set_default_timeout(timeout_ms)
        console = []
        p.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        opened[name] = (p, console)
        return p

    yield open_tab
    if getattr(request.node, "call_failed", False):
        print(f"failure screenshots and browser consoles: {tmp_path}")
        for name, (p, console) in opened.items():
            (tmp_path / f"{name}-console.log").write_text("\n".join([f"address: {p.url}", *console]))
            try:
                p.screenshot(path=tmp_path / f"{name}.png", full_page=True, timeout=15_000)
            except Exception as exc:  # a tab too stuck to draw: its console is kept all the same
                print(f"no screenshot of {name}: {exc}")
    for p, _ in opened.values():
        p.context.close()


@pytest.fixture
def page(new_tab):
    """A fresh tab (:func:`new_tab`)."""
    return new_tab()


def wait_for_app(page, timeout_ms: int = 120_000) -> None:
    """Wait until a script run has finished and no skeleton remains; fail on an exception element."""
    _wait_for_app(page, timeout_ms)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()


def open_page(page, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)


def metric_values(page) -> dict[str, str]:
    """Label -> shown value of every st.metric on the page."""
    out = {}
    for m in page.locator('[data-testid="stMetric"]').all():
        out[m.locator('[data-testid="stMetricLabel"]').inner_text().strip()] = \
            m.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def open_from_navigation(page, app_url: str, link: str, ready_js: str, timeout_ms: int = 400_000) -> None:
    """Open the app, click the sidebar link (independent of the url path), wait until ``ready_js``
    (a JS predicate) holds and the run has finished: the page's models may train first."""
    open_page(page, app_url, "")
    page.get_by_role("link", name=link).first.click()
    page.wait_for_function(ready_js, timeout=timeout_ms)
    wait_for_app(page)


def move_slider_until_metrics_change(page, label: str, key: str, presses: int) -> dict[str, str]:
    """Press ``key`` on the slider labelled ``label`` ``presses`` times; return the metrics once they
    differ from before (times out if they never do)."""
    before = "|".join(metric_values(page).values())
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")
    thumb.focus()
    for _ in range(presses):
        thumb.press(key)
    page.wait_for_function(
        "(v) => [...document.querySelectorAll('[data-testid=stMetricValue]')].map(e => e.innerText).join('|') !== v",
        arg=before, timeout=30_000)
    wait_for_app(page)
    return metric_values(page)
