"""Touch the latent space: click the 2-D plane or a cell of the latent grid to decode that point,
and draw a digit instead of uploading one.

Why a clickable picture (``streamlit-image-coordinates`` on a PIL drawing, ``ui/plane.py``) and
not Plotly: Streamlit's Plotly selection returns existing points only, so a click on empty space
needs an invisible grid trace, and its resolution is the grid's spacing. A grid fine enough to
feel continuous (100 x 100) is 10,000 points: over 1,000 Plotly draws a scatter with WebGL, whose
selection events differ from SVG's, and in SVG 10,000 paths make every redraw slow; a selection
also dims the unselected points unless each trace overrides it, and moving the marker changes the
figure, which resets the selection. The picture has none of that: the component reports the
click in CSS pixels with the size the image was shown at, and ``Plane.from_click`` maps it to z
exactly (tested, round trip and against the drawn marker). The plane is drawn once per model
(3,000 dots) and only the marker is drawn per click; the picture is ~20 KB, and a click shows its
digit in ~0.2 s on the 2-core CPU (bench/results/touch.md).

A click is taken *before* the widgets it sets are created (``clicked_point``, at the top of the
view): the component's last value is in ``st.session_state`` when the run starts. Each click
carries its time, so a click is acted on once; a slider moved afterwards keeps its own value.
That also works in AppTest, where components do not render but their state can be set.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image
from streamlit_image_coordinates import streamlit_image_coordinates

from apcore import explore
from apcore.cache import TrainedModel
from apcore.digitize import DigitizeError, digitize
from apcore.models import Autoencoder

from . import images
from . import plane as planes
from .explore import place
from .upload import uploaded_digit

DOTS = 3000       # test codes drawn on the plane: the shape, without a solid blot
CANVAS = 280      # px: ten canvas pixels per MNIST pixel
STROKE = 24       # px: after scaling the digit's height (~200 px) to 20, MNIST's pen of ~2.5 px
DRAW_HINT = ("Draw one digit with the mouse or a finger, as large as the box allows; it is read "
             "each time you let go. The toolbar's bin clears the box.")


def z_text(z, most: int = 8) -> str:
    """A latent point as the page shows it: ``z = (0.12, -1.50)``; at most ``most`` numbers."""
    z = np.asarray(z).ravel()
    return "z = (" + ", ".join(f"{v:.2f}" for v in z[:most]) + (", …" if len(z) > most else "") + ")"


def show_digits(shown: dict[str, torch.Tensor], columns: int = 4) -> None:
    """Digits (1, 28, 28) or (28, 28) side by side, each large with its caption."""
    for col, (caption, image) in zip(st.columns(max(columns, len(shown))), shown.items()):
        with col:  # the column's width, whatever the page's layout
            st.image(images.montage(image, nrow=1, padding=0, upscale=8), caption=caption, width="stretch")


def show_code(trained: TrainedModel, method: str, digit: torch.Tensor) -> np.ndarray | None:
    """The user's digit (1, 1, 28, 28) as the model sees it, its reconstruction and its code;
    returns where it lands in the page's 2-D view (``ui.explore.place``), None for t-SNE."""
    code, where = place(trained, method, digit)
    show_digits({"your digit, as the model sees it": digit[0],
                 "its reconstruction": explore.reconstruct(trained.model, digit)[0]})
    st.markdown(f"Its code: {z_text(code)}" + (" — the star in the plot." if where is not None else
                ". t-SNE has no map for a new point: choose PCA to see where it lands."))
    return None if where is None else where[0]


def mark(fig: go.Figure, point, name: str) -> go.Figure:
    """Add a point (2,) to a latent scatter as a large black star named ``name``."""
    fig.add_scatter(x=[float(point[0])], y=[float(point[1])], mode="markers", name=name, hoverinfo="skip",
                    marker=dict(size=24, symbol="star", color="black", line=dict(color="white", width=2)))
    return fig


# -- clicks ---------------------------------------------------------------------------------------

def _new_click(key: str) -> dict | None:
    """The component ``key``'s last click if this session has not acted on it yet."""
    click = st.session_state.get(key)
    if not isinstance(click, dict) or "x" not in click:
        return None
    seen = f"_{key}_seen"
    if st.session_state.get(seen) == click.get("unix_time"):
        return None
    st.session_state[seen] = click.get("unix_time")
    return click


def clicked_point(key: str, plane: planes.Plane) -> np.ndarray | None:
    """The latent point (2,) of a new click on the plane shown under ``key``, else None (no new
    click, or one in the margins). Call it before creating the widgets the click sets."""
    click = _new_click(key)
    return None if click is None else plane.from_click(click)


def plane_picture(cache_key: str, codes: np.ndarray, labels: np.ndarray,
                  class_names: tuple[str, ...]) -> tuple[planes.Plane, Image.Image]:
    """The plane over ``codes`` (N, 2) (``plane.extent``: the decoder playground's slider
    ranges) and its picture without marker, the first ``DOTS`` codes as dots, drawn once per
    ``cache_key`` (the model's key): read-only."""
    return _plane_picture(cache_key, tuple(class_names), codes, labels)


