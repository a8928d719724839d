"""AppTest of the entry file: navigation, sidebar, and the notices about values ignored in a link."""

import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.conftest import ROOT


def app(**link) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(link)
    return at


def notices_on(at: AppTest, page: str, timeout: float = 180) -> list[str]:
    """Open ``page`` through the entry file; the notices shown until its models are trained (a run
    that stops early, for a model still training, shows them in a later run)."""
    from ui.resources import registry

    at.run()
    at.switch_page(f"pages/{page}.py")
    seen, deadline = [], time.time() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        seen += [t.value for t in at.toast]
        if not registry().active() or time.time() > deadline:
            break
        time.sleep(0.5)
    at.run()
    return seen + [t.value for t in at.toast]


def navigate(at: AppTest, page: str) -> AppTest:
    """Follow the sidebar's link to ``page`` (a bare address: no query string). Its widgets are
    drawn before its models are trained: no need to wait for them."""
    at.query_params.clear()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_values_are_kept_per_page_for_the_session():
    at = app().run()
    navigate(at, "autoencoder").select_slider(key="ae_latent").set_value(5)
    at.button_group(key="ae_arch").set_value("conv")
    navigate(at, "vae")
    assert at.select_slider(key="vae_latent").value == 2                 # the VAE page's own latent size
    assert at.button_group(key="vae_arch").value == "mlp"
    navigate(at, "autoencoder")
    assert at.select_slider(key="ae_latent").value == 5                  # kept while away
    assert at.button_group(key="ae_arch").value == "conv"
    assert (at.query_params["latent"], at.query_params["arch"]) == ("5", "conv")   # and in the link again


def test_home_and_sidebar():
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Autoencoders and variational autoencoders"
    assert at.sidebar.selectbox(key="dataset").value == "mnist"
    assert any("Training on" in c.value for c in at.sidebar.caption)


OVERVIEW_WITHOUT_TORCH = """
import sys
from unittest import mock

from streamlit.testing.v1 import AppTest

import ui.resources

with mock.patch.object(ui.resources, "preload", lambda: None):   # it imports torch, in the background
    at = AppTest.from_file("app.py", default_timeout=60).run()
assert not at.exception, at.exception
assert at.title[0].value == "Autoencoders and variational autoencoders"
print("torch" in sys.modules, [c.value for c in at.sidebar.caption])
"""


def test_the_overview_runs_without_importing_torch():
    """A fresh server's first page is the Overview: its run must not wait for torch (~1.5 s of a
    3 s first visit on the 2-core CPU); the sidebar names the device from the next run on."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", OVERVIEW_WITHOUT_TORCH], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "False []"


def test_bad_dataset_in_link_falls_back_with_notice():
    at = app(dataset="cifar").run()
    assert at.sidebar.selectbox(key="dataset").value == "mnist"
    assert any("dataset=cifar" in t.value for t in at.toast)


def test_values_ignored_in_a_link_are_named_once():
    # linked by hand (latent, arch) and bound by Streamlit (the tab), each in a notice
    seen = notices_on(app(latent="999", arch="transformer", ae_tab="Nowhere"), "autoencoder")
    assert [n for n in seen if "latent=999" in n] == [
        "Ignored `latent=999` in the link: not a valid value. Showing `2` instead."]
    assert [n for n in seen if "arch=transformer" in n] == [
        "Ignored `arch=transformer` in the link: not a valid value. Showing `mlp` instead."]
    assert [n for n in seen if "ae_tab=Nowhere" in n] == [
        "Ignored `ae_tab=Nowhere` in the link: not a valid value. Showing `Reconstructions` instead."]


def test_a_bound_slider_names_a_bad_value_but_not_a_default():
    seen = notices_on(app(stride="9", padding="0", dilation="2"), "transposed_conv")
    assert seen == ["Ignored `stride=9` in the link: not a valid value. Showing `1` instead."]


PLOTLY_WHILE_THE_PRELOAD_IMPORTS = """
import sys
from streamlit.testing.v1 import AppTest

