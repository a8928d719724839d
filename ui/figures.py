"""Figure builders shared by the pages, Plotly and (for the live training charts) PNG: one look,
large fonts for a projector."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# pandas before any figure: Plotly looks for it in sys.modules without importing it, so a figure
# built while another thread (the server's preload, another tab's first page) was importing
# pandas found it half-initialised and the page failed. Every module that builds a Plotly figure
# imports this one, so by then pandas is whole (tests/app/test_app_shell.py).

FONT = dict(size=16)
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
TERM_NAMES = {"loss": "total loss", "recon": "reconstruction (BCE)", "kl": "KL divergence"}


def layout(fig: go.Figure, title: str | None = None, height: int = 380, **kw) -> go.Figure:
    fig.update_layout(title=title, height=height, font=FONT, margin=dict(l=10, r=10, t=50 if title else 20, b=10),
                      template="plotly_white", legend=dict(font=dict(size=14)), **kw)
    return fig


def loss_terms(rows: list[dict]) -> list[str]:
    """The loss terms worth a line: a plain autoencoder's loss is its reconstruction term, drawn once."""
    return [t for t in ("loss", "recon", "kl") if t in rows[0]] if rows and "kl" in rows[0] else ["recon"]


def loss_curves(rows: list[dict], terms: list[str] | None = None, x: str = "epoch",
                title: str | None = "Training loss per image") -> go.Figure:
    """Lines of each loss term over ``x`` from history rows or live points."""
    terms = terms or loss_terms(rows)
    fig = go.Figure()
    for term in terms:
        fig.add_scatter(x=[r[x] for r in rows], y=[r.get(term) for r in rows], mode="lines+markers" if len(rows) < 30 else "lines",
                        name=TERM_NAMES.get(term, term))
    whole = all(float(r[x]).is_integer() for r in rows)
    fig.update_xaxes(title=x, dtick=1 if whole and len(rows) <= 20 else None)  # epochs 1, 2, 3: no "1.5"
    fig.update_yaxes(title="per image", rangemode="tozero" if "kl" in terms else "normal")
    return layout(fig, title)


def latent_scatter(points: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...],
                   title: str, axis_titles: tuple[str, str] = ("z1", "z2"), max_points: int = 3000,
                   customdata: np.ndarray | None = None) -> go.Figure:
    """2-D points coloured by class, one trace per class (clickable legend), SVG for selection."""
    fig = go.Figure()
    idx = np.arange(len(points))[:max_points]
    for c, name in enumerate(class_names):
        sel = idx[labels[idx] == c]
        fig.add_scatter(x=points[sel, 0], y=points[sel, 1], mode="markers", name=name,
                          marker=dict(size=6, color=COLORS[c % 10], opacity=0.75),
                          customdata=sel if customdata is None else customdata[sel],
                          hovertemplate=f"{name}<br>test image %{{customdata}}<extra></extra>")
    fig.update_xaxes(title=axis_titles[0])
    fig.update_yaxes(title=axis_titles[1])
    return layout(fig, title, height=520)


# -- The charts that redraw while a training runs: PNG images drawn on the server ------------------
# Every redraw of a chart costs each browser watching it, and in bench/retrain.py a room of 8 tabs
# watches on the machine that trains: Plotly redraws every chart of the page on any fragment rerun;
# Vega-Lite, whose data alone changed, still cost the 8 tabs ~0.6 of a core for the live loss curve
# and the 500-point code scatter (their renderers 94 % of a core with them, 36 % without). As
# images, drawn once per redraw for every tab (40-80 ms each with Matplotlib's Agg), the browsers
# only swap a picture. Matplotlib is imported when first drawn (the preload takes it ahead).

LIVE_SIZE = (4.8, 3.4)   # inches at LIVE_DPI: 576 x 408 pixels, about a column of a projected page
LIVE_DPI = 120


def _live_axes(xlabel: str, ylabel: str, top: float = 0.96):
    from matplotlib.figure import Figure

    fig = Figure(figsize=LIVE_SIZE, dpi=LIVE_DPI)
    fig.subplots_adjust(left=0.17, right=0.97, top=top, bottom=0.18)
    ax = fig.subplots()
    ax.set_xlabel(xlabel, fontsize=FONT["size"] - 2)
    ax.set_ylabel(ylabel, fontsize=FONT["size"] - 2)
    ax.tick_params(labelsize=FONT["size"] - 4)
    ax.grid(True, color="#e5e8ee", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})  # level 6: +10 ms, -15 % bytes
    return buf.getvalue()


