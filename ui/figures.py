"""Plotly figure builders shared by the pages: one look (large fonts for a projector)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

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
    fig.update_xaxes(title=x)
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


# -- Vega-Lite, for the charts that redraw while a training runs ---------------------------------
# A fragment rerun redraws every Plotly chart of the page in every browser watching it, whichever
# fragment reran. Measured on a probe page, 8 tabs each rerunning an empty fragment once a second:
# no charts 18 % of a core, 6 Vega-Lite charts 25 %, 6 Plotly charts 50 %.

VEGA_CONFIG = {"axis": {"labelFontSize": FONT["size"] - 2, "titleFontSize": FONT["size"]},
               "legend": {"labelFontSize": FONT["size"] - 2}, "title": {"fontSize": FONT["size"]}}


def live_loss_spec(rows: list[dict], height: int = 360) -> dict:
    """The loss curve of a running training as a Vega-Lite spec (data inline): a line per term."""
    terms = loss_terms(rows)
    values = [{"epoch": round(float(r["epoch"]), 4), "term": TERM_NAMES.get(t, t), "per image": float(r[t])}
              for r in rows for t in terms if r.get(t) is not None]
    return {"data": {"values": values}, "height": height, "config": VEGA_CONFIG,
            "mark": {"type": "line", "point": len(rows) < 30},
            "encoding": {"x": {"field": "epoch", "type": "quantitative"},
                         "y": {"field": "per image", "type": "quantitative", "scale": {"zero": "kl" in terms}},
                         "color": {"field": "term", "type": "nominal", "sort": [TERM_NAMES.get(t, t) for t in terms],
                                   "legend": {"orient": "bottom", "title": None}}}}


def live_codes_spec(points: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], title: str,
                    axis_titles: tuple[str, str] = ("z1", "z2"), max_points: int = 3000, height: int = 360) -> dict:
    """2-D points coloured by class (the colours of :func:`latent_scatter`) as a Vega-Lite spec."""
    idx = np.arange(len(points))[:max_points]
    values = [{"x": round(float(points[i, 0]), 4), "y": round(float(points[i, 1]), 4), "class": class_names[labels[i]]}
              for i in idx]
    axis = [{"field": f, "type": "quantitative", "title": t, "scale": {"zero": False}} for f, t in zip("xy", axis_titles)]
    return {"data": {"values": values}, "title": title, "height": height, "config": VEGA_CONFIG,
            "mark": {"type": "circle", "size": 30, "opacity": 0.75},
            "encoding": {"x": axis[0], "y": axis[1],
                         "color": {"field": "class", "type": "nominal", "legend": None,
                                   "scale": {"domain": list(class_names),
                                             "range": [COLORS[c % 10] for c in range(len(class_names))]}},
                         "tooltip": [{"field": "class", "type": "nominal"}]}}


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
    import pandas as pd

    cols = {"μ": rep["mu"], "σ": rep["sigma"]}
    for k in range(rep["z"].shape[0]):
        cols[f"z sample {k + 1}"] = rep["z"][k]
    return pd.DataFrame(cols, index=[f"z{i + 1}" for i in range(len(rep["mu"]))]).round(3)
