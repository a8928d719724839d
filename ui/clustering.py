"""The clustering page's cached computations and figures.

``apcore.cluster`` computes everything (features, UMAP, clustering, centres); this module only
caches it per data set, pipeline and model: a slider move that changes nothing a result depends on
re-runs no clustering, and every tab shares the results. A model is passed as ``_trained`` (not
hashed); its own config key stands for it in the cache key.
"""

from __future__ import annotations

import html

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch
from plotly.colors import qualitative

from apcore import cluster, defaults
from apcore.cache import ModelStore, TrainedModel

from . import figures, hall
from .images import data_uri, montage
from .resources import dataset, store

# 10 clusters in the lecture's colours; more clusters borrow from a 24-colour palette.
CLUSTER_COLORS = figures.COLORS + [c for c in qualitative.Dark24 if c not in figures.COLORS]
SCATTER_MAX_POINTS = 3000  # a random subset of the test set: the clusters' shapes, and a point apart to hover
SCATTER_HEIGHT = 560  # px, title and axis titles included
AXIS = dict(titleFontSize=16, titleFontWeight="normal", ticks=False, domain=False)  # the charts' axes
MEMBERS_SHOWN = 8  # random members drawn beside each cluster's centre
ROWS_CSS = """<style>
.cl-row{display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px;margin:0 0 10px 0}
.cl-name{flex:0 0 8.5em;line-height:1.4}
.cl-row img{display:block;height:auto;image-rendering:pixelated}
.cl-members{flex:1 1 360px}
.cl-members img{width:100%}
</style>"""


def test_set(name: str):
    """uint8 test images (N, 28, 28) and labels (N,) as numpy, cut to ``APCORE_CLUSTER_LIMIT``."""
    return cluster.test_split(dataset(name))


def _key(trained: TrainedModel | None) -> str | None:
    return cluster.model_identity(trained) if trained is not None else None


def features(name: str, pipeline: cluster.Pipeline, trained: TrainedModel | None) -> np.ndarray:
    """``apcore.cluster.features`` of the test set (N, d), manifold step included: shared, read-only.
    A UMAP embedding of a model's codes is kept on disk (``python -m apcore warm`` makes the defaults')."""
    return _features(name, pipeline.features_key, _key(trained), pipeline, trained)


def _umap_to_fit(a: dict) -> bool:
    """A UMAP step whose embedding is not on disk yet: tens of seconds of the server's CPU."""
    if a["_pipeline"].manifold != "umap":
        return False
    if a["model_key"] is None:
        return True
    images = test_set(a["name"])[0]
    return not cluster.embedding_path(store().root, a["model_key"], len(images), a["_pipeline"].seed).exists()


@hall.costly(when=_umap_to_fit)
@st.cache_resource(show_spinner=False, max_entries=12)
def _features(name: str, features_key: tuple, model_key: str | None, _pipeline: cluster.Pipeline,
              _trained: TrainedModel | None) -> np.ndarray:
    x = cluster.features(_pipeline, test_set(name)[0], _trained, store().root)
    x.setflags(write=False)
    return x


def result(name: str, pipeline: cluster.Pipeline, trained: TrainedModel | None) -> cluster.Result:
    """Cluster ids and scores of ``pipeline`` on the test set, kept on disk beside the models
    (``apcore.cluster.cached_result``: warm and the training worker compute the page's default
    rows ahead); seconds: the features (UMAP too) and the clustering, when first computed."""
    return _result(name, pipeline, _key(trained), trained)


@st.cache_data(show_spinner=False, max_entries=64)
def _result(name: str, pipeline: cluster.Pipeline, model_key: str | None, _trained: TrainedModel | None) -> cluster.Result:
    y = test_set(name)[1]
    path = cluster.result_path(store().root, pipeline, name, len(y), model_key)
    return cluster.cached_result(pipeline, y, path, lambda: features(name, pipeline, _trained))


def projection(name: str, pipeline: cluster.Pipeline, method: str, trained: TrainedModel | None):
    """2-D points (M, 2), their test-set indices (M,), and the method actually used (t-SNE: a
    subsample of ``apcore.cluster.TSNE_MAX_POINTS``, a few seconds once, then cached)."""
    return _projection(name, pipeline.features_key, method, _key(trained), pipeline, trained)


