"""Touching the latent space (ui/plane.py, ui/touch.py): the click -> z mapping, the latent grid's
cells, the canvas through the uploads' preprocessing, and the pages acting on a click.

Custom components do not render in AppTest, but their state can be set as a browser would set it
(``{x, y, width, height, unix_time}`` for a click): the pages' reaction is tested here, the
components themselves in tests/e2e/test_touch_e2e.py.
"""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from apcore import explore
from apcore.config import ModelConfig
from apcore.digitize import digitize
from apcore.models import build
from tests.app.conftest import open_tab, page_test, run_until_trained
from ui import plane as planes
from ui.figures import COLORS
from ui.touch import CANVAS, STROKE, canvas_digit, z_text

PLANE = planes.Plane((-3.5, 2.0), (-1.25, 4.75))


def test_pixel_and_latent_round_trip():
    rng = np.random.default_rng(0)
    for z in rng.uniform((-3.5, -1.25), (2.0, 4.75), (200, 2)):
        assert np.allclose(PLANE.to_latent(*PLANE.to_pixel(z)), z, rtol=0, atol=1e-12)
    for x, y in rng.uniform((PLANE.left, PLANE.top), (PLANE.left + PLANE.plot_width, PLANE.top + PLANE.plot_height), (200, 2)):
        assert np.allclose(PLANE.to_pixel(PLANE.to_latent(x, y)), (x, y), rtol=0, atol=1e-9)
    # the plot area's corners are the extent's corners; z2 grows upwards
    assert PLANE.to_pixel((-3.5, 4.75)) == (PLANE.left, PLANE.top)
    assert PLANE.to_pixel((2.0, -1.25)) == (PLANE.left + PLANE.plot_width, PLANE.top + PLANE.plot_height)
    assert list(PLANE.to_latent(PLANE.left + PLANE.plot_width, PLANE.top)) == [2.0, 4.75]
    # margins (ticks, legend) are no point of the plane
    assert PLANE.to_latent(PLANE.left - 1, 100) is None and PLANE.to_latent(PLANE.width - 5, 100) is None


def test_a_click_on_a_scaled_image_maps_to_the_same_point():
    """The browser shows the picture at the column's width and reports the click in CSS pixels."""
    z = np.array([0.3, 2.2])
    x, y = PLANE.to_pixel(z)
    for shown in (PLANE.width, PLANE.width * 1.45, PLANE.width / 2):
        scale = shown / PLANE.width
        click = {"x": x * scale, "y": y * scale, "width": shown, "height": PLANE.height * scale, "unix_time": 1}
        assert np.allclose(PLANE.from_click(click), z, atol=1e-12)


def test_the_drawing_puts_dots_and_the_marker_where_the_mapping_says():
    codes = np.array([[-2.0, 0.0], [1.0, 3.0]])
    picture = planes.draw(PLANE, codes, np.array([3, 7]), tuple("0123456789"), radius=3, alpha=255)
    assert picture.size == (PLANE.width, PLANE.height)
    for z, c in zip(codes, (3, 7)):
        x, y = PLANE.to_pixel(z)
        assert picture.getpixel((int(x), int(y))) == tuple(int(COLORS[c][i:i + 2], 16) for i in (1, 3, 5))
    z = np.array([-0.7, 1.9])
    marked = planes.with_marker(picture, PLANE, z)
    x, y = PLANE.to_pixel(z)
    assert marked.getpixel((int(x), int(y))) == planes.MARKER
    assert picture.getpixel((int(x), int(y))) != planes.MARKER   # the cached picture is not drawn on


def test_plane_extent_is_the_playgrounds_slider_range():
    codes = np.array([[0.0, -1.0], [2.0, 3.0]])
    lo, hi = planes.extent(codes)
    assert list(lo) == [-1.0, -3.0] and list(hi) == [3.0, 5.0]
    plane = planes.plane_for(codes)
    assert plane.z1 == (-1.0, 3.0) and plane.z2 == (-3.0, 5.0)


def test_ticks_are_round_and_inside():
    t = planes.ticks(-3.4, 4.9)
    assert list(t) == [-2.0, 0.0, 2.0, 4.0]
    assert list(planes.ticks(0.01, 0.052)) == [0.01, 0.02, 0.03, 0.04, 0.05]


