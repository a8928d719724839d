"""The anomaly page's cached scoring and its figures (histograms, ROC, confusion matrix, AUROC per class)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from apcore import anomaly, defaults
from apcore.cache import ModelStore, TrainedModel
from apcore.data import CLASS_NAMES, DataError, load_dataset

from . import figures
from .resources import dataset as load_cached_dataset

NORMAL, HELD_OUT, NOISE = "normal", "held-out", "pure noise"
OOD_COUNT = 2000       # out-of-distribution images scored (of the other data set's test set)
NOISE_COUNT = 1000
GROUP_COLORS = {NORMAL: "#1f77b4", HELD_OUT: "#d62728", NOISE: "#7f7f7f"}
OTHER_COLOR = "#9467bd"
OTHER = {"mnist": "fashion-mnist", "fashion-mnist": "mnist"}
OTHER_LABEL = {"mnist": "Fashion-MNIST", "fashion-mnist": "MNIST digits"}
DEFAULT_MEASURE = "mse"   # the page's error measure before the widget moves


@dataclass(frozen=True)
class Scores:
    """Everything about one model's scores that does not depend on the threshold."""

    test: anomaly.ScoredTestSet
    groups: dict[str, np.ndarray]      # histogram group -> scores
    edges: np.ndarray                  # shared log-spaced bin edges
    fractions: dict[str, np.ndarray]   # group -> fraction of the group per bin
    fpr: np.ndarray
    tpr: np.ndarray
    per_class: dict[str, float]        # held-out class name -> AUROC against the normal class
    grid: tuple[float, ...]            # threshold choices for the slider
    start: float                       # the grid value where 5% of normal test images are flagged
    best_f1: float                     # the threshold with the best F1 on the test set

    @property
    def is_anomaly(self) -> np.ndarray:
        return ~self.test.normal


def _round(v: float) -> float:
    return float(f"{v:.3g}")


@st.cache_resource(max_entries=8, show_spinner="Scoring the test set…")
def _scores(key: str, measure: str, dataset_name: str, _trained: TrainedModel) -> Scores:
    data = load_cached_dataset(dataset_name)
    extra = {NOISE: anomaly.noise_images(NOISE_COUNT)}
    other = OTHER[dataset_name]
    try:
        extra[OTHER_LABEL[dataset_name]] = load_dataset(other, download=False).test_images[:OOD_COUNT]
    except DataError:  # not on this server (``python -m apcore warm`` fetches it when online; no
        pass  # download in the middle of a page): the histogram shows one group fewer
    test = anomaly.score_test_set(_trained.model, _trained.config, data, extra, measure)
    groups = {NORMAL: test.scores[test.normal], HELD_OUT: test.scores[~test.normal], **test.extra}
    everything = np.concatenate(list(groups.values()))
    lo, hi = np.percentile(everything, [0.05, 100])
    lo = max(lo, 1e-6)
    edges = np.geomspace(lo, hi * 1.0001, 81)
    fractions = {g: np.histogram(np.clip(s, lo, hi), edges)[0] / max(1, len(s)) for g, s in groups.items()}
    fpr, tpr, _ = anomaly.roc(groups[NORMAL], groups[HELD_OUT])
    names = CLASS_NAMES[dataset_name]
    per_class = {names[c]: anomaly.auroc(groups[NORMAL], test.scores[test.labels == c])
                 for c in range(len(names)) if c not in _trained.config.normal_classes}
    q_lo, q_hi = np.percentile(test.scores, [0.5, 99.9])
    grid = sorted({_round(v) for v in np.geomspace(max(q_lo, 1e-6), q_hi, 150)})
    q95 = float(np.quantile(groups[NORMAL], 0.95))
    start = min(grid, key=lambda v: abs(np.log(v) - np.log(max(q95, 1e-9))))
    best_f1 = anomaly.best_f1_threshold(test.scores, ~test.normal)
    return Scores(test, groups, edges, fractions, fpr, tpr, per_class, tuple(grid), start, best_f1)


def scores(trained: TrainedModel, measure: str, dataset_name: str) -> Scores:
    """Scores of the test set and the out-of-distribution groups, computed once per model and measure."""
    return _scores(trained.config.key, measure, dataset_name, trained)


def prepare_default(models: ModelStore) -> None:
    """The page default's scores, if its model is on disk: the server's preload computes them
    ahead (``ui.resources.preload``), so the page's first visit finds them cached."""
    config = defaults.page_defaults()["anomaly"][0]
    trained = models.latest(config)
    if trained is not None:
        scores(trained, DEFAULT_MEASURE, config.dataset)


