"""The training panel: the model a page shows, its Retrain button, and live progress.

Training runs in ``apcore.jobs`` (a worker process shared by every tab), so moving a slider never
kills it; this panel only reads the job while it runs. A room of tabs watches one training, and
every tick costs the server (serialising) and each browser (re-rendering), which share the machine
with the training when the lecturer's laptop is the server. So the panel is two fragments: the
progress line every ``LIVE_EVERY_S`` (a few hundred bytes), and the charts (the loss curve from at
most ``LIVE_POINTS`` points, the newest training snapshot from ``apcore.snapshots``) every
``CHARTS_EVERY_S``, each built once per new report or snapshot for all tabs; the room's tabs less
often than the lecturer's. The charts are Vega-Lite, not Plotly: every fragment rerun redraws each
Plotly chart on the page in the browser; with Plotly live charts the lecturer's slider answered
2.7x slower during a training than idle, with Vega-Lite 1.7x (56 presses each, the tab alone).
"""

from __future__ import annotations

import html
import io

import numpy as np
import streamlit as st
import torch
from PIL import Image

from apcore.cache import TrainedModel
from apcore.config import ModelConfig
from apcore.data import CLASS_NAMES
from apcore.jobs import CANCELLED, FAILED, Job, JobLimitError
from apcore.snapshots import Frame, frame_points

from . import figures, hall, images
from .resources import registry, store

LIVE_POINTS = 300
# Seconds between redraws of the progress line and of the live charts: the lecturer's tab (the
# projector) often; the room's tabs less, since every redraw costs each browser (bench/retrain.py).
LIVE_EVERY_S = {hall.PRESENTER: 1.0, hall.AUDIENCE: 3.0}
CHARTS_EVERY_S = {hall.PRESENTER: 3.0, hall.AUDIENCE: 9.0}
LIVE_CODES = 500     # points in the live scatter (the replay tab shows all 2,000)


def _submit(config: ModelConfig, retrain: bool) -> None:
    """The one place the app submits training: the lecturer's sessions only (a button, a link
    to an untrained view, a crafted request: all come through here)."""
    if not hall.is_presenter():
        st.session_state["_ui_job_message"] = hall.TRAIN_REFUSED
        return
    try:
        registry().submit(config, retrain=retrain)
    except JobLimitError as exc:
        st.session_state["_ui_job_message"] = str(exc)


def nearest_trained(config: ModelConfig) -> ModelConfig | None:
    """The trained model closest to ``config`` that differs only in its latent size, else None."""
    candidates = []
    for other in store().configs_on_disk():
        if other.replace(latent_dim=config.latent_dim, seed=0).view_key == config.view_key:
            candidates.append((abs(other.latent_dim - config.latent_dim), other.latent_dim, other))
    return min(candidates, key=lambda c: c[:2])[2] if candidates else None


def trained_model(config: ModelConfig, label: str | None = None) -> TrainedModel | None:
    """The newest trained model of ``config``'s view, drawing its training panel.

    For the lecturer a view with no model yet starts training by itself (once: after a cancel or
    a failure the panel offers a button instead); for the audience it says so and names the
    nearest trained one. Returns None while there is nothing to show.
    """
    job = registry().get(config)
    trained = store().latest(config)
    if trained is None and job is None and hall.is_presenter():
        _submit(config, retrain=False)
        job = registry().get(config)
    _panel(config, job, trained, label or config.describe())
    if trained is None and (job is None or not job.active) and not hall.is_presenter():
        near = nearest_trained(config)
        st.info(f"**{config.latent_label.capitalize()}** is not trained yet: only the lecturer trains models."
                + (f" The nearest trained one is **{near.latent_label}**." if near else ""),
                icon=":material/school:")
    return trained


def _panel(config: ModelConfig, job: Job | None, trained: TrainedModel | None, label: str) -> None:
    key = config.view_key[:12]
    with st.container(border=True):
        left, right = st.columns([3, 1.2], vertical_alignment="center")
        with left:
            if trained is not None:
                st.markdown(f"**{label}** · {_summary(trained)}")
            else:
                st.markdown(f"**{label}** · not trained yet")
        with right:
            busy = job is not None and job.active
            presenting = hall.is_presenter()
            st.button("Retrain", key=f"retrain-{key}", disabled=busy or not presenting, on_click=_submit,
                      args=(config, True), width="stretch",
                      help="Train this configuration afresh (new seed); the new model replaces the cached one."
                      if presenting else hall.TRAIN_REFUSED)
        if message := st.session_state.pop("_ui_job_message", None):
            st.warning(message)
        if job is not None and job.active:
            role = hall.role()
            st.fragment(_live, run_every=LIVE_EVERY_S[role])(config)
            st.fragment(_live_charts, run_every=CHARTS_EVERY_S[role])(config)
        elif job is not None and job.state == FAILED:
            st.error(f"Training failed: {job.error}. Press Retrain to try again.")
        elif job is not None and job.state == CANCELLED and trained is None:
            st.info("Training was cancelled. Press Retrain to train this model.")


