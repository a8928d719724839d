"""The training panel's live snapshot (ui/training.py): built once per new snapshot of a job."""

import json

import numpy as np
import pyarrow

from apcore.data import CLASS_NAMES
from apcore.snapshots import Frame
from ui import training


def frame(code_size: int, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    digits = rng.random((10, 1, 28, 28)).astype(np.float16)
    return Frame(step=3, total_steps=10, epoch=0.3, losses={"loss": 200.0, "recon": 200.0}, inputs=digits,
                 reconstructions=digits[::-1].copy(), labels=rng.integers(0, 10, 500).astype(np.uint8),
                 codes=rng.normal(size=(500, code_size)).astype(np.float16))


def test_live_snapshot_draws_the_codes_and_reconstructions_once_per_snapshot():
    names = tuple(CLASS_NAMES["mnist"])
    fig, png = training._live_snapshot(1, 1, frame(2), names)
    points = fig["data"]["values"]
    assert png.startswith(b"\x89PNG") and {p["class"] for p in points} <= set(names)
    assert len(points) == 500 and fig["encoding"]["x"]["title"] == "z1"
    again = training._live_snapshot(1, 1, frame(2, seed=1), names)   # same job, same count: the cached one
    assert again[0] is fig
    newer, _ = training._live_snapshot(1, 2, frame(8), names)       # a new snapshot: a new figure, 8-D by PCA
    assert newer is not fig and newer["encoding"]["x"]["title"] == "PC 1"


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
            config = default_config("ae-mlp", latent_dim=2)
            training._live(config)
            training._live_charts(config)
        finally:
            training.registry = real

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception, at.exception
    charts = at.get("vega_lite_chart")                                # Streamlit sends the data as Arrow
    rows = [pyarrow.ipc.open_stream(el.proto.data.data).read_all().to_pylist() for el in charts]
    assert len(charts) == 2                                           # the loss curve and the codes
    assert [r["per image"] for r in rows[0]] == [300.0, 250.0] and len(rows[1]) == 500
    assert json.loads(charts[1].proto.spec)["encoding"]["x"]["title"] == "z1"
    shown = at.get("image")
    assert len(shown) == 1 and "epoch 0.30" in shown[0].proto.imgs[0].caption   # digits over reconstructions
    bar = at.get("html")[0].proto.body                                           # the progress line
    assert "epoch 1/2" in bar and 'aria-valuenow="50.0"' in bar