@hall.costly(when=lambda a: a["method"] == "tsne")
@st.cache_data(show_spinner=False, max_entries=32)
def _projection(name: str, features_key: tuple, method: str, model_key: str | None, _pipeline: cluster.Pipeline,
                _trained: TrainedModel | None):
    return cluster.project_2d(features(name, _pipeline, _trained), method)


def centres(name: str, res: cluster.Result, trained: TrainedModel) -> torch.Tensor:
    """The decoded centre of each cluster of ``res`` (k, 1, 28, 28): the mean code of its members."""
    return _centres(name, res.pipeline, cluster.model_identity(trained), res.labels, trained)


@st.cache_resource(show_spinner=False, max_entries=16)
def _centres(name: str, pipeline: cluster.Pipeline, model_key: str, _labels: np.ndarray,
             _trained: TrainedModel) -> torch.Tensor:
    return cluster.decoded_centres(_trained.model, test_set(name)[0], _labels, pipeline.k)


def prepare_default(models: ModelStore, name: str = "mnist") -> None:
    """The page default's table rows, 2-D view and cluster centres (the AE's code through UMAP, as
    ``pages/clustering.py`` opens) into the page's caches, if its models and their rows and UMAP
    embedding are on disk (``python -m apcore warm`` and the training worker keep them): the
    server's preload (``ui.resources.prepare``) reads them ahead and never fits a UMAP, so the
    page's first visit finds them cached."""
    trained = {"ae": models.latest(defaults.cluster_ae_config(dataset=name)),
               "vae": models.latest(defaults.cluster_vae_config(dataset=name))}
    trained = {rep: m for rep, m in trained.items() if m is not None}
    if "ae" not in trained:
        return
    umap = cluster.PAGE_VIEW["umap"] and cluster.umap_available()
    pipelines = cluster.comparison(models=list(trained), **{**cluster.PAGE_VIEW, "umap": umap})
    shown = next(p for p in pipelines if p.representation == "ae" and p.manifold == ("umap" if umap else "none"))
    n = len(test_set(name)[1])
    on_disk = [cluster.result_path(models.root, p, name, n, _key(trained.get(p.representation))).exists()
               for p in pipelines]
    if not all(on_disk) or _umap_to_fit({"name": name, "model_key": _key(trained["ae"]), "_pipeline": shown}):
        return
    results = {p: result(name, p, trained.get(p.representation)) for p in pipelines}
    projection(name, shown, "auto", trained["ae"])
    centres(name, results[shown], trained["ae"])


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


def show_cluster_rows(counts: np.ndarray, names: list[str], order: np.ndarray, centres: torch.Tensor,
                      members: np.ndarray, images: torch.Tensor) -> None:
    """Each cluster (in ``order``) as a row: its name and size, the decoded centre, and up to
    :data:`MEMBERS_SHOWN` members (``members`` from :func:`apcore.cluster.cluster_members`, -1 where
    a cluster has fewer). One HTML element, not a row of three columns with a label and two images
    per cluster (70 elements for the browser to lay out and draw): a switch to the page in 0.79x
    the time, a first visit 0.97x (``bench/results/page_open.md``). On a narrow screen the members
    wrap below the name and centre, at the screen's width."""
    rows = []
    for c in order:
        name = html.escape(names[c])
        idx = members[c][members[c] >= 0]
        centre = f'<img src="{data_uri(montage(centres[c:c + 1], nrow=1, upscale=3))}" alt="centre of {name}">'
        shown = ""
        if len(idx):
            grid = montage(images[torch.as_tensor(idx)], nrow=MEMBERS_SHOWN, upscale=3)
            shown = (f'<img src="{data_uri(grid)}" alt="{len(idx)} members of {name}" '
                     f'style="max-width:{grid.shape[1]}px">')  # never wider than drawn
        rows.append(f'<div class="cl-row"><div class="cl-name"><b>{name}</b><br>{int(counts[c].sum()):,} images</div>'
                    f'{centre}<div class="cl-members">{shown}</div></div>')
    st.html(ROWS_CSS + '<div class="cl-rows">' + "".join(rows) + "</div>")


def cluster_names(counts: np.ndarray, class_names: tuple[str, ...]) -> list[str]:
    """``C3 · 7`` = cluster 3, whose most common true label is 7 (empty clusters: ``C3 · empty``)."""
    return [f"C{c} · {class_names[row.argmax()] if row.sum() else 'empty'}" for c, row in enumerate(counts)]


