"""Number grids drawn as HTML tables, for the transposed-convolution page.

HTML tables rather than Plotly heatmaps: crisp numbers in every cell at any size, real borders for
the highlights, and the slides' "Input, Kernel, partial grids, = Output" layout as one wrapping
row. Build a page's figure from :func:`grid`, :func:`op`, :func:`row` and :func:`legend`, then
draw it with :func:`show`.
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

# Cell highlights by CSS class: the grids' CSS and every legend's colour chips are made from this
# one table, so a legend always shows the colour its cells have.
CELL_STYLES = {
    "plain": "background:#fff",
    "cur": "background:#ff7f0e;color:#fff;font-weight:700",
    "contrib": "background:#ffe1c4;box-shadow:inset 0 0 0 3px #ff7f0e;font-weight:700",
    "kern": "background:#e6f2e6",
    "crop": "background:repeating-linear-gradient(45deg,#f4f5f7,#f4f5f7 5px,#e3e6ea 5px,#e3e6ea 10px);color:#9aa3af",
    "ins": "background:#dbe8fb;color:#5b6f93",
    "pad": "background:#eef0f3;color:#9aa3af",
    "zero": "color:#b5bcc7",
    "blank": "color:transparent",
}
SHADE_FROM, SHADE_TO = (255, 255, 255), (31, 95, 191)  # white to dark blue: the overlap counts


def _rule(cls: str, style: str) -> str:
    """``td.cls`` and ``.tc-chip.cls``, every declaration ``!important`` (over a cell's inline size)."""
    body = ";".join(f"{d} !important" for d in style.split(";"))
    return f"table.tc-grid td.{cls},.tc-chip.{cls}{{{body}}}"


CSS = """<style>
.tc-row{display:flex;flex-wrap:wrap;align-items:center;gap:10px 14px;margin:4px 0 14px 0}
.tc-group{display:flex;align-items:center;gap:10px 14px}
.tc-fig{display:flex;flex-direction:column;align-items:center;margin:0}
.tc-cap{font-weight:600;font-size:17px;margin-bottom:6px;color:#1a1a1a;white-space:nowrap}
.tc-sub{font-size:14px;color:#555;margin-top:4px;white-space:nowrap}
table.tc-grid{border-collapse:collapse;margin:0}
table.tc-grid td{border:1px solid #9aa5b5;text-align:center;vertical-align:middle;padding:0 3px;
  font-variant-numeric:tabular-nums;background:#fff;color:#1a1a1a;line-height:1}
.tc-op{font-size:30px;font-weight:600;color:#5a6473;padding:0 2px}
.tc-frame{outline:3px solid #1f5fbf;outline-offset:5px;border-radius:2px}
.tc-muted{opacity:.35}
.tc-legend{display:flex;flex-wrap:wrap;gap:16px;font-size:15px;color:#333;margin:2px 0 10px 0}
.tc-chip{display:inline-block;width:16px;height:16px;border:1px solid #9aa5b5;vertical-align:-3px;margin-right:5px}
""" + "\n".join(_rule(cls, style) for cls, style in CELL_STYLES.items()) + "\n</style>"


def fmt(v: float) -> str:
    """Integers without decimals, others to two decimals: short enough for a cell."""
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v)))
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def cell_size(shape: tuple[int, int], room: int = 360, smallest: int = 22) -> int:
    """Pixels per cell for a grid of ``shape`` in about ``room`` pixels (22 to 50)."""
    return int(max(smallest, min(50, room / max(shape))))


def grid(values: np.ndarray, caption: str = "", classes: dict | None = None, *, sub: str = "",
         size: int | None = None, frame: bool = False, muted: bool = False, shade: np.ndarray | None = None,
         testid: str | None = None) -> str:
    """One grid as an HTML table: every number in its cell; ``classes`` maps (r, c) to a class of
    :data:`CELL_STYLES`; ``shade`` (values in [0, 1]) colours cells from white to dark blue."""
    values = np.asarray(values)
    size = size or cell_size(values.shape)
    font = max(11, int(size * 0.42))
    rows = []
    for r in range(values.shape[0]):
        tds = []
        for c in range(values.shape[1]):
            cls = (classes or {}).get((r, c), "")
            style = f"width:{size}px;height:{size}px;"
            if shade is not None:
                s = float(shade[r, c])
                bg = tuple(int(a + (b - a) * s) for a, b in zip(SHADE_FROM, SHADE_TO))
                style += f"background:rgb{bg};color:{'#fff' if s > 0.55 else '#1a1a1a'};"
            tds.append(f'<td class="{cls}" style="{style}">{html.escape(fmt(float(values[r, c])))}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    table = (f'<table class="tc-grid" style="font-size:{font}px" {f"data-testid={testid!r}" if testid else ""}>'
             + "".join(rows) + "</table>")
    wrap = " ".join(x for x in ("tc-fig", "tc-frame" if frame else "", "tc-muted" if muted else "") if x)
    return (f'<figure class="{wrap}"><div class="tc-cap">{html.escape(caption)}</div>{table}'
            + (f'<div class="tc-sub">{html.escape(sub)}</div>' if sub else "") + "</figure>")


def op(symbol: str) -> str:
    """An operator between grids: +, =, →, ⊛, …"""
    return f'<div class="tc-op">{html.escape(symbol)}</div>'


def row(*items: str) -> str:
    """Grids and operators in one row that wraps on a narrow screen."""
    return '<div class="tc-row">' + "".join(items) + "</div>"


def group(*items: str) -> str:
    """Items that wrap to the next line together (``= Output``, never the operator alone)."""
    return '<div class="tc-group">' + "".join(items) + "</div>"


def legend(*items: tuple[str, str]) -> str:
    """Colour chips with labels: ``(cell class, label)`` pairs."""
    return '<div class="tc-legend">' + "".join(
        f'<span><span class="tc-chip {cls}"></span>{html.escape(label)}</span>' for cls, label in items) + "</div>"


def show(body: str) -> None:
    """Draw grids built by this module."""
    st.html(CSS + body)
