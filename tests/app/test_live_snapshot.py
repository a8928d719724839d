"""The training panel's live view (ui/training.py): the progress line and the charts, drawn
once per new report or snapshot for every tab watching."""

import io

import numpy as np
from PIL import Image

from apcore.snapshots import Frame
from ui import figures, training


def frame(code_size: int, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    digits = rng.random((10, 1, 28, 28)).astype(np.float16)
    labels = rng.integers(0, 10, 500).astype(np.uint8)
    return Frame(step=3, total_steps=10, epoch=0.3, losses={"loss": 200.0, "recon": 200.0}, inputs=digits,
                 reconstructions=digits[::-1].copy(), labels=labels,
                 codes=rng.normal(size=(len(labels), code_size)).astype(np.float16))


def rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def has_colour(pixels: np.ndarray, hex_colour: str, tolerance: int = 40) -> bool:
    """Whether some pixel is close to ``hex_colour`` (points are drawn with alpha over white)."""
    target = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(pixels.astype(int) - target).sum(-1) < tolerance).any())


def test_live_snapshot_draws_the_codes_and_reconstructions_once_per_snapshot():
    codes, digits, epoch = training._live_snapshot(1, 1, frame(2))
    assert codes.startswith(b"\x89PNG") and digits.startswith(b"\x89PNG") and epoch == 0.3
    again = training._live_snapshot(1, 1, frame(2, seed=1))   # same job, same count: the cached one
    assert again[0] is codes
    newer = training._live_snapshot(1, 2, frame(8))            # a new snapshot: a new drawing, 8-D by PCA
    assert newer[0] != codes


def test_the_code_scatter_is_coloured_by_class():
    """Points in the colours of the pages' scatters: the classes drawn appear, the others do not."""
    labels = np.array([3, 7] * 200, dtype=np.uint8)
    pixels = rgb(figures.live_codes_png(np.random.default_rng(0).normal(size=(400, 2)), labels))
    assert pixels.shape == (round(figures.LIVE_SIZE[1] * figures.LIVE_DPI), round(figures.LIVE_SIZE[0] * figures.LIVE_DPI), 3)
    assert has_colour(pixels, figures.COLORS[3]) and has_colour(pixels, figures.COLORS[7])
    assert not has_colour(pixels, figures.COLORS[2]) and not has_colour(pixels, figures.COLORS[1])


def test_the_loss_curve_draws_a_line_per_term():
    vae = [{"epoch": i / 100, "loss": 300.0 - i / 4, "recon": 250.0 - i / 4, "kl": 50.0} for i in range(400)]
    ae = [{"epoch": i / 100, "loss": 300.0 - i / 4, "recon": 300.0 - i / 4} for i in range(400)]
    vae_pixels, ae_pixels = rgb(figures.live_loss_png(vae)), rgb(figures.live_loss_png(ae))
    assert all(has_colour(vae_pixels, figures.COLORS[i], 10) for i in range(3))           # loss, recon, KL
    assert has_colour(ae_pixels, figures.COLORS[0], 10) and not has_colour(ae_pixels, figures.COLORS[1], 10)


def test_the_progress_bar():
    bar = training.progress_html(0.25, "epoch 1/4 <b>")
    assert 'aria-valuenow="25.0"' in bar and "width:25.0%" in bar and "epoch 1/4 &lt;b&gt;" in bar
    assert 'aria-valuenow="100.0"' in training.progress_html(1.4, "")   # never past the end


def test_every_tab_draws_the_charts_of_one_window():
    """Within a ``CHARTS_EVERY_S`` window every tab shows the data the window's first redraw saw,
    so the room's tabs share one drawing; the next window takes the newest."""
    from types import SimpleNamespace

    job = SimpleNamespace(points=[{}] * 5, snapshot_count=2)
    assert training._charts_at(41, 1000, job) == (5, 2)
    job.points, job.snapshot_count = [{}] * 9, 3
    assert training._charts_at(41, 1000, job) == (5, 2)    # another tab, the same window
    assert training._charts_at(41, 1001, job) == (9, 3)    # the next window


