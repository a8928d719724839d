"""Browser: the Autoencoder page trains, the latent slider and Retrain reach new models (and every
view follows the retrained one); the VAE page renders."""

import re

from tests.e2e.conftest import open_page, wait_for_app

OPEN_PANEL = "[...document.querySelectorAll('[role=\"tabpanel\"]')].find(p => p.offsetParent !== null)"
# Bold labels and images of the open tab, in page order: {label: the image after it}.
ROWS = f"""() => {{
  const rows = {{}}; let label = null;
  {OPEN_PANEL}.querySelectorAll('[data-testid="stMarkdownContainer"] strong, [data-testid="stImage"] img')
    .forEach(el => {{ if (el.tagName === 'STRONG') label = el.innerText; else if (label) rows[label] = el.src; }});
  return rows;
}}"""
# The points of the open tab's Plotly scatter (once drawn).
POINTS = f"""() => {{
  const panel = {OPEN_PANEL};
  const plot = panel && panel.querySelector('.js-plotly-plot');
  return plot && plot.data ? JSON.stringify(plot.data.map(t => [t.x, t.y])) : null;
}}"""
# (min, max) of every slider in the open tab.
RANGES = f"""() => [...{OPEN_PANEL}.querySelectorAll('[data-testid="stSlider"] input[type="range"]')]
  .map(s => [s.min, s.max])"""


def wait_for_text(page, pattern: str, timeout_ms: int = 180_000) -> None:
    page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout_ms)


def open_tab(page, name: str, drawn: str) -> None:
    """Click the tab ``name``; the page computes the open tab only: wait until ``drawn`` (a JS
    expression) holds of what it drew."""
    page.get_by_role("tab", name=name).click()
    page.wait_for_function(f"() => {drawn}")
    wait_for_app(page)


def views(page) -> dict:
    """The bottleneck rows, the latent scatter's points and the decoder playground's slider ranges."""
    open_tab(page, "Bottleneck: latent size", f"Object.keys(({ROWS})()).length > 1")
    rows = page.evaluate(ROWS)
    open_tab(page, "Latent space", f"({POINTS})()")
    points = page.evaluate(POINTS)
    open_tab(page, "Decoder playground", f"({RANGES})().length > 0")
    return {"rows": rows, "points": points, "ranges": page.evaluate(RANGES)}


def test_autoencoder_slider_and_retrain(page, app_url):
    open_page(page, app_url, "autoencoder")
    wait_for_text(page, r"ae-mlp, latent 2, mnist · test BCE")
    wait_for_app(page)
    assert page.get_by_text("Reconstruction from 2 numbers").count() == 1

    # Move the latent slider one step right: 2 -> 3, a model not trained yet.
    thumb = page.get_by_role("slider").first
    thumb.focus()
    thumb.press("ArrowRight")
    wait_for_text(page, r"ae-mlp, latent 3, mnist · test BCE")
    wait_for_app(page)
    page.get_by_text("Reconstruction from 3 numbers").first.wait_for()
    assert "latent=3" in page.url

    before = views(page)
    assert {"Ground truth", "Latent 2", "Latent 3"} <= set(before["rows"]) and len(before["ranges"]) == 3
    assert "ae_tab=Decoder" in page.url and "latent=3" in page.url   # the open tab is in the link too

    # Retrain: progress appears, then the retrained model (seed 1) replaces the cached one.
    page.get_by_role("button", name="Retrain").first.click()
    page.get_by_text(re.compile(r"^(Training · epoch|Waiting for the trainer)")).first.wait_for(timeout=60_000)
    assert page.get_by_role("progressbar").count() >= 1
    wait_for_text(page, r"latent 3, mnist · test BCE .* seed 1")
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0

    # Every view is drawn from the retrained model: its bottleneck row, its codes, its ranges.
    after = views(page)
    assert set(after["rows"]) == set(before["rows"])
    assert after["rows"]["Latent 3"] != before["rows"]["Latent 3"]
    assert after["rows"]["Latent 2"] == before["rows"]["Latent 2"]
    assert after["points"] != before["points"]
    assert after["ranges"] != before["ranges"]


def test_vae_page_renders(page, app_url):
    open_page(page, app_url, "vae?latent=2")
    wait_for_text(page, r"VAE · vae-mlp, latent 2, mnist · test loss")
    wait_for_text(page, r"AE for comparison · ae-mlp, latent 2, mnist · test BCE")
    wait_for_app(page)
    page.get_by_role("tab", name="Latent grid").click()
    page.get_by_text("the grid follows the prior").first.wait_for()
    page.get_by_role("tab", name="Completeness").click()
    page.get_by_text("VAE decoder").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
