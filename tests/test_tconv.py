"""apcore.tconv against its oracle, torch.nn.functional.conv_transpose2d, and the slides' examples."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from apcore import defaults, models, tconv
from apcore.tconv import TConvInputError

SLIDE_X = [[0, 1], [2, 3]]


def torch_tconv(x, kernel, **kw):
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None]
    w = torch.as_tensor(np.asarray(kernel, dtype=np.float64))[None, None]
    return F.conv_transpose2d(x, w, **kw)[0, 0].numpy()


def test_slide_stride_1():
    _, out = tconv.transposed_conv_steps(SLIDE_X, [[4, 1], [2, 3]], stride=1)
    np.testing.assert_array_equal(out, [[0, 4, 1], [8, 16, 6], [4, 12, 9]])


def test_slide_stride_2():
    steps, out = tconv.transposed_conv_steps(SLIDE_X, [[1, 4], [2, 3]], stride=2)
    np.testing.assert_array_equal(out, [[0, 0, 1, 4], [0, 0, 2, 3], [2, 8, 3, 12], [4, 6, 6, 9]])
    # The slide's partial grids: input 2 at (1, 0) puts 2 x kernel at rows 2-3, columns 0-1.
    step = steps[2]
    assert (step.i, step.j, step.value) == (1, 0, 2.0)
    np.testing.assert_array_equal(step.scaled, [[2, 8], [4, 6]])
    np.testing.assert_array_equal(step.rows, [2, 3])
    np.testing.assert_array_equal(step.cols, [0, 1])
    np.testing.assert_array_equal(step.placed((4, 4))[2:, :2], [[2, 8], [4, 6]])


grids = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(shapes=grids, stride=st.integers(1, 3), padding=st.integers(0, 3), output_padding=st.integers(0, 2),
       dilation=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_matches_torch(shapes, stride, padding, output_padding, dilation, seed):
    h, w, kh, kw = shapes
    rng = np.random.default_rng(seed)
    x, kernel = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
    kw_ = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    try:
        expected = torch_tconv(x, kernel, **kw_)
    except RuntimeError:
        # Exactly where torch refuses, we refuse with a message for the page.
        with pytest.raises(TConvInputError):
            tconv.transposed_conv_steps(x, kernel, **kw_)
        return
    steps, out = tconv.transposed_conv_steps(x, kernel, **kw_)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert len(steps) == h * w
    assert out.shape == (tconv.output_size(h, kh, **kw_), tconv.output_size(w, kw, **kw_))
    np.testing.assert_allclose(tconv.equivalent_convolution(x, kernel, **kw_).output, expected, atol=1e-12)
    np.testing.assert_allclose(tconv.torch_reference(x, kernel, **kw_), expected, atol=1e-12)


@pytest.mark.parametrize("stride,output_padding,dilation,ok", [
    (1, 1, 1, False), (2, 1, 1, True), (1, 1, 2, True), (2, 2, 2, False), (2, 2, 3, True), (3, 2, 1, True)])
def test_output_padding_rule_as_torch(stride, output_padding, dilation, ok):
    x, k = np.ones((3, 3)), np.ones((2, 2))
    kw = dict(stride=stride, output_padding=output_padding, dilation=dilation)
    if ok:
        np.testing.assert_array_equal(tconv.transposed_conv_steps(x, k, **kw)[1], torch_tconv(x, k, **kw))
    else:
        with pytest.raises(RuntimeError):
            torch_tconv(x, k, **kw)
        with pytest.raises(TConvInputError, match="smaller than the stride"):
            tconv.transposed_conv_steps(x, k, **kw)


def test_empty_output_message():
    with pytest.raises(TConvInputError, match="empty output"):
        tconv.transposed_conv_steps([[1]], [[1, 1], [1, 1]], padding=1)


def test_overlap_checkerboard_k3_vs_even_k4():
    k3 = tconv.overlap_counts((4, 4), (3, 3), stride=2)
    assert k3.shape == (9, 9)
    np.testing.assert_array_equal(k3[2:7, 2:7] > 1, np.add.outer(np.arange(5) % 2 == 0, np.arange(5) % 2 == 0) > 0)
    assert set(np.unique(k3[2:7, 2:7])) == {1, 2, 4}          # uneven: the checkerboard
    k4 = tconv.overlap_counts((4, 4), (4, 4), stride=2, padding=1)
    assert np.all(k4[1:-1, 1:-1] == 4)                          # even in the interior


def test_equivalent_view_marks_cells():
    eq = tconv.equivalent_convolution(SLIDE_X, [[1, 4], [2, 3]], stride=2)
    assert eq.border == (1, 1)
    assert eq.grid.shape == (5, 5)
    np.testing.assert_array_equal(eq.flipped, [[3, 2], [4, 1]])
    assert (eq.kind == 0).sum() == 4 and (eq.kind == 1).sum() == 5 and (eq.kind == 2).sum() == 16


@pytest.mark.parametrize("cells,match", [
    ([["1", "x"], ["2", "3"]], r"row 1, column 2\) is 'x': not a number"),
    ([["1", ""], ["2", "3"]], r"row 1, column 2\) is empty"),
    ([[1, None], [2, 3]], "is empty"),
    ([[1, float("nan")]], "is empty"),
    ([], "grid is empty"),
    ([[]], "grid is empty"),
    ([[1, 2], [3]], "not rectangular"),
    ([["1e400"]], "between"),
    (np.zeros((9, 2)), "at most 8 x 8"),
])
def test_parse_grid_messages(cells, match):
    with pytest.raises(TConvInputError, match=match):
        tconv.explain(cells, [[1]])


def test_kernel_cap_and_typed_numbers():
    with pytest.raises(TConvInputError, match="kernel grid is 6 x 1; at most 5 x 5"):
        tconv.explain([[1]], [[1]] * 6)
    np.testing.assert_array_equal(tconv.parse_grid([[" 2 ", "\u22121.5", 3]]), [[2, -1.5, 3]])


def test_explain_slide_stride_2():
    e = tconv.explain([["0", "1"], ["2", "3"]], [["1", "4"], ["2", "3"]], stride=2)
    assert e.max_difference == 0
    np.testing.assert_array_equal(e.running_full(len(e.steps)), e.full)
    np.testing.assert_array_equal(e.running_full(1), np.zeros((4, 4)))   # input 0 adds nothing
    np.testing.assert_array_equal(e.overlap, np.ones((4, 4)))


@pytest.mark.parametrize("family", ["ae-conv", "vae-conv"])
def test_decoder_layers_shapes(family):
    model = models.build(defaults.default_config(family, latent_dim=4))
    layers = tconv.decoder_transposed_layers(model)
    assert [(r["input_shape"], r["output_shape"]) for r in layers] == [((32, 7, 7), (16, 14, 14)),
                                                                       ((16, 14, 14), (1, 28, 28))]
    for r in layers:
        assert r["output_shape"][1] == tconv.output_size(r["input_shape"][1], r["kernel"], r["stride"],
                                                         r["padding"], r["output_padding"], r["dilation"])