def test_training_panel_shows_the_newest_snapshot_while_a_job_runs():
    from streamlit.testing.v1 import AppTest

    def page():
        from types import SimpleNamespace

        from apcore.defaults import default_config
        from tests.app.test_live_snapshot import frame
        from ui import training

        job = SimpleNamespace(id=7, active=True, state="running", fraction=0.5, snapshot_count=1, snapshot=frame(2),
                              progress=SimpleNamespace(epoch=1, epochs=2, losses={"loss": 200.0, "recon": 200.0}, elapsed=1.0,
                                                        remaining=30.0),
                              points=[{"epoch": 0.1, "recon": 300.0}, {"epoch": 0.2, "recon": 250.0}], cancel=lambda: None)
        real = training.registry
        training.registry = lambda: SimpleNamespace(get=lambda config: job)  # a job in mid-training
        try:
            training._live(default_config("ae-mlp", latent_dim=2))
        finally:
            training.registry = real

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception, at.exception
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert len(captions) == 3                                     # the loss curve, the digits, the codes
    assert captions[0] == "Training loss per image"
    assert any("reconstructions at epoch 0.30" in c for c in captions)
    assert any("codes at epoch 0.30" in c for c in captions)
    bar = at.get("html")[0].proto.body                            # the progress line
    assert "epoch 1/2" in bar and 'aria-valuenow="50.0"' in bar
    assert not at.get("vega_lite_chart") and not at.get("plotly_chart")   # no chart for browsers to redraw


def _running_job(remaining: float, ends_after: float | None):
    """A real job, running, whose training has ``remaining`` seconds left; it ends (done) after
    ``ends_after`` seconds, or never."""
    import threading

    from apcore.defaults import default_config
    from apcore.jobs import DONE, RUNNING, Job
    from apcore.train import Progress

    job = Job(default_config("ae-mlp", latent_dim=2), retrain=True)
    job.state = RUNNING
    job.progress = Progress(epoch=2, epochs=2, step=90, steps=100, losses={"loss": 1.0}, elapsed=19 * remaining)
    assert abs(job.progress.remaining - remaining) < 1e-9   # 95 % done
    if ends_after is not None:
        threading.Timer(ends_after, lambda: setattr(job, "state", DONE)).start()
    return job


def test_the_lecturers_tab_waits_out_the_last_moments_of_a_training(monkeypatch):
    """Less than a tick of training left: the panel waits for the end and redraws the page at once
    (not up to a tick later); more than a tick left, or a job that outlasts the wait: no waiting
    beyond the allowance, the panel draws as usual."""
    import time

    from apcore.train import Progress

    assert Progress(1, 2, 50, 100, {}, elapsed=3.0).remaining == 9.0   # a quarter done in 3 s: 9 s left
    monkeypatch.setattr(training, "FINISH_WAIT_S", 0.5)
    tick = training.LIVE_EVERY_S[training.hall.PRESENTER]
    job = _running_job(remaining=0.2, ends_after=0.4)
    start = time.monotonic()
    assert training._ended_soon(job)
    assert 0.35 <= time.monotonic() - start < tick

    job = _running_job(remaining=tick + 1, ends_after=0.1)
    start = time.monotonic()
    assert not training._ended_soon(job)
    assert time.monotonic() - start < 0.05                           # no wait at all

    job = _running_job(remaining=0.2, ends_after=None)               # scoring takes longer than allowed
    start = time.monotonic()
    assert not training._ended_soon(job)
    assert 0.65 <= time.monotonic() - start < 1.5


def test_the_loss_per_epoch_has_a_tick_per_epoch_and_the_replays_fractions_do_not():
    per_epoch = [{"epoch": e, "recon": 150.0 - e, "kl": 6.0} for e in (1, 2, 3, 4)]
    assert figures.loss_curves(per_epoch, ["recon", "kl"]).layout.xaxis.dtick == 1
    snapshots = [{"epoch": e, "recon": 150.0 - e} for e in (0.0, 0.01, 0.1, 1.0, 4.0)]
    assert figures.loss_curves(snapshots, ["recon"]).layout.xaxis.dtick is None
