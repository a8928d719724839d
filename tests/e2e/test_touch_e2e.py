"""Browser: click the latent plane and the latent grid to decode a point; draw a digit with the mouse.

The clicks and strokes are real mouse events inside the components (the plane's picture in its
iframe, the drawing canvas), and each test reads what the page shows afterwards: the z in the
caption and on the sliders, the decoded image, the drawing as the model sees it, its score.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
from PIL import Image

from bench.browser import stop_server
from tests.e2e.conftest import open_from_navigation, open_page, serve, wait_for_app
from tests.e2e.test_autoencoder_vae_e2e import OPEN_PANEL
from ui.plane import Plane

PLANE_FRAME = 'iframe[title="streamlit_image_coordinates.streamlit_image_coordinates"]'
# (caption, image src) of every st.image with a caption, in page order
CAPTIONED = """() => [...document.querySelectorAll('[data-testid="stImageCaption"]')].map(c => {
  let n = c; while (n && !n.querySelector('img')) n = n.parentElement;
  return [c.innerText.trim(), n ? n.querySelector('img').src : null];
})"""
# (min, max, value) of the sliders in the open tab
SLIDERS = f"""() => [...{OPEN_PANEL}.querySelectorAll('[data-testid="stSlider"] input[type="range"]')]
  .map(s => [+s.min, +s.max, +s.value])"""
GEOMETRY = Plane((0.0, 1.0), (0.0, 1.0))  # margins and size: the plane's picture, any extent
SEVEN = [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]            # strokes, as fractions of the canvas
ONE = [[(0.5, 0.15), (0.5, 0.85)]]


def captioned(page) -> dict[str, str]:
    return dict(page.evaluate(CAPTIONED))


def zs(text: str) -> list[float]:
    """The numbers of a ``z = (a, b)`` text."""
    return [float(v) for v in re.search(r"z = \(([^)]*)\)", text).group(1).split(",")]


def decoded(page) -> tuple[str, str]:
    """(caption, src) of the decoded digit: the image captioned ``z = (...)``."""
    return next((c, src) for c, src in captioned(page).items() if c.startswith("z = ("))


def plane_box(page, index: int = 0, timeout_ms: int = 120_000) -> dict:
    img = page.frame_locator(PLANE_FRAME).nth(index).locator("#image")
    img.wait_for(timeout=timeout_ms)
    page.wait_for_function(f"() => document.querySelectorAll('{PLANE_FRAME}')[{index}]"
                           ".contentDocument.getElementById('image').naturalWidth > 0")
    img.scroll_into_view_if_needed()
    return img.bounding_box()


def click_plane(page, u: float, v: float, index: int = 0) -> tuple[float, float]:
    """Click at fraction (u, v) of the plot area (from the top left) of the ``index``-th plane
    picture; returns the click in CSS pixels relative to the picture."""
    box = plane_box(page, index)
    scale = box["width"] / GEOMETRY.width
    x = (GEOMETRY.left + u * GEOMETRY.plot_width) * scale
    y = (GEOMETRY.top + v * GEOMETRY.plot_height) * scale
    page.mouse.click(box["x"] + x, box["y"] + y)
    return x, y


def wait_for_new_caption(page, old: str, prefix: str = "z = (") -> None:
    page.wait_for_function(
        f"(old) => ({CAPTIONED})().some(([c]) => c.startsWith({prefix!r}) && c !== old)", arg=old, timeout=30_000)
    wait_for_app(page)


def draw(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw ``strokes`` (points as fractions of the canvas) with the mouse on the page's canvas."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        points = [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for p in points[1:]:
            page.mouse.move(*p, steps=12)
        page.mouse.up()


def fetch_grey(page, src: str) -> np.ndarray:
    """An image the page shows, as grey levels in [0, 1]."""
    blob = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(blob)).convert("L"), np.float32) / 255


def looks_like_seven(image: np.ndarray) -> bool:
    """A bar across the top and ink below it, right of centre then left: the strokes of SEVEN."""
    digit = image.reshape(28, image.shape[0] // 28, 28, image.shape[1] // 28).mean((1, 3))
    rows = np.nonzero(digit.max(1) > 0.5)[0]
    top = digit[rows[0]:rows[0] + 3]
    bar = (top.max(0) > 0.5).sum()
    return bar >= 10 and len(rows) >= 18 and digit[:, :14].sum() > 0 and digit[:, 14:].sum() > 0


def test_click_on_the_autoencoder_plane_decodes_that_point(page, app_url):
    open_page(page, app_url, "autoencoder?ae_tab=Decoder+playground")
    page.get_by_text("Click anywhere on the plane").wait_for(timeout=240_000)
    wait_for_app(page)
    (lo1, hi1, _), (lo2, hi2, _) = page.evaluate(SLIDERS)
    box = plane_box(page)
    assert abs(box["width"] / box["height"] - GEOMETRY.width / GEOMETRY.height) < 0.01
    px = (hi1 - lo1) / (GEOMETRY.plot_width * box["width"] / GEOMETRY.width)   # z1 per CSS pixel
    py = (hi2 - lo2) / (GEOMETRY.plot_height * box["width"] / GEOMETRY.width)
    shown = []
    for u, v in [(0.1, 0.12), (0.9, 0.85)]:
        before, _ = decoded(page)
        click_plane(page, u, v)
        wait_for_new_caption(page, before)
        caption, src = decoded(page)
        z = zs(caption)
        # the clicked point, to a CSS pixel, and the sliders (the decoder playground) took it
        assert abs(z[0] - (lo1 + u * (hi1 - lo1))) <= 1.5 * px + 0.005, (caption, u)
        assert abs(z[1] - (hi2 - v * (hi2 - lo2))) <= 1.5 * py + 0.005, (caption, v)
        assert np.allclose([s[2] for s in page.evaluate(SLIDERS)], z, atol=0.011)   # the slider's 0.01 steps
        shown.append((z, src, fetch_grey(page, src)))
    (z_a, src_a, a), (z_b, src_b, b) = shown
    assert z_a[0] < z_b[0] and z_a[1] > z_b[1]       # left/top, then right/bottom
    assert src_a != src_b and np.abs(a - b).mean() > 0.01   # two far-apart points: two images
    assert a.shape == (224, 224) and a.max() > 0.3 and b.max() > 0.3   # digits drawn, not blank


def test_the_plane_loads_on_a_server_whose_preload_ran_first(page, tmp_path_factory, checkpoints, tmp_path):
    """Streamlit serves a component's files only if its module was first imported during a script
    run; the preload thread (``ui/resources.py``) imports every ``ui`` module, and when it won the
    race to ``ui.touch`` every plane of that server answered 404 (seen in CI)."""
    log = tmp_path / "streamlit.log"
    proc, url = serve(tmp_path_factory, checkpoints, log)
    try:
        open_page(page, url, "")              # the Overview: no component; starts the preload
        deadline = time.time() + 120
        while "preloaded modules" not in log.read_text():
            assert time.time() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        open_page(page, url, "autoencoder?ae_tab=Decoder+playground")
        page.get_by_text("Click anywhere on the plane").wait_for(timeout=240_000)
        box = plane_box(page, timeout_ms=60_000)
        assert box["width"] > 100 and box["height"] > 100
    finally:
        stop_server(proc)


def test_vae_grid_cell_and_plane(page, app_url):
    open_page(page, app_url, "vae?latent=2&vae_tab=Latent+grid")
    page.get_by_text("Between the cells").wait_for(timeout=240_000)
    wait_for_app(page)
    # the VAE grid, the AE grid (once the comparison AE is trained), the plane
    page.wait_for_function(f"() => document.querySelectorAll('{PLANE_FRAME}').length === 3", timeout=240_000)
    wait_for_app(page)
    n = int(page.evaluate(SLIDERS)[0][2])
    grid = plane_box(page, 0)
    cell = grid["width"] / n
    page.mouse.click(grid["x"] + 2.5 * cell, grid["y"] + 0.5 * cell)    # row 1, column 3
    page.wait_for_function(f"() => ({CAPTIONED})().some(([c]) => c.startsWith('VAE grid, row 1, column 3'))",
                           timeout=30_000)
    wait_for_app(page)
    caption = next(c for c in captioned(page) if c.startswith("VAE grid"))
    z = zs(caption)
    assert z[0] < 0 < z[1]       # left of the middle, above it: the prior's quantiles
    before, _ = decoded(page)
    click_plane(page, 0.8, 0.3, index=2)
    wait_for_new_caption(page, before)
    z = zs(decoded(page)[0])
    assert z != zs(before)


def test_draw_on_the_autoencoder_page(page, app_url):
    open_page(page, app_url, "autoencoder?ae_tab=Latent+space")
    page.get_by_text("Your own digit").wait_for(timeout=240_000)
    wait_for_app(page)
    assert page.get_by_text("Draw one digit").count() == 1          # empty canvas: a hint, no result
    draw(page, SEVEN)
    page.wait_for_function(f"() => ({CAPTIONED})().some(([c]) => c === 'its reconstruction')", timeout=30_000)
    wait_for_app(page)
    shown = captioned(page)
    assert looks_like_seven(fetch_grey(page, shown["your digit, as the model sees it"]))
    assert fetch_grey(page, shown["its reconstruction"]).max() > 0.2
    code = zs(page.get_by_text("Its code:").inner_text())
    star = page.evaluate("() => document.querySelector('.js-plotly-plot').data.find(t => t.name === 'your digit')")
    assert star and [round(star["x"][0], 2), round(star["y"][0], 2)] == code   # where it lands
    assert page.get_by_text("Draw one digit").count() == 0
    # the toolbar's bin empties the canvas: the hint again, no result, no star
    page.locator(".dc-root").get_by_role("button", name="Reset canvas & history").click()
    page.get_by_text("Draw one digit").wait_for(timeout=30_000)
    wait_for_app(page)
    assert "its reconstruction" not in captioned(page)
    assert page.evaluate("() => document.querySelector('.js-plotly-plot').data.every(t => t.name !== 'your digit')")


def test_draw_on_the_anomaly_page(page, app_url):
    open_from_navigation(page, app_url, "Anomaly detection", "() => document.querySelector('[data-testid=stMetric]')")
    draw(page, ONE)
    score = page.get_by_text(re.compile(r"^Score \d"))
    score.wait_for(timeout=30_000)
    wait_for_app(page)
    m = re.match(r"Score ([\d.e+-]+) \(squared error\): (anomalous|normal) at threshold ([\d.e+-]+)", score.inner_text())
    assert m, score.inner_text()
    if float(m.group(1)) != float(m.group(3)):     # (shown to 3 digits: equal ones say nothing)
        assert (m.group(2) == "anomalous") == (float(m.group(1)) > float(m.group(3)))
    shown = captioned(page)
    assert {"as the model sees it", "reconstruction", "error per pixel"} <= set(shown)
    one = fetch_grey(page, shown["as the model sees it"])
    assert one.max() > 0.5 and (one > 0.5).mean() < 0.15      # a thin upright stroke


def test_draw_on_the_denoising_page(page, app_url):
    open_from_navigation(page, app_url, "Denoising",  # both models trained: 5 metrics
                         "() => document.querySelectorAll('[data-testid=stMetric]').length >= 5")
    draw(page, SEVEN)
    page.wait_for_function(f"() => ({CAPTIONED})().some(([c]) => c === 'your digit')", timeout=30_000)
    wait_for_app(page)
    shown = captioned(page)
    noisy = next(c for c in shown if re.fullmatch(r"gaussian \d\.\d\d", c))
    outputs = [c for c in shown if c.endswith(" output")]
    assert len(outputs) == 2
    clean, corrupted = fetch_grey(page, shown["your digit"]), fetch_grey(page, shown[noisy])
    assert looks_like_seven(clean)
    assert np.abs(clean - corrupted).mean() > 0.05            # noise added to the drawing first
    for c in outputs:
        assert np.abs(fetch_grey(page, shown[c]) - corrupted).mean() > 0.01