@pytest.mark.parametrize("span", [None, 2.5])
def test_grid_cells_are_the_latent_grids_points(span):
    """Oracle: decoding the z of cell (row, col) gives latent_grid's image at row * n + col."""
    torch.manual_seed(0)
    model = build(ModelConfig(family="vae-mlp" if span is None else "ae-mlp", latent_dim=2)).eval()
    n = 7
    grid = explore.latent_grid(model, n, span)
    for row, col in [(0, 0), (0, 6), (6, 0), (3, 4), (5, 2)]:
        assert torch.allclose(explore.decode(model, planes.grid_z(row, col, n, span))[0], grid[row * n + col], atol=1e-6)
    # a click in the middle of a cell of the montage as shown (any size) names that cell
    for shown in (7 * 56, 300):
        cell = shown / n
        assert planes.grid_cell({"x": 4.5 * cell, "y": 2.5 * cell, "width": shown, "height": shown}, n) == (2, 4)
        assert planes.grid_cell({"x": shown, "y": 0, "width": shown, "height": shown}, n) == (0, 6)


def test_z_text():
    assert z_text(np.array([0.123, -1.5])) == "z = (0.12, -1.50)"
    assert z_text(np.arange(10.0)) == "z = (0.00, 1.00, 2.00, 3.00, 4.00, 5.00, 6.00, 7.00, …)"


# -- the canvas -----------------------------------------------------------------------------------

def drawing() -> Image.Image:
    """A "7" as the canvas draws it: white anti-aliased strokes on black, RGBA, canvas-sized."""
    im = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 255))
    pen = ImageDraw.Draw(im)
    pen.line([(70, 60), (200, 60), (120, 230)], fill=(255, 255, 255, 255), width=STROKE, joint="curve")
    return im


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_canvas_goes_through_the_upload_preprocessing():
    canvas = drawing()
    digit = canvas_digit([{"type": "path"}], png(canvas))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    # the same drawing uploaded as a scan (dark ink on white, grey PNG) gives the same digit
    scan = Image.fromarray(255 - np.asarray(canvas.convert("L")))
    upload, notes = digitize(png(scan))
    assert any("inverted" in n for n in notes)
    assert np.allclose(digit, upload, atol=1e-5)
    # MNIST's layout: the ink fits 20x20, centred by mass in 28x28
    rows, cols = np.nonzero(digit)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21
    cy, cx = (np.indices(digit.shape) * digit).reshape(2, -1).sum(1) / digit.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1


def test_an_empty_canvas_is_no_digit():
    blank = png(Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 255)))
    assert canvas_digit([], png(drawing())) is None          # everything undone / cleared
    assert canvas_digit(None, None) is None                   # never drawn on
    assert canvas_digit([{"type": "path"}], blank) is None    # strokes that left no ink


def digit_script():
    import streamlit as st

    from ui.touch import user_digit

    digit = user_digit("test_digit")
    st.markdown("no digit" if digit is None else f"digit {tuple(digit.shape)}")


def test_user_digit_draw_tab_hints_and_upload_tab_converts():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(digit_script, default_timeout=30).run()
    assert not at.exception and not at.error
    assert at.markdown[-1].value == "no digit"
    assert any(c.value.startswith("Draw one digit") for c in at.caption)   # the empty canvas: a hint
    at.session_state["test_digit"] = "Upload"
    at.run()
    at.file_uploader(key="test_digit_upload").set_value(("seven.png", png(drawing()), "image/png")).run()
    assert not at.exception and not at.error
    assert at.markdown[-1].value == "digit (1, 1, 28, 28)"


# -- the pages ------------------------------------------------------------------------------------

def image_captions(at) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def click_at(plane: planes.Plane, z, t: int, shown: float = 800.0) -> dict:
    """What the browser reports for a click on ``plane`` at ``z``, shown ``shown`` px wide."""
    x, y = plane.to_pixel(z)
    scale = shown / plane.width
    return {"x": x * scale, "y": y * scale, "width": shown, "height": plane.height * scale, "unix_time": t}