assert "pandas" not in sys.modules
at = AppTest.from_file("app.py", default_timeout=120)
at.switch_page("pages/vae.py")
at.run()        # the first run ends by starting the preload, which imports the other pages' modules
errors = [str(e.value) for e in at.exception]
at.run()        # at once: Plotly figures built while the preload's thread imports them
errors += [str(e.value) for e in at.exception]
print(len(at.get("plotly_chart")), errors)
"""


def test_a_page_drawn_while_the_preload_imports_has_no_error(tmp_path):
    """Plotly looks for pandas in ``sys.modules`` without importing it: while another thread
    (the preload, or another tab's first page) was importing pandas, a figure built meanwhile
    found it half-initialised and the page showed an error (3 of 3 fresh servers)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "APCORE_CHECKPOINT_DIR": str(tmp_path), "APCORE_EPOCHS": "1", "APCORE_TRAIN_LIMIT": "512"}
    for latent in ("2", "20"):   # the VAE page's models, tiny, so that it draws its Plotly figures
        subprocess.run([sys.executable, "-m", "apcore", "train", "vae-mlp", "--latent-dim", latent], cwd=ROOT,
                       env=env, check=True, capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", PLOTLY_WHILE_THE_PRELOAD_IMPORTS], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    charts, errors = out.stdout.strip().splitlines()[-1].split(" ", 1)
    assert errors == "[]" and int(charts) > 0, out.stdout[-2000:]


def test_the_server_loads_what_the_pages_need_before_anyone_connects(tmp_path):
    """``streamlit run app.py`` finds the file's ``st.App`` (``app``) and serves it; its start-up
    (``ui.resources.serving``) imports torch and the pages' modules and loads the page defaults on
    disk while no page has been opened, so that the lecture's first page opens as fast as the next,
    then has Streamlit's frontend compressed before the room's first request and starts the
    training worker (which imports torch in its own process: not while the first page is drawn)."""
    import gzip
    import os
    import subprocess
    import sys
    import urllib.request

    from bench.browser import start_server, stop_server
    from ui.compress import FRONTEND

    env = {**os.environ, "APCORE_CHECKPOINT_DIR": str(tmp_path), "APCORE_EPOCHS": "1", "APCORE_TRAIN_LIMIT": "512"}
    subprocess.run([sys.executable, "-m", "apcore", "train", "vae-mlp", "--latent-dim", "2"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)   # the VAE page's default, tiny
    log = tmp_path / "server.log"
    proc, url = start_server(env, log, timeout=120)
    try:
        deadline = time.time() + 120
        while "started the training worker" not in log.read_text() and time.time() < deadline:
            time.sleep(0.2)
        text = log.read_text()
        worker = re.search(r"started the training worker \(pid (\d+)\)", text)
        cmdline = Path(f"/proc/{worker[1]}/cmdline").read_bytes().split(b"\0") if worker else []
        plotly = next(FRONTEND.glob("static/js/PlotlyChart.*.js"))
        request = urllib.request.Request(f"{url}/static/js/{plotly.name}", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as response:   # the room's first request for it
            coding, body = response.headers["Content-Encoding"], response.read()
    finally:
        stop_server(proc)
    assert "imported torch and the pages' modules" in text, text[-3000:]
    assert "preloaded data and 1 of " in text, text[-3000:]   # the one default on disk, in memory
    assert "preloaded modules of the pages" not in text      # no page was opened: the start-up did it
    assert coding == "gzip" and gzip.decompress(body) == plotly.read_bytes(), text[-3000:]  # compressed ahead
    assert b"apcore.worker" in cmdline and cmdline[cmdline.index(b"--parent") + 1] == str(proc.pid).encode(), text[-3000:]


def test_a_data_set_not_on_disk_is_downloaded_once_when_chosen_else_explained(monkeypatch):
    from apcore import data
    from tests.app.conftest import page_test

    monkeypatch.setattr(data, "candidate_dirs", lambda name: [] if name == "fashion-mnist" else [data.DATA_DIR / name])
    downloads = []
    monkeypatch.setattr(data, "_download_fashion", lambda target: downloads.append(target))  # offline
    at = page_test("vae")
    at.session_state["dataset"] = "fashion-mnist"
    at.run()
    assert not at.exception and len(downloads) == 1  # the sidebar's choice may download it: tried once
    assert any(e.value.startswith("Fashion-MNIST is not available on this server") for e in at.error)
