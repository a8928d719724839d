"""Real-browser tests: the app served by ``streamlit run`` and driven by Debian's chromium.

Tiny training budgets (``APCORE_EPOCHS``, ``APCORE_TRAIN_LIMIT``) keep each model a few seconds.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    port = _free_port()
    env = dict(os.environ, APCORE_EPOCHS="1", APCORE_TRAIN_LIMIT="6000",
               APCORE_CHECKPOINT_DIR=str(tmp_path_factory.mktemp("e2e-checkpoints")))
    log = open(tmp_path_factory.mktemp("e2e-log") / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit server did not answer /_stcore/health within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
            "--no-first-run", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()


def wait_for_app(page, timeout_ms: int = 120_000) -> None:
    """Wait until a script run has finished and no skeleton remains; fail on an exception element."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)
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