@st.cache_resource(max_entries=16, show_spinner=False)
def _plane_picture(cache_key: str, class_names: tuple[str, ...], _codes: np.ndarray,
                   _labels: np.ndarray) -> tuple[planes.Plane, Image.Image]:
    plane = planes.plane_for(_codes)
    return plane, planes.draw(plane, _codes[:DOTS], _labels[:DOTS], class_names)


def clickable_plane(key: str, plane: planes.Plane, picture: Image.Image, z) -> None:
    """Show ``picture`` with a star at ``z``; a click on it reruns the page (read it with
    :func:`clicked_point`)."""
    streamlit_image_coordinates(planes.with_marker(picture, plane, z), key=key, width="stretch",
                                png_compression_level=1, cursor="crosshair")


def clickable_grid(key: str, montage: np.ndarray, n: int) -> tuple[int, int] | None:
    """Show an n x n montage (``images.montage``, no padding); (row, column) of a new click on it."""
    streamlit_image_coordinates(montage, key=key, width="stretch", png_compression_level=1, cursor="pointer")
    click = _new_click(key)
    return None if click is None else planes.grid_cell(click, n)


def latent_grids(key: str, grids: dict[str, tuple[Autoencoder, float | None, str]], n: int) -> None:
    """Latent grids side by side (``apcore.explore.latent_grid``; name -> (model, span, caption)),
    each clickable; below them the clicked cell's z and its digit large. The cell is kept as plain
    state ``key_cell`` (the room following the lecturer sees the same cell)."""
    for col, (name, (model, span, caption)) in zip(st.columns(len(grids)), grids.items()):
        with col:
            st.markdown(caption)
            grid = images.montage(explore.latent_grid(model, n, span), nrow=n, padding=0, upscale=2)
            cell = clickable_grid(f"{key}_click_{name}", grid, n)
            if cell is not None:
                st.session_state[f"{key}_cell"] = [name, *cell]
    picked = st.session_state.get(f"{key}_cell")
    if not picked or picked[0] not in grids or max(picked[1:]) >= n:  # none yet, or a smaller grid now
        picked = [next(iter(grids)), n // 2, n // 2]  # the first grid's middle cell
        st.caption("Click a cell of a grid to see its z and its digit large.")
    name, row, col = picked
    model, span, _ = grids[name]
    z = planes.grid_z(row, col, n, span)
    images.show_digit(explore.decode(model, z)[0], width=240,
                      caption=f"{name} grid, row {row + 1}, column {col + 1}: {z_text(z)}")


def decode_on_click(key: str, trained: TrainedModel, codes: np.ndarray, labels: np.ndarray,
                    class_names: tuple[str, ...]) -> None:
    """The 2-D plane of ``codes`` (the model's test codes), clickable, beside the decoding of the
    clicked point (at first the origin). The point is kept as plain state ``key_z``."""
    plane, picture = plane_picture(trained.config.key, codes, labels, class_names)
    clicked = clicked_point(f"{key}_click", plane)
    if clicked is not None:
        st.session_state[f"{key}_z"] = clicked.tolist()
    z = np.array(st.session_state.get(f"{key}_z", [0.0, 0.0]))
    left, right = st.columns([2, 1])
    with left:
        clickable_plane(f"{key}_click", plane, picture, z)
    with right:
        images.show_digit(explore.decode(trained.model, z)[0], caption=z_text(z), width=240)


# -- the user's own digit -------------------------------------------------------------------------

def canvas_digit(objects: list | None, png: bytes | None) -> np.ndarray | None:
    """A canvas drawing -> (28, 28) float32 digit in [0, 1], through the uploads' MNIST-style
    preprocessing (``apcore.digitize``: the canvas's own PNG is what an upload would be); None
    for an empty or blank canvas."""
    if not objects or not png:
        return None
    try:
        return digitize(png)[0]
    except DigitizeError:  # strokes that leave no ink (drawn outside, or a dot of background colour)
        return None


def drawn_digit(key: str) -> torch.Tensor | None:
    """A drawing canvas, light ink on black as MNIST's digits; the drawing as (1, 1, 28, 28)
    float in [0, 1], or None with a hint while the canvas is empty."""
    # imported here: a v2 component finds its files through the manifest a running server has
    # loaded; importing it outside one (unit tests of this module) raises
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(stroke_width=STROKE, stroke_color="#ffffff", background_color="#000000",
                       width=CANVAS, height=CANVAS, drawing_mode="freedraw", return_image_data=True, key=key)
    digit = canvas_digit((result.json_data or {}).get("objects"), result.image_bytes)
    if digit is None:
        st.caption(DRAW_HINT)
        return None
    return torch.from_numpy(digit).reshape(1, 1, 28, 28)


def user_digit(key: str) -> torch.Tensor | None:
    """The user's own digit, drawn or uploaded (two tabs; only the open one is shown), as
    (1, 1, 28, 28) float in [0, 1], or None. Widget keys: ``key`` (the tabs), ``key_canvas``,
    ``key_upload``."""
    draw, upload = st.tabs(["Draw", "Upload"], key=key, on_change="rerun")
    if draw.open:
        with draw:
            return drawn_digit(f"{key}_canvas")
    with upload:
        return uploaded_digit(f"{key}_upload")