def test_autoencoder_playground_click_sets_the_sliders():
    from ui.explore import test_codes
    from ui.resources import store
    from apcore.defaults import default_config

    at = run_until_trained(page_test("autoencoder"))
    open_tab(at, "ae_tab", "Decoder playground")
    assert [s.label for s in at.slider] == ["z1", "z2"]
    assert any(c.startswith("z = (") for c in image_captions(at))
    trained = store().latest(default_config("ae-mlp", latent_dim=2))
    plane = planes.plane_for(test_codes(trained))
    assert [(s.min, s.max) for s in at.slider] == [pytest.approx(plane.z1), pytest.approx(plane.z2)]
    for t, u in enumerate([(0.1, 0.8), (0.9, 0.15)], start=1):
        z = np.array([plane.z1[0] + u[0] * (plane.z1[1] - plane.z1[0]), plane.z2[0] + u[1] * (plane.z2[1] - plane.z2[0])])
        at.session_state["ae_plane_click"] = click_at(plane, z, t)
        at.run()
        assert not at.exception
        assert [s.value for s in at.slider] == pytest.approx(list(z), abs=1e-6)
        assert z_text(z) in image_captions(at)
    # a slider moved after a click keeps its own value (the click is acted on once)
    at.slider[0].set_value(float(plane.z1[0])).run()
    assert at.slider[0].value == pytest.approx(plane.z1[0])


def test_vae_grid_cell_and_plane_click():
    from ui.explore import test_codes
    from ui.resources import store
    from apcore.defaults import default_config

    at = run_until_trained(page_test("vae"))
    open_tab(at, "vae_tab", "Latent grid")
    n = at.slider(key="vae_grid_n").value
    middle = planes.grid_z(n // 2, n // 2, n)
    assert f"VAE grid, row {n // 2 + 1}, column {n // 2 + 1}: {z_text(middle)}" in image_captions(at)
    shown = 600.0
    at.session_state["vae_grid_click_VAE"] = {"x": 2.5 * shown / n, "y": 0.5 * shown / n, "width": shown,
                                              "height": shown, "unix_time": 1}
    at.run()
    assert f"VAE grid, row 1, column 3: {z_text(planes.grid_z(0, 2, n))}" in image_captions(at)
    assert at.session_state["vae_grid_cell"] == ["VAE", 0, 2]
    vae = store().latest(default_config("vae-mlp", latent_dim=2))
    plane = planes.plane_for(test_codes(vae))
    z = np.array([plane.z1[0] * 0.5, plane.z2[1] * 0.5])
    at.session_state["vae_plane_click"] = click_at(plane, z, 2)
    at.run()
    assert not at.exception
    assert np.allclose(at.session_state["vae_plane_z"], z)
    assert z_text(z) in image_captions(at)


def test_vae_continuity_asks_for_your_digit():
    at = run_until_trained(page_test("vae"))
    open_tab(at, "vae_tab", "Continuity")
    at.selectbox(key="vae_to").set_value(-1).run()
    assert not at.exception
    assert any("Draw or upload your digit" in i.value for i in at.info)
    assert len(at.get("image")) == 0   # no walk without its end


def test_a_new_digit_lands_where_its_test_image_is_drawn():
    """Oracle: ``place`` puts a test image where the page's projection drew it (PCA, latent 5;
    the codes themselves at latent 2); t-SNE has no place for it."""
    import time

    from apcore.cache import TrainedModel
    from apcore.data import to_float
    from ui.explore import place, projection
    from ui.resources import dataset

    def untrained(latent: int) -> TrainedModel:
        config = ModelConfig(family="ae-mlp", latent_dim=latent, seed=1000 + latent)   # a key of its own
        return TrainedModel(config, build(config).eval(), [], {}, 0.0, "cpu", time.time())

    torch.manual_seed(0)
    images = to_float(dataset("mnist").test_images[:5])
    for latent, method in ((5, "pca"), (2, "auto")):
        trained = untrained(latent)
        idx, points, _ = projection(trained, method)
        code, where = place(trained, method, images)
        assert code.shape == (5, latent)
        assert np.allclose(where, points[np.searchsorted(idx, np.arange(5))], atol=1e-4)
    assert place(untrained(5), "tsne", images)[1] is None


def test_autoencoder_page_places_an_uploaded_digit():
    at = run_until_trained(page_test("autoencoder"))
    open_tab(at, "ae_tab", "Latent space")
    at.session_state["ae_digit"] = "Upload"
    at.run()
    at.file_uploader(key="ae_digit_upload").set_value(("seven.png", png(drawing()), "image/png")).run()
    assert not at.exception and not at.error
    assert {"your digit, as the model sees it", "its reconstruction"} <= set(image_captions(at))
    code = next(m.value for m in at.markdown if m.value.startswith("Its code: z = ("))
    star = next(t for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if t.get("name") == "your digit")
    assert z_text([star["x"][0], star["y"][0]]) in code
