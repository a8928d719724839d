"""The Autoencoder and VAE pages' "Training replay": the model becoming what it is.

Every AE and VAE training records about a dozen snapshots (:mod:`apcore.snapshots`): the codes
of 2,000 fixed test images, the reconstructions of the ten fixed digits and the loss terms, at
log-spaced steps from the untrained model on. The tab animates the codes settling into clusters
(one Plotly figure with a frame per snapshot, a play button and a slider; every frame on the same
axes), and shows the chosen snapshot's reconstructions beside the loss per snapshot.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from apcore.cache import TrainedModel
from apcore.defaults import DATA_START
from apcore.snapshots import ReplayView, Snapshots, replay_frames

from . import figures, images

NO_REPLAY = "This model was trained before replays were recorded: press Retrain to record one."
FRAME_MS = 700  # per frame when playing: 12 frames in about 8 s


def frame_label(snapshots: Snapshots, i: int) -> str:
    return f"epoch {float(snapshots.epochs[i]):.2f} · step {int(snapshots.steps[i])}"


def _class_traces(points: np.ndarray, labels: np.ndarray, class_names) -> list[go.Scatter]:
    """One trace per class (the legend hides a digit): (N, 2) points -> 10 traces."""
    return [go.Scatter(x=points[labels == c, 0], y=points[labels == c, 1], mode="markers", name=name,
                       marker=dict(size=5, color=figures.COLORS[c % 10], opacity=0.75),
                       hovertemplate=f"{name}<extra></extra>")
            for c, name in enumerate(class_names)]


def animation(view: ReplayView, snapshots: Snapshots, class_names, title: str) -> go.Figure:
    """The codes of every snapshot as animation frames on fixed axes, with play/pause and a slider."""
    labels = np.asarray(view.labels)
    names = [frame_label(snapshots, i) for i in range(len(snapshots))]
    frames = [go.Frame(data=_class_traces(p, labels, class_names), name=n) for p, n in zip(view.points, names)]
    fig = go.Figure(data=_class_traces(view.points[0], labels, class_names), frames=frames)
    # transitions move each point from one snapshot to the next (redraw off: SVG points glide)
    play = dict(frame=dict(duration=FRAME_MS, redraw=False), transition=dict(duration=FRAME_MS // 2),
                fromcurrent=True, mode="immediate")
    still = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.12, xanchor="left", yanchor="top",
                          buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                   dict(label="❚❚ Pause", method="animate", args=[[None], still])])],
        sliders=[dict(active=0, x=0.25, len=0.75, y=-0.08, yanchor="top", currentvalue=dict(prefix="", xanchor="right"),
                      steps=[dict(label=n.split(" · ")[0], method="animate", args=[[n], still]) for n in names])],
    )
    fig.update_xaxes(title=view.axis_titles[0], range=list(view.x_range), autorange=False)
    fig.update_yaxes(title=view.axis_titles[1], range=list(view.y_range), autorange=False)
    figures.layout(fig, title, height=620)
    return fig.update_layout(margin=dict(b=130))  # room for the play button and the slider


def loss_figure(snapshots: Snapshots, terms: list[str], current: int) -> go.Figure:
    """Each loss term per snapshot (test images), the chosen snapshot marked."""
    rows = [{"epoch": float(e), **losses} for e, losses in zip(snapshots.epochs, snapshots.losses)]
    fig = figures.loss_curves(rows, terms, title="Loss per snapshot (500 test images)")
    fig.add_vline(x=float(snapshots.epochs[current]), line_dash="dash", line_color="grey")
    return fig


@st.cache_resource(max_entries=8, show_spinner=False)
def _animation(key: str, _trained: TrainedModel, class_names: tuple[str, ...]) -> go.Figure:
    """Built once per model (``key``: its config's) for every viewer: a PCA and ~24,000 points."""
    s = _trained.snapshots
    what = "" if s.codes.shape[2] == 2 and not s.compressed else " (PCA of the last snapshot's codes, for every frame)"
    return animation(replay_frames(s), s, class_names, f"{len(s.sample):,} test codes during training{what}")


def show(trained: TrainedModel, class_names, prefix: str, terms: list[str]) -> None:
    """The tab: the animation, then a snapshot chooser, its reconstructions and the loss curve."""
    s = trained.snapshots
    if s is None:
        st.info(NO_REPLAY, icon=":material/history:")
        return
    start = (" An MLP starts from the data: at step 0 it draws roughly the average digit, whatever the input."
             if trained.config.family in DATA_START else "")
    st.markdown("Snapshots of the model at log-spaced steps of its training, from the **untrained** "
                f"model (step 0) on: early steps change it most.{start} Press **Play**, or drag the slider.")
    st.plotly_chart(_animation(trained.config.key, trained, tuple(class_names)), key=f"{prefix}_replay")
    i = st.select_slider("Snapshot", range(len(s)), value=len(s) - 1, format_func=lambda i: frame_label(s, i),
                         key=f"{prefix}_replay_frame")
    left, right = st.columns([3, 2])
    with left:
        images.show_rows({"Test digit (as the model sees it)": torch.from_numpy(s.inputs).float(),
                          f"Reconstruction at {frame_label(s, i)}": torch.from_numpy(s.reconstructions[i]).float()})
    with right:
        st.plotly_chart(loss_figure(s, terms, i), key=f"{prefix}_replay_loss", config={"displayModeBar": False})
