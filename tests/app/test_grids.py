"""ui.grids: the HTML grids of the transposed-convolution page (no app run needed)."""

import re

import numpy as np

from ui import grids


def test_css_and_legends_share_one_colour_table():
    for cls, style in grids.CELL_STYLES.items():
        rule = re.search(rf"table\.tc-grid td\.{cls},\.tc-chip\.{cls}\{{([^}}]*)\}}", grids.CSS)
        assert rule, cls
        assert rule.group(1).replace(" !important", "") == style
    chips = grids.legend(("cur", "current input cell"), ("crop", "cropped by padding"))
    assert re.findall(r'class="tc-chip (\w+)"', chips) == ["cur", "crop"]
    assert "style=" not in chips  # the colour comes from the table, not written again


def test_grid_writes_every_number_with_its_class():
    html = grids.grid(np.array([[0, 1.5], [2, -0.004]]), "Input", {(0, 1): "cur"}, testid="g")
    cells = re.findall(r'<td class="(\w*)"[^>]*>([^<]*)</td>', html)
    assert cells == [("", "0"), ("cur", "1.5"), ("", "2"), ("", "0")]
    assert "data-testid='g'" in html and ">Input<" in html


def test_fmt():
    assert [grids.fmt(v) for v in (3.0, -2.0, 0.125, 1.999999999999, -0.001)] == ["3", "-2", "0.12", "2", "0"]