def chart_title(text: str) -> alt.Title:
    return alt.Title(text, fontSize=18, anchor="start")


def cluster_scatter(points: np.ndarray, index: np.ndarray, clusters: np.ndarray, labels: np.ndarray,
                    names: list[str], class_names: tuple[str, ...], title: str,
                    axis_titles: tuple[str, str], max_points: int = SCATTER_MAX_POINTS) -> alt.Chart:
    """2-D points coloured by cluster, true label on hover; a click on a cluster's legend entry
    picks it out (shift-click: several; a double-click on an empty spot: all again).

    points (M, 2) with their test-set indices ``index`` (M,); clusters, labels: (N,) for the test set.
    Vega-Lite (``st.altair_chart``), as is :func:`confusion_heatmap`: the page then draws no Plotly
    chart, and a first visit does not wait for Plotly's 4.7 MB of code to be evaluated (0.6 s of the
    browser's main thread on the 2-core machine; ``bench/results/page_open.md``).
    """
    keep = np.arange(len(points))
    if len(keep) > max_points:
        keep = np.sort(np.random.default_rng(0).choice(len(points), max_points, replace=False))
    of_point = clusters[index[keep]]
    shown = [c for c in range(len(names)) if (of_point == c).any()]  # an empty cluster gets no legend entry
    frame = pd.DataFrame({"x": points[keep, 0], "y": points[keep, 1], "cluster": np.array(names)[of_point],
                          "true label": np.array(class_names)[labels[index[keep]]], "test image": index[keep]})
    pick = alt.selection_point(fields=["cluster"], bind="legend")
    colour = alt.Color("cluster:N", scale=alt.Scale(domain=[names[c] for c in shown],
                                                    range=[CLUSTER_COLORS[c % len(CLUSTER_COLORS)] for c in shown]),
                       legend=alt.Legend(title=None, labelFontSize=14, symbolType="circle", symbolSize=120))
    axis = dict(labels=False, **AXIS)
    # On a canvas, whatever the number of points (Streamlit's own choice: SVG up to 2,000 data points).
    return (alt.Chart(frame, title=chart_title(title), height=SCATTER_HEIGHT,
                      usermeta={"embedOptions": {"renderer": "canvas"}})
            .mark_circle(size=36)
            .encode(x=alt.X("x:Q", title=axis_titles[0], scale=alt.Scale(zero=False), axis=alt.Axis(**axis)),
                    y=alt.Y("y:Q", title=axis_titles[1], scale=alt.Scale(zero=False), axis=alt.Axis(**axis)),
                    color=colour, opacity=alt.condition(pick, alt.value(0.75), alt.value(0.06)),
                    tooltip=["cluster", "true label", "test image"])
            .add_params(pick))


def confusion_heatmap(counts: np.ndarray, row_names: list[str], class_names: tuple[str, ...],
                      title: str = "Clusters vs true labels") -> alt.LayerChart:
    """(k, n_classes) counts as a heatmap with the numbers written in; rows in the given order."""
    k, n = counts.shape
    frame = pd.DataFrame({"cluster": np.repeat(row_names, n), "true label": np.tile(class_names, k),
                          "images": counts.ravel().astype(int)})
    axis = dict(labelFontSize=14, labelOverlap=False, **AXIS)  # every row's and column's name
    angle = 0 if max(map(len, class_names)) <= 2 else -90  # digits across; Fashion-MNIST's names upright
    base = alt.Chart(frame, title=chart_title(title), height=max(420, 36 * k + 120)).encode(
        x=alt.X("true label:N", sort=list(class_names), axis=alt.Axis(labelAngle=angle, orient="bottom", **axis)),
        y=alt.Y("cluster:N", sort=list(row_names), axis=alt.Axis(**axis)))
    cells = base.mark_rect().encode(color=alt.Color("images:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                    tooltip=["cluster", "true label", "images"])
    dark = float(counts.max()) / 2  # white numbers on the darker half of the scale
    numbers = base.transform_filter("datum.images > 0").mark_text(fontSize=13).encode(
        text="images:Q", color=alt.condition(f"datum.images > {dark}", alt.value("white"), alt.value("#1a1a1a")))
    return alt.layer(cells, numbers)
