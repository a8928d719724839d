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
                              progress=SimpleNamespace(epoch=1, epochs=2, losses={"loss": 200.0, "recon": 200.0}, elapsed=1.0),
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
