"""The clustering page's cached computations and figures.

Results are cached per (data set, pipeline, model key): a slider move that changes nothing they
depend on re-runs no clustering, and every tab shares them. Models are passed as ``_model`` (not
hashed); their config key stands for them in the cache key.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from apcore import cluster
from apcore.models import Autoencoder

from . import figures
from .resources import dataset, store

# 10 clusters in the lecture's colours; more clusters borrow from a 24-colour palette.
CLUSTER_COLORS = figures.COLORS + [c for c in qualitative.Dark24 if c not in figures.COLORS]
SCATTER_MAX_POINTS = 3000  # SVG (clickable, crisp on a projector) stays smooth up to a few thousand


def test_set(name: str):
    """uint8 test images (N, 28, 28) and labels (N,) as numpy, cut to ``APCORE_CLUSTER_LIMIT``."""
    return cluster.test_split(dataset(name))


def features(name: str, representation: str, pca_components: int, manifold: str,
             model_key: str | None, _model: Autoencoder | None) -> np.ndarray:
    """The representation of the test set (N, d), after the manifold step (AE/VAE codes only, as the
    page offers it): shared, read-only."""
    # PCA's size is part of the key only for PCA: moving its slider recomputes nothing else.
    return _features(name, representation, pca_components if representation == "pca" else 0, manifold,
                     model_key, _model)


@st.cache_resource(show_spinner=False, max_entries=12)
def _features(name: str, representation: str, pca_components: int, manifold: str,
              model_key: str | None, _model: Autoencoder | None) -> np.ndarray:
    images, _ = test_set(name)
    if representation == "pixels":
        x = cluster.pixel_features(images)
    elif representation == "pca":
        x = cluster.pca_features(images, pca_components)
    elif manifold == "umap":  # kept on disk: `python -m apcore warm` computes the defaults' before class
        x = cluster.model_embedding(_model, model_key, images, store().root, next(_model.parameters()).device)
    else:
        x = cluster.code_features(_model, images, next(_model.parameters()).device)
    x.setflags(write=False)
    return x


@st.cache_data(show_spinner=False, max_entries=64)
def result(name: str, pipeline: cluster.Pipeline, model_key: str | None,
           _model: Autoencoder | None) -> cluster.Result:
    """Cluster ids and scores of ``pipeline`` on the test set; seconds include the manifold step."""
    start = time.perf_counter()
    x = features(name, pipeline.representation, pipeline.pca_components, pipeline.manifold, model_key, _model)
    _, y = test_set(name)
    res = cluster.run(cluster.Pipeline(**{**pipeline.__dict__, "manifold": "none"}), x, y)
    return cluster.Result(pipeline, res.labels, res.scores, time.perf_counter() - start)


@st.cache_data(show_spinner=False, max_entries=32)
def projection(name: str, representation: str, pca_components: int, manifold: str, method: str,
               model_key: str | None, _model: Autoencoder | None):
    """2-D points (M, 2), their test-set indices (M,), and the method actually used (t-SNE: a
    subsample of ``apcore.cluster.TSNE_MAX_POINTS``, a few seconds once, then cached)."""
    x = features(name, representation, pca_components, manifold, model_key, _model)
    return cluster.project_2d(x, method)


# -- figures -------------------------------------------------------------------------------------

def scores_frame(results: list[cluster.Result]) -> pd.DataFrame:
    """One row per pipeline: accuracy (Hungarian), NMI, ARI, seconds."""
    return pd.DataFrame([{
        "Representation": r.pipeline.label(),
        "Accuracy": r.scores["cluster_acc"],
        "NMI": r.scores["cluster_nmi"],
        "ARI": r.scores["cluster_ari"],
        "Seconds": r.seconds,
    } for r in results])


def show_scores(frame: pd.DataFrame, selected: str) -> None:
    """The comparison table: best score per column in bold green, the row shown below marked ▶."""
    frame = frame.assign(Representation=["▶ " + r if r == selected else r for r in frame["Representation"]])

    def shade(row):
        return ["background-color: #fff3cd" if row["Representation"].startswith("▶") else "" for _ in row]

    styled = (frame.style.apply(shade, axis=1).hide(axis="index")
              .highlight_max(subset=["Accuracy", "NMI", "ARI"], props="font-weight: bold; color: #1a7f37")
              .format({"Accuracy": "{:.3f}", "NMI": "{:.3f}", "ARI": "{:.3f}", "Seconds": "{:.1f}"})
              .set_table_styles([{"selector": "td, th", "props": "font-size: 1.15rem;"}]))
    st.table(styled)


def cluster_names(counts: np.ndarray, class_names: tuple[str, ...]) -> list[str]:
    """``C3 · 7`` = cluster 3, whose most common true label is 7 (empty clusters: ``C3 · empty``)."""
    return [f"C{c} · {class_names[row.argmax()] if row.sum() else 'empty'}" for c, row in enumerate(counts)]


def cluster_scatter(points: np.ndarray, index: np.ndarray, clusters: np.ndarray, labels: np.ndarray,
                    names: list[str], class_names: tuple[str, ...], title: str,
                    axis_titles: tuple[str, str], max_points: int = SCATTER_MAX_POINTS) -> go.Figure:
    """2-D points coloured by cluster (one trace each, legend clickable), true label on hover.

    points (M, 2) with their test-set indices ``index`` (M,); clusters, labels: (N,) for the test set.
    """
    keep = np.arange(len(points))
    if len(keep) > max_points:
        keep = np.sort(np.random.default_rng(0).choice(len(points), max_points, replace=False))
    fig = go.Figure()
    for c, name in enumerate(names):
        sel = keep[clusters[index[keep]] == c]
        if not len(sel):
            continue
        true = np.array(class_names)[labels[index[sel]]]
        fig.add_scatter(x=points[sel, 0], y=points[sel, 1], mode="markers", name=name,
                        marker=dict(size=6, color=CLUSTER_COLORS[c % len(CLUSTER_COLORS)], opacity=0.75),
                        customdata=np.c_[index[sel], true],
                        hovertemplate=f"{name}<br>true label: %{{customdata[1]}}<br>test image %{{customdata[0]}}<extra></extra>")
    fig.update_xaxes(title=axis_titles[0], showticklabels=False)
    fig.update_yaxes(title=axis_titles[1], showticklabels=False)
    figures.layout(fig, title, height=560)
    return fig.update_layout(legend=dict(font=dict(size=14), itemsizing="constant"))


def confusion_heatmap(counts: np.ndarray, row_names: list[str], class_names: tuple[str, ...],
                      title: str = "Clusters vs true labels") -> go.Figure:
    """(k, n_classes) counts as a heatmap with the numbers written in; rows in the given order."""
    text = np.where(counts > 0, counts.astype(str), "")
    fig = go.Figure(go.Heatmap(z=counts.tolist(), x=list(class_names), y=row_names, colorscale="Blues", text=text,
                               texttemplate="%{text}", textfont=dict(size=13), showscale=False,
                               hovertemplate="%{y}<br>true label %{x}: %{z} images<extra></extra>"))
    fig.update_xaxes(title="true label", type="category", side="bottom")
    fig.update_yaxes(title="cluster", type="category", autorange="reversed")
    return figures.layout(fig, title, height=max(420, 36 * len(row_names) + 120))
