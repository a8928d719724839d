"""The training panel: the model a page shows, its Retrain button, and live progress.

Training runs in ``apcore.jobs`` (a worker process shared by every tab), so moving a slider never
kills it; this panel only reads the job while it runs. A room of tabs watches one training, and
every tick costs the server (serialising) and each browser (re-rendering the page), which share
the machine with the training when the lecturer's laptop is the server. So the panel is one
fragment, rerun every ``LIVE_EVERY_S`` (the room's tabs less often than the lecturer's): the
progress line (a few hundred bytes) and the charts, the loss curve (at most ``LIVE_POINTS``
points) and the newest training snapshot from ``apcore.snapshots``, as PNG images drawn on the
server at most once per ``CHARTS_EVERY_S`` for all tabs (``ui.figures``: as Plotly charts every
rerun redrew them in every browser; as Vega-Lite the tabs still spent most of their time on them).
"""

from __future__ import annotations

import html
import io
import time

import numpy as np
import streamlit as st
import torch
from PIL import Image

from apcore.cache import TrainedModel
from apcore.config import ModelConfig
from apcore.jobs import CANCELLED, FAILED, RUNNING, Job, JobLimitError
from apcore.snapshots import Frame, frame_points

from . import figures, hall, images
from .resources import registry, store

LIVE_POINTS = 300
# Seconds between redraws of the live panel: the lecturer's tab (the projector) more often than
# the room's; every redraw re-renders the page in each browser. A redraw costs the lecturer's tab
# ~0.3 s of its main thread, and the training's two threads, in step, lose 1.7x what the browser
# and the server take (the clustering AE's: 1.86 -> 1.52 cores while they took 0.20). 4 s for the
# lecturer too: the clustering page's Retrain 0.96x as long (press to drawn, 13.10 against 13.67 s,
# medians of 3 in turn, within their spread; AMD EPYC), for a bar that moves half as often: kept at 2 s.
LIVE_EVERY_S = {hall.PRESENTER: 2.0, hall.AUDIENCE: 4.0}
CHARTS_EVERY_S = 4.0
# The lecturer's tab, with less than a tick of its training left, waits for the new model instead
# of finding it on the next tick (on average half a tick later): the training left, plus this much
# for the scoring and saving after the last step (a conv AE's: 0.6 s on 2 cores). A tab waits
# without drawing (no cost to any browser); a slider moved meanwhile answers when the wait ends.
FINISH_WAIT_S = 2.5
LIVE_CODES = 500     # points in the live scatter (the replay tab shows all 2,000)


def _submit(config: ModelConfig, retrain: bool, clustering_first: bool = False) -> None:
    """The one place the app submits training: the lecturer's sessions only (a button, a link
    to an untrained view, a crafted request: all come through here). ``clustering_first``: the
    clustering page asks (:meth:`apcore.jobs.JobRegistry.submit`)."""
    if not hall.is_presenter():
        st.session_state["_ui_job_message"] = hall.TRAIN_REFUSED
        return
    try:
        registry().submit(config, retrain=retrain, clustering_first=clustering_first)
    except JobLimitError as exc:
        st.session_state["_ui_job_message"] = str(exc)


def nearest_trained(config: ModelConfig) -> ModelConfig | None:
    """The trained model closest to ``config`` that differs only in its latent size, else None."""
    candidates = []
    for other in store().configs_on_disk():
        if other.replace(latent_dim=config.latent_dim, seed=0).view_key == config.view_key:
            candidates.append((abs(other.latent_dim - config.latent_dim), other.latent_dim, other))
    return min(candidates, key=lambda c: c[:2])[2] if candidates else None


def trained_model(config: ModelConfig, label: str | None = None, clustering_first: bool = False) -> TrainedModel | None:
    """The newest trained model of ``config``'s view, drawing its training panel.

    For the lecturer a view with no model yet starts training by itself (once: after a cancel or
    a failure the panel offers a button instead); for the audience it says so and names the
    nearest trained one. Returns None while there is nothing to show. ``clustering_first``: the
    clustering page's models, announced once that page's view of them is kept.
    """
    job = registry().get(config)
    trained = store().latest(config)
    if trained is None and job is None and hall.is_presenter():
        _submit(config, retrain=False, clustering_first=clustering_first)
        job = registry().get(config)
    _panel(config, job, trained, label or config.describe(), clustering_first)
    if trained is None and (job is None or not job.active) and not hall.is_presenter():
        near = nearest_trained(config)
        st.info(f"**{config.latent_label.capitalize()}** is not trained yet: only the lecturer trains models."
                + (f" The nearest trained one is **{near.latent_label}**." if near else ""),
                icon=":material/school:")
    return trained