def live_loss_png(rows: list[dict]) -> bytes:
    """The loss curve of a running training, a line per term (a VAE's from zero: its KL is small)."""
    fig, ax = _live_axes("epoch", "per image", top=0.9)  # the legend above
    terms = loss_terms(rows)
    for i, term in enumerate(terms):
        kept = [r for r in rows if r.get(term) is not None]
        ax.plot([r["epoch"] for r in kept], [r[term] for r in kept], color=COLORS[i], linewidth=2,
                label=TERM_NAMES.get(term, term))
    if "kl" in terms:
        ax.set_ylim(bottom=0)
    fig.legend(loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=len(terms), fontsize=FONT["size"] - 6,
               frameon=False, handlelength=1.2, columnspacing=1.0)
    return _png(fig)


def live_codes_png(points: np.ndarray, labels: np.ndarray, axis_titles: tuple[str, str] = ("z1", "z2"),
                   max_points: int = 3000) -> bytes:
    """2-D points coloured by class (the colours of :func:`latent_scatter`)."""
    fig, ax = _live_axes(*axis_titles)
    n = min(len(points), max_points)
    ax.scatter(points[:n, 0], points[:n, 1], s=16, c=[COLORS[c % 10] for c in labels[:n]], alpha=0.75,
               linewidths=0)
    return _png(fig)


def loss_vs_latent(curve: list[tuple[int, float]], current: int) -> go.Figure:
    """Test reconstruction loss against latent size over the trained models; current one marked."""
    fig = go.Figure()
    fig.add_scatter(x=[d for d, _ in curve], y=[v for _, v in curve], mode="lines+markers",
                    name="trained models", marker=dict(size=10))
    here = [(d, v) for d, v in curve if d == current]
    if here:
        fig.add_scatter(x=[here[0][0]], y=[here[0][1]], mode="markers", name="this model",
                        marker=dict(size=18, symbol="star", color=COLORS[3]))
    fig.update_xaxes(title="latent size", type="log", tickvals=[2, 3, 5, 8, 10, 16, 20, 32, 64])
    fig.update_yaxes(title="test BCE per image")
    return layout(fig, "Smaller latent, bigger bottleneck")


def selected_indices(event) -> list[int]:
    """Test-image indices (customdata) of the points selected in a plotly_chart event."""
    try:
        points = event.selection.points
    except AttributeError:
        return []
    out = []
    for p in points:
        cd = p.get("customdata")
        if cd is not None:
            out.append(int(cd[0] if isinstance(cd, (list, tuple)) else cd))
    return out


def mu_sigma(mu: np.ndarray, sigma: np.ndarray) -> go.Figure:
    """Per-unit mean with ±σ error bars: what the encoder says about one image."""
    fig = go.Figure()
    fig.add_scatter(x=[f"z{i + 1}" for i in range(len(mu))], y=mu, mode="markers", name="μ",
                    marker=dict(size=12, color=COLORS[0]), error_y=dict(type="data", array=sigma, thickness=2, width=6))
    fig.add_hline(y=0, line_color="#999")
    fig.update_yaxes(title="μ ± σ")
    return layout(fig, "Encoder output q(z|x): mean and standard deviation", height=340)


def kl_bars(kl: np.ndarray) -> go.Figure:
    """Mean KL per latent unit, sorted as the units are numbered."""
    fig = go.Figure()
    fig.add_bar(x=[f"z{i + 1}" for i in range(len(kl))], y=kl, marker_color=COLORS[0])
    fig.update_yaxes(title="mean KL (nats)")
    return layout(fig, "KL divergence per latent unit (test images)")


def reparam_table(rep: dict):
    """mu, sigma and the sampled z of the reparameterisation view, one row per latent unit."""
    cols = {"μ": rep["mu"], "σ": rep["sigma"]}
    for k in range(rep["z"].shape[0]):
        cols[f"z sample {k + 1}"] = rep["z"][k]
    return pd.DataFrame(cols, index=[f"z{i + 1}" for i in range(len(rep["mu"]))]).round(3)
