"""AppTest of the transposed-convolution page: slide numbers, settings, presets, links and bad input."""

import re

import numpy as np
import pytest

from apcore import tconv
from tests.app.conftest import open_tab, page_test

SLIDE_1 = [[0, 4, 1], [8, 16, 6], [4, 12, 9]]
SLIDE_2 = [[0, 0, 1, 4], [0, 0, 2, 3], [2, 8, 3, 12], [4, 6, 6, 9]]


def html_grid(at, testid: str) -> list[list[float]]:
    """Numbers of the HTML table ``data-testid=testid`` drawn by ui.tconv."""
    for el in at.get("html"):
        m = re.search(rf"<table[^>]*data-testid='{testid}'[^>]*>(.*?)</table>", el.value, re.S)
        if m:
            return [[float(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", tr)]
                    for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)]
    raise AssertionError(f"no table {testid!r} on the page")


def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def at():
    return run(page_test("transposed_conv", timeout=60))


def test_defaults_show_slide_stride_1(at):
    assert not at.error
    assert html_grid(at, "tconv-running") == SLIDE_1          # last step: the whole output
    assert "Matches `torch.nn.ConvTranspose2d`" in at.success[0].value
    assert any("= \\mathbf{3}" in x.value for x in at.latex)
    assert at.query_params["x"] == "0,1;2,3" and at.query_params["preset"] == "slide-1"   # a slide can link here
    assert all("tconv-equivalent" not in el.value for el in at.get("html"))  # closed tabs are not drawn
    open_tab(at, "tconv_tab", "As an ordinary convolution")
    assert html_grid(at, "tconv-equivalent") == SLIDE_1


def test_changing_stride_updates_output(at):
    at.slider(key="stride").set_value(2)   # bound to ?stride=: the browser test sees the URL follow
    run(at)
    expected = tconv.transposed_conv_steps([[0, 1], [2, 3]], [[4, 1], [2, 3]], stride=2)[1].tolist()
    assert html_grid(at, "tconv-running") == expected == [[0, 0, 4, 1], [0, 0, 2, 3], [8, 2, 12, 3], [4, 6, 6, 9]]
    assert any("= \\mathbf{4}" in x.value for x in at.latex)


def test_preset_stride_2_and_padding_crop(at):
    at.selectbox(key="tconv_preset").set_value("slide-2")
    run(at)
    assert at.slider(key="stride").value == 2
    assert html_grid(at, "tconv-running") == SLIDE_2
    at.slider(key="padding").set_value(1)
    run(at)
    assert html_grid(at, "tconv-output") == [[0, 2], [8, 3]]   # the slide's output without its border
    assert html_grid(at, "tconv-running") == SLIDE_2


def test_step_slider_and_play(at):
    at.slider(key="tconv_step").set_value(2)
    run(at)
    assert any("Step 2 of 4" in m.value for m in at.markdown)
    assert html_grid(at, "tconv-input")                      # the grid with the highlighted cell
    assert html_grid(at, "tconv-scaled") == [[4, 1], [2, 3]]  # input (0, 1) = 1 scales the kernel
    assert html_grid(at, "tconv-running") == [[0, 4, 1], [0, 2, 3], [0, 0, 0]]
    at.slider(key="tconv_step").set_value(4)
    run(at)
    at.button(key="tconv_play").click()
    run(at)                                                  # Play from the end starts again at step 1
    assert at.session_state["tconv_playing"] is True
    assert at.slider(key="tconv_step").value == 1
    assert at.button(key="tconv_play").label == "Pause"


def test_bad_cell_gives_message(at):
    version = at.session_state["tconv_version"]
    at.session_state[f"tconv_x_editor_{version}"] = {"edited_rows": {0: {"1": "abc"}}, "added_rows": [],
                                                     "deleted_rows": []}
    run(at)
    assert len(at.error) == 1
    assert "Input cell (row 1, column 2) is 'abc': not a number" in at.error[0].value
    assert not at.get("html")                                # no half-drawn grids


@pytest.mark.parametrize("params,message", [
    ({"x": "0,a;2,3"}, "is 'a': not a number"),
    ({"x": ""}, "input grid is empty"),
    ({"x": ";".join([",".join(["1"] * 9)] * 9)}, "at most 8 x 8"),
    ({"k": ";".join([",".join(["1"] * 6)] * 6)}, "at most 5 x 5"),
    ({"stride": "1", "outpad": "1"}, "must be smaller than the stride (1) or the dilation (1)"),
    ({"padding": "2"}, "empty output"),
])
def test_bad_links_give_messages(params, message):
    at = page_test("transposed_conv", timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    run(at)
    assert len(at.error) == 1 and message in at.error[0].value, [e.value for e in at.error]


def test_link_sets_grid_and_settings():
    at = page_test("transposed_conv", timeout=60)
    at.query_params.update({"x": "1,2;3,4", "k": "1", "stride": "3", "dilation": "2"})
    run(at)
    assert not at.error
    assert html_grid(at, "tconv-running") == [[1, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]
    assert at.number_input(key="tconv_k_rows").value == 1


def test_link_opens_a_tab():
    at = page_test("transposed_conv", timeout=60)
    at.query_params["tconv_tab"] = "Overlap map"
    run(at)
    assert html_grid(at, "tconv-overlap") == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]   # 2x2 kernel, stride 1
    assert all("tconv-running" not in el.value for el in at.get("html"))


def test_random_preset_and_resize(at):
    at.selectbox(key="tconv_preset").set_value("random")
    run(at)
    assert not at.error
    before = (at.session_state["tconv_x_text"], at.session_state["tconv_k_text"])
    at.button(key="tconv_new_random").click()
    run(at)
    assert not at.error and at.session_state["tconv_seed"] == 1
    assert (at.session_state["tconv_x_text"], at.session_state["tconv_k_text"]) != before
    at.number_input(key="tconv_k_rows").set_value(5)
    at.number_input(key="tconv_k_cols").set_value(1)
    run(at)
    assert not at.error
    assert np.array(at.data_editor[1].value).shape == (5, 1)


def test_decoder_layers_listed(at):
    open_tab(at, "tconv_tab", "In the decoders")
    table = at.dataframe[-1].value
    assert list(table["output (C, H, W)"]) == ["16 × 14 × 14", "1 × 28 × 28"] * 2
    assert set(table["model"]) == {"Conv AE", "Conv VAE"}
