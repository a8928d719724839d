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


def loss_curves(rows: list[dict], terms: list[str] | None = None, x: str = "epoch",
                title: str | None = "Training loss per image") -> go.Figure:
    """Lines of each loss term over ``x`` from history rows or live points."""
    terms = terms or [t for t in ("loss", "recon", "kl") if rows and t in rows[0]]
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