def group_color(group: str) -> str:
    return GROUP_COLORS.get(group, OTHER_COLOR)


def histogram(s: Scores, threshold: float, measure_label: str, normal_label: str) -> go.Figure:
    """Step histograms of each group's scores (fraction of the group per bin, log score axis)."""
    fig = go.Figure()
    centres = np.sqrt(s.edges[:-1] * s.edges[1:])
    for group, frac in s.fractions.items():
        name = f"normal ({normal_label})" if group == NORMAL else group
        fig.add_scatter(x=centres, y=frac, mode="lines", line=dict(shape="hvh", width=2, color=group_color(group)),
                        fill="tozeroy", opacity=0.5, name=f"{name} · {len(s.groups[group]):,}",
                        hovertemplate="score %{x:.3g}: %{y:.1%} of the group<extra></extra>")
    # a trace, not add_vline: on a log axis a shape's annotation is placed at 10**x
    top = max(float(f.max()) for f in s.fractions.values()) * 1.08
    fig.add_scatter(x=[threshold, threshold], y=[0, top], mode="lines", name=f"threshold {threshold:.3g}",
                    line=dict(color="black", width=3, dash="dash"), hoverinfo="skip")
    fig.update_xaxes(type="log", title=f"anomaly score: {measure_label} (log scale)")
    fig.update_yaxes(title="fraction of the group", tickformat=".0%")
    figures.layout(fig, "Scores: normal test images vs the rest", height=450)
    return fig.update_layout(legend=dict(orientation="h", y=-0.22, font=dict(size=15)))


def roc_figure(s: Scores, point: tuple[float, float]) -> go.Figure:
    """ROC curve of normal vs held-out test images, the current threshold marked."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#bbbbbb", dash="dot"), showlegend=False,
                    hoverinfo="skip")
    fig.add_scatter(x=s.fpr, y=s.tpr, mode="lines", line=dict(width=3, color=GROUP_COLORS[HELD_OUT]),
                    name=f"AUROC {s.test.auroc:.3f}", hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}<extra></extra>")
    fig.add_scatter(x=[point[0]], y=[point[1]], mode="markers", marker=dict(size=16, color="black", symbol="x"),
                    name="threshold", hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}<extra></extra>")
    fig.update_xaxes(title="false-positive rate", range=[0, 1], constrain="domain")
    fig.update_yaxes(title="true-positive rate (recall)", range=[0, 1.02], scaleanchor="x")
    figures.layout(fig, f"ROC · AUROC {s.test.auroc:.3f}", height=450)
    return fig.update_layout(legend=dict(x=0.45, y=0.08, font=dict(size=16)))


def confusion(m: dict) -> go.Figure:
    """The 2x2 confusion matrix at the threshold, counts written in the cells."""
    z = [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
    text = [[f"<b>{m['tn']:,}</b><br>correct", f"<b>{m['fp']:,}</b><br>false alarm"],
            [f"<b>{m['fn']:,}</b><br>missed", f"<b>{m['tp']:,}</b><br>caught"]]
    fig = go.Figure(go.Heatmap(z=np.log1p(z), x=["passed", "flagged"], y=["normal", "anomalous"],
                               text=text, texttemplate="%{text}", textfont=dict(size=18), colorscale="Blues",
                               showscale=False, hoverinfo="skip"))
    fig.update_yaxes(autorange="reversed", title="actual", tickfont=dict(size=16))
    fig.update_xaxes(side="top", title="at this threshold", tickangle=0, tickfont=dict(size=16))
    return figures.layout(fig, None, height=340)


def per_class_figure(s: Scores, normal_label: str) -> go.Figure:
    """AUROC of the normal class against each held-out class: where the detector is weak."""
    names = list(s.per_class)
    values = [s.per_class[n] for n in names]
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=[GROUP_COLORS[HELD_OUT] if v < 0.9 else "#2ca02c" for v in values],
                           text=[f"{v:.2f}" for v in values], textposition="outside", textfont=dict(size=15),
                           hovertemplate="normal vs %{x}: AUROC %{y:.3f}<extra></extra>"))
    fig.update_yaxes(range=[min(0.5, min(values) - 0.05), 1.08], title="AUROC")
    fig.update_xaxes(title="held-out class", type="category")
    return figures.layout(fig, f"AUROC of normal ({normal_label}) vs each held-out class", height=330)