def _summary(trained: TrainedModel) -> str:
    m = trained.metrics
    head = f"test loss {m['test_loss']:.1f}" if "test_loss" in m else f"test BCE {m['test_recon']:.1f}"
    return f"{head} per image · trained in {trained.train_seconds:.0f} s on {trained.device.upper()} · seed {trained.config.seed}"


def thin(points: list[dict], most: int = LIVE_POINTS) -> list[dict]:
    """At most ``most`` of ``points``, evenly spaced, the newest always kept."""
    if len(points) <= most:
        return points
    step = len(points) / (most - 1)
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]


@st.cache_resource(max_entries=8, show_spinner=False)
def _live_figure(job_id: int, n_points: int, _points: list[dict]):
    """The live loss curve of a job's first ``n_points`` reports, built once for every tab."""
    return figures.live_loss_spec(thin(_points[:n_points]))


@st.cache_resource(max_entries=8, show_spinner=False)
def _live_snapshot(job_id: int, count: int, _frame: Frame, class_names: tuple[str, ...]):
    """A job's newest snapshot, built once per new snapshot (``count``) for every tab: the codes'
    scatter and the digits above their reconstructions as one PNG (no re-encoding per tick)."""
    points = frame_points(_frame)
    titles = ("z1", "z2") if _frame.codes.shape[1] == 2 else ("PC 1", "PC 2")
    fig = figures.live_codes_spec(points, _frame.labels, class_names, f"Test codes at epoch {_frame.epoch:.2f}",
                                  titles, max_points=LIVE_CODES)
    rows = np.concatenate([_frame.inputs, _frame.reconstructions]).astype(np.float32)  # (20, 1, 28, 28) float16 -> float
    png = io.BytesIO()
    Image.fromarray(images.montage(torch.from_numpy(rows), nrow=10, upscale=2)).save(png, format="PNG")
    return fig, png.getvalue()


def progress_html(fraction: float, text: str) -> str:
    """A progress bar in plain HTML, redrawn without animation: ``st.progress`` animates each
    change, and that took about twice the browser CPU of this bar per redraw (8 tabs redrawing
    once a second: 55 % of a core against 28 %)."""
    done = f"{100 * min(max(fraction, 0.0), 1.0):.1f}"
    colour = st.get_option("theme.primaryColor") or "#1f5fbf"
    return (f'<div role="progressbar" aria-valuenow="{done}" aria-valuemin="0" aria-valuemax="100">'
            f'<div style="margin-bottom:0.4rem">{html.escape(text)}</div>'
            '<div style="height:0.5rem;border-radius:0.25rem;background:rgba(151,166,195,0.3)">'
            f'<div style="width:{done}%;height:100%;border-radius:0.25rem;background:{colour}"></div></div></div>')


def _live(config: ModelConfig) -> None:
    job = registry().get(config)
    if job is None or not job.active:
        st.rerun(scope="app")  # the model is ready (or the job ended): redraw the whole page
        return
    key = config.view_key[:12]
    p = job.progress
    if job.state == "queued" or p is None:
        st.html(progress_html(0.0, "Waiting for the trainer (one model trains at a time)…"))
    else:
        st.html(progress_html(job.fraction, f"Training · epoch {p.epoch}/{p.epochs} · "
                              + " · ".join(f"{figures.TERM_NAMES.get(k, k)} {v:.1f}" for k, v in p.losses.items()
                                           if k != "loss" or "kl" in p.losses)
                              + f" · {p.elapsed:.0f} s"))
    if hall.is_presenter():
        st.button("Cancel", key=f"cancel-{key}", on_click=_cancel, args=(job,))
    else:
        st.caption("The lecturer is training this model; it appears here when it is ready.")


def _live_charts(config: ModelConfig) -> None:
    job = registry().get(config)
    if job is None or not job.active or job.progress is None:
        return  # the progress fragment redraws the page when the job ends
    key = config.view_key[:12]
    n = len(job.points)
    count = job.snapshot_count  # before the frame: the frame read next is at least this new
    frame = job.snapshot
    left, right = st.columns(2) if frame is not None else (st.container(), None)
    if n > 1:
        left.vega_lite_chart(spec=_live_figure(job.id, n, job.points), key=f"live-{key}", width="stretch")
    if frame is not None:
        fig, png = _live_snapshot(job.id, count, frame, tuple(CLASS_NAMES[config.dataset]))
        right.vega_lite_chart(spec=fig, key=f"live-codes-{key}", width="stretch")
        left.image(png, caption=f"Test digits and their reconstructions at epoch {frame.epoch:.2f}",
                   width="stretch")


def _cancel(job: Job) -> None:
    if hall.is_presenter():  # checked again when the click arrives, not only when drawn
        job.cancel()