def _panel(config: ModelConfig, job: Job | None, trained: TrainedModel | None, label: str,
           clustering_first: bool) -> None:
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
                      args=(config, True, clustering_first), width="stretch",
                      help="Train this configuration afresh (new seed); the new model replaces the cached one."
                      if presenting else hall.TRAIN_REFUSED)
        if message := st.session_state.pop("_ui_job_message", None):
            st.warning(message)
        if job is not None and job.active:
            st.fragment(_live, run_every=LIVE_EVERY_S[hall.role()])(config)
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
def _charts_at(job_id: int, window: int, _job: Job) -> tuple[int, int]:
    """(reports, snapshots) that every tab's live charts show in one ``CHARTS_EVERY_S`` window:
    the job's when the window's first redraw asked, so the room's tabs share one drawing."""
    return len(_job.points), _job.snapshot_count


@st.cache_resource(max_entries=8, show_spinner=False)
def _live_figure(job_id: int, n_points: int, _points: list[dict]) -> bytes:
    """The live loss curve of a job's first ``n_points`` reports (PNG), drawn once for every tab."""
    return figures.live_loss_png(thin(_points[:n_points]))


@st.cache_resource(max_entries=8, show_spinner=False)
def _live_snapshot(job_id: int, count: int, _frame: Frame) -> tuple[bytes, bytes, float]:
    """A job's newest snapshot, drawn once per new snapshot (``count``) for every tab: the codes'
    scatter and the digits above their reconstructions (PNGs), and the snapshot's epoch."""
    titles = ("z1", "z2") if _frame.codes.shape[1] == 2 else ("PC 1", "PC 2")
    codes = figures.live_codes_png(frame_points(_frame), _frame.labels, titles, max_points=LIVE_CODES)
    rows = np.concatenate([_frame.inputs, _frame.reconstructions]).astype(np.float32)  # (20, 1, 28, 28) float16 -> float
    png = io.BytesIO()
    Image.fromarray(images.montage(torch.from_numpy(rows), nrow=10, upscale=2)).save(png, format="PNG")
    return codes, png.getvalue(), _frame.epoch


def progress_html(fraction: float, text: str) -> str:
    """A progress bar in plain HTML that changes only when redrawn. Not ``st.progress``: it
    animates each change, and that took twice the browser CPU of this bar per redraw (8 tabs
    redrawing once a second: 55 % of a core against 28 %); nor a bar moving on by itself between
    redraws (a CSS animation: 8 tabs watching a training, 51-54 % of a core -> 68-71 %)."""
    done = f"{100 * min(max(fraction, 0.0), 1.0):.1f}"
    colour = st.get_option("theme.primaryColor") or "#1f5fbf"
    return (f'<div role="progressbar" aria-valuenow="{done}" aria-valuemin="0" aria-valuemax="100">'
            f'<div style="margin-bottom:0.4rem">{html.escape(text)}</div>'
            '<div style="height:0.5rem;border-radius:0.25rem;background:rgba(151,166,195,0.3)">'
            f'<div style="width:{done}%;height:100%;border-radius:0.25rem;background:{colour}"></div></div></div>')


def _live(config: ModelConfig) -> None:
    """The live panel: the progress line, the lecturer's Cancel, then the charts."""
    job = registry().get(config)
    if job is None or not job.active or (hall.is_presenter() and _ended_soon(job)):
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
    _live_charts(job)


def _ended_soon(job: Job) -> bool:
    """True if ``job`` ends within its remaining training time plus ``FINISH_WAIT_S`` (waited out
    here), when that training time is under the lecturer's tick; else False at once."""
    p = job.progress
    if job.state != RUNNING or p is None or p.remaining >= LIVE_EVERY_S[hall.PRESENTER]:
        return False
    return job.wait(timeout=p.remaining + FINISH_WAIT_S)


def _live_charts(job: Job) -> None:
    if job.progress is None:
        return
    n, count = _charts_at(job.id, int(time.time() // CHARTS_EVERY_S), job)
    frame = job.snapshot if count else None
    left, right = st.columns(2) if frame is not None else (st.container(), None)
    if n > 1:
        left.image(_live_figure(job.id, n, job.points), caption="Training loss per image", width="stretch")
    if frame is not None:
        codes, digits, epoch = _live_snapshot(job.id, count, frame)
        right.image(codes, caption=f"Test codes at epoch {epoch:.2f}, coloured by class", width="stretch")
        left.image(digits, caption=f"Test digits and their reconstructions at epoch {epoch:.2f}", width="stretch")


def _cancel(job: Job) -> None:
    if hall.is_presenter():  # checked again when the click arrives, not only when drawn
        job.cancel()
