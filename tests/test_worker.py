"""apcore.worker: a killed worker is a failed job, never a corrupt checkpoint or a stray process."""

import os
import queue
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from apcore.cache import ModelStore, StoreClosedError, atomic_write, sweep_temporary_files
from apcore.config import ModelConfig
from apcore.jobs import DONE, FAILED, JobRegistry
from apcore.snapshots import Frame, snapshot_steps
from apcore.worker import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def tiny(**changes) -> ModelConfig:
    return ModelConfig(**{"family": "ae-mlp", "train_limit": 256, "epochs": 1, "batch_size": 64, **changes})


def wait_for(predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def gone(pid: int) -> bool:
    """No such process, or only its zombie (its parent died and nobody reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "ZX"
    except (FileNotFoundError, IndexError):
        return True


def assert_only_complete_checkpoints(root: Path) -> None:
    assert list(root.glob(".*.tmp")) == []
    for pt in root.glob("*.pt"):
        blob = torch.load(pt, weights_only=True)
        assert ModelConfig.from_dict(blob["config"]).key == pt.stem


def test_killed_worker_fails_the_job_and_the_next_retrain_trains(tmp_path):
    registry = JobRegistry(ModelStore(root=tmp_path, device="cpu"))
    try:
        first = registry.submit(tiny())
        assert first.wait(TIMEOUT) and first.state == DONE
        job = registry.submit(tiny(train_limit=60000, epochs=20, batch_size=32))
        wait_for(lambda: job.progress is not None)
        killed = registry.worker_pid
        os.kill(killed, signal.SIGKILL)
        assert job.wait(10)
        assert job.state == FAILED
        assert job.error == "The training process was killed by SIGKILL (out of memory?). The next training starts a fresh one."
        redo = registry.submit(tiny(), retrain=True)
        assert redo.wait(TIMEOUT) and redo.state == DONE, redo.error
        assert redo.result.config.seed == 1 and registry.worker_pid not in (None, killed)
        assert_only_complete_checkpoints(tmp_path)
    finally:
        registry.close()


SERVER = textwrap.dedent("""
    import sys, time
    from apcore.cache import ModelStore
    from apcore.config import ModelConfig
    from apcore.jobs import JobRegistry
    registry = JobRegistry(ModelStore(root=sys.argv[1], device="cpu"))
    job = registry.submit(ModelConfig(family="ae-mlp", train_limit=60000, epochs=20, batch_size=32))
    while job.progress is None:
        time.sleep(0.01)
    print(registry.worker_pid, flush=True)
    time.sleep(600)
""")


def test_worker_exits_within_a_second_of_its_server_kill_9(tmp_path):
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        worker = int(server.stdout.readline())  # printed once the worker is training
        assert not gone(worker)
        server.kill()
        server.wait()
        start = time.monotonic()
        while not gone(worker) and time.monotonic() - start < 5:
            time.sleep(0.01)
        assert gone(worker) and time.monotonic() - start < 1.0
        assert_only_complete_checkpoints(tmp_path)
        assert list(tmp_path.glob("*.pt")) == []
    finally:
        server.kill()


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from apcore.cache import atomic_write

    def write(f):
        f.write(b"half a checkpoint" * 1000)
        f.flush()
        print("writing", flush=True)
        time.sleep(600)

    atomic_write(Path(sys.argv[1]), write)
""")


def test_kill_mid_write_leaves_the_old_file_and_the_next_store_sweeps(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"the complete old checkpoint")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert writer.stdout.readline().strip() == "writing"
    writer.kill()
    writer.wait()
    assert target.read_bytes() == b"the complete old checkpoint"
    left = list(tmp_path.glob(".*.tmp"))
    assert len(left) == 1 and f".{writer.pid}." in left[0].name
    ModelStore(root=tmp_path, device="cpu")  # opening a store sweeps what dead writers left
    assert list(tmp_path.glob(".*.tmp")) == []
    assert target.read_bytes() == b"the complete old checkpoint"


def test_sweep_spares_live_writers(tmp_path):
    mine = tmp_path / f".a.pt.{os.getpid()}.abc123.tmp"
    old_format_fresh = tmp_path / ".b.pt.xyz789.tmp"
    for f in (mine, old_format_fresh):
        f.write_bytes(b"x")
    assert sweep_temporary_files(tmp_path) == []
    assert mine.exists() and old_format_fresh.exists()
    assert sweep_temporary_files(tmp_path, min_age_s=0) == [old_format_fresh]


def test_guard_refuses_the_write_of_an_orphan(tmp_path):
    target = tmp_path / "model.pt"
    with pytest.raises(StoreClosedError, match="new owner"):
        atomic_write(target, lambda f: f.write(b"late"), guard=lambda: False)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_worker_sends_each_snapshot_before_done(tmp_path):
    """The protocol itself: ``snapshot`` messages (plain values, float16 arrays) at the snapshot
    steps, in order, the first before any progress, then ``done``."""
    worker = WorkerProcess(tmp_path, device="cpu")
    try:
        messages = []
        while not messages or messages[-1].get("event") != "ready":
            messages.append(worker.recv(TIMEOUT))
        config = tiny(train_limit=640)  # 10 steps
        worker.send({"op": "train", "job": 1, "config": config.to_dict(), "retrain": False})
        events = []
        while not events or events[-1]["event"] not in ("done", "failed"):
            message = worker.recv(TIMEOUT)
            if message is not None:
                events.append(message)
    finally:
        worker.close()
    assert events[-1]["event"] == "done", events[-1]
    kinds = [m["event"] for m in events]
    snapshots = [Frame.from_message(m) for m in events if m["event"] == "snapshot"]
    assert kinds[0] == "snapshot" and kinds.index("progress") > 0
    assert [f.step for f in snapshots] == snapshot_steps(10)
    assert all(f.total_steps == 10 and f.codes.shape == (2000, 2) and f.codes.dtype == "float16" for f in snapshots)
    assert snapshots[0].losses["loss"] > snapshots[-1].losses["loss"]


def made(config: ModelConfig):
    """An untrained model standing for a trained one of ``config``."""
    from apcore.cache import TrainedModel
    from apcore.models import build

    torch.manual_seed(0)
    return TrainedModel(config, build(config).eval(), [], {}, 0.0, "cpu", 0.0)


@pytest.fixture
def cheap_umap(monkeypatch):
    """A 200-image test set and a UMAP replaced by a cheap map: what derive keeps, not UMAP itself."""
    from apcore import cluster

    monkeypatch.setenv("APCORE_CLUSTER_LIMIT", "200")
    monkeypatch.setattr(cluster, "umap_available", lambda: True)
    monkeypatch.setattr(cluster, "umap_features",
                        lambda x, seed=0, **o: np.repeat(x[:, :1], cluster.UMAP_OPTIONS["n_components"], 1))


def kept(root: Path) -> tuple[int, int]:
    return len(list(root.glob("clusterings/*.npz"))), len(list(root.glob("embeddings/*.npy")))


def test_derive_keeps_the_clustering_view_of_the_clustering_models_only(tmp_path, cheap_umap):
    from apcore import defaults, worker

    store = ModelStore(root=tmp_path, device="cpu")
    worker.derive(store, made(defaults.default_config("ae-mlp", latent_dim=5)))  # the Autoencoder page's
    assert kept(tmp_path) == (0, 0)
    worker.derive(store, made(defaults.cluster_ae_config()))
    assert kept(tmp_path) == (2, 1)  # its code with and without UMAP; the embedding
    worker.derive(store, made(defaults.cluster_vae_config()))  # also the VAE page's 20-d model
    assert kept(tmp_path) == (4, 2)
    orphan = ModelStore(root=tmp_path / "orphan", device="cpu", write_guard=lambda: False)
    worker.derive(orphan, made(defaults.cluster_ae_config(10)))
    assert kept(tmp_path / "orphan") == (0, 0)


def test_a_job_is_done_only_once_its_view_is_kept(monkeypatch):
    from apcore import defaults, worker

    config = defaults.cluster_ae_config()
    order = []

    class Store:
        def get_or_train(self, c, *args):
            order.append("trained")
            return made(c)

    monkeypatch.setattr(worker, "derive", lambda store, trained: order.append(f"derived {trained.config.key}"))
    message = {"job": 1, "config": config.to_dict(), "clustering_first": True}  # the clustering page asked
    later = worker._run_job(Store(), lambda m: order.append(m["event"]), message, set())
    assert order == ["trained", f"derived {config.key}", "done"] and later is None  # nothing left to keep


@pytest.mark.parametrize("latent", [20, 2])
@pytest.mark.parametrize("clustering_first", [True, False, None])
def test_the_vae_pages_models_are_announced_before_their_clustering_view(monkeypatch, latent, clustering_first):
    """Asked by the clustering page, the VAE is announced once that page's view is kept; asked by
    the VAE page (or a message without the field), at once, the view kept after."""
    from apcore import defaults, worker

    config = defaults.default_config("vae-mlp", latent_dim=latent)  # the VAE page's model at either size
    assert "clustering" in defaults.pages_using(config) and "vae" in defaults.pages_using(config)
    order = []

    class Store:
        def get_or_train(self, c, *args):
            return made(c)

    def derive(store, trained, should_stop=None):
        order.append("derived")
        return True

    monkeypatch.setattr(worker, "derive", derive)
    message = {"job": 1, "config": config.to_dict()}
    if clustering_first is not None:
        message["clustering_first"] = clustering_first
    jobs, views = queue.Queue(), {}
    jobs.put(message)
    for _ in range(1 if clustering_first else 2):  # (a third call would wait for a job)
        worker.serve_one(Store(), lambda m: order.append(m["event"]), jobs, set(), views, [])
    assert order == (["derived", "done"] if clustering_first else ["done", "derived"]) and views == {}


def test_a_waiting_job_goes_before_a_clustering_view_and_puts_off_one_begun(monkeypatch):
    """The VAE page's 2-D model, then its 20-d one pressed while the first trains, then the 2-D one
    again while the 20-d one's view is being kept: every job first, then the newest models' views,
    each once, the Retrain's in place of its config's older model."""
    from apcore import defaults, worker

    order, jobs, views = [], queue.Queue(), {}
    two, twenty = (defaults.default_config("vae-mlp", latent_dim=d) for d in (2, 20))
    trained = []

    class Store:
        def get_or_train(self, c, *args):
            trained.append(made(c))
            order.append(f"trained {c.latent_dim}")
            return trained[-1]

        retrain = get_or_train

    def derive(store, model, should_stop=None):
        assert should_stop is not None and not should_stop()  # asked only when no job waits
        if model is trained[1] and "job 3 sent" not in order:
            order.append("job 3 sent")
            jobs.put({"job": 3, "config": two.to_dict(), "retrain": True})  # pressed during this view
            assert should_stop()
            return False
        order.append(f"derived {model.config.latent_dim}" + (" (retrained)" if model is trained[2] else ""))
        return True

    monkeypatch.setattr(worker, "derive", derive)
    send = lambda m: order.append(f"{m['event']} {m['job']}")  # noqa: E731
    jobs.put({"job": 1, "config": two.to_dict()})
    worker.serve_one(Store(), send, jobs, set(), views, [])
    jobs.put({"job": 2, "config": twenty.to_dict()})
    for _ in range(5):  # job 2; 20's view put off; job 3; the two views (a sixth call would wait for a job)
        worker.serve_one(Store(), send, jobs, set(), views, [])
    assert order == ["trained 2", "done 1", "trained 20", "done 2", "job 3 sent", "trained 2", "done 3",
                     "derived 2 (retrained)", "derived 20"]
    assert views == {} and jobs.empty()


def test_idle_work_runs_in_one_idle_spell_until_a_job_waits(monkeypatch):
    """Idle for PREPARE_AFTER_S, the worker warms its trainer up and then prepares UMAP at once (a
    clustering Retrain need not wait a second idle spell for it); a job that arrives meanwhile goes
    first, and the rest of the idle work waits for the next idle spell."""
    from apcore import worker

    monkeypatch.setattr(worker, "PREPARE_AFTER_S", 0.01)
    done, jobs = [], queue.Queue()
    idle_work = [lambda: done.append("warm up"), lambda: done.append("umap")]
    worker.serve_one(None, None, jobs, set(), {}, idle_work)
    assert done == ["warm up", "umap"] and idle_work == []

    done.clear()
    idle_work = [lambda: (done.append("warm up"), jobs.put({"job": 1})), lambda: done.append("umap")]
    worker.serve_one(None, None, jobs, set(), {}, idle_work)
    assert done == ["warm up"] and len(idle_work) == 1 and jobs.qsize() == 1


@pytest.mark.skipif(not __import__("apcore.cluster").cluster.umap_available(), reason="umap-learn not installed")
def test_derive_gives_way_between_umaps_epochs_and_keeps_nothing_half_done(tmp_path, monkeypatch):
    from apcore import cluster, defaults, worker

    monkeypatch.setenv("APCORE_CLUSTER_LIMIT", "200")
    store, model = ModelStore(root=tmp_path, device="cpu"), made(defaults.cluster_ae_config())
    asked = []

    def job_arrives_at_the_30th_question():
        asked.append(1)
        return len(asked) >= 30

    assert worker.derive(store, model, should_stop=job_arrives_at_the_30th_question) is False
    assert len(asked) == 30 < cluster.UMAP_OPTIONS["n_epochs"]  # stopped in UMAP's layout
    assert kept(tmp_path) == (1, 0)  # the codes' row, done before UMAP began; no embedding
    assert worker.derive(store, model, should_stop=lambda: False) is True
    assert kept(tmp_path) == (2, 1)


def test_warm_up_runs_a_few_steps_of_every_page_default_and_stops_for_a_job(monkeypatch):
    import queue
    import types

    from apcore import defaults, train, worker

    store, seen = types.SimpleNamespace(device=torch.device("cpu")), []
    monkeypatch.setattr(train, "fit", lambda model, config, data, device: seen.append(config))
    worker.warm_up(store, queue.Queue())
    steps = worker.WARM_UP_STEPS
    assert [(c.key, c.epochs, c.train_limit) for c in seen] == [
        (c.replace(epochs=1, train_limit=steps * c.batch_size).key, 1, steps * c.batch_size) for c in defaults.warm_list()]
    waiting = queue.Queue()
    waiting.put({"op": "train"})
    seen.clear()
    worker.warm_up(store, waiting)  # a lecturer's job is waiting: it goes first
    assert seen == []


def test_warm_up_trains_quietly_and_survives_a_failure(monkeypatch, caplog):
    import logging
    import queue
    import types

    from apcore import defaults, train, worker

    store = types.SimpleNamespace(device=torch.device("cpu"))
    monkeypatch.setattr(defaults, "warm_list", lambda: [tiny(batch_size=32), tiny(family="vae-mlp", batch_size=32)])
    with caplog.at_level(logging.INFO):
        worker.warm_up(store, queue.Queue())  # real optimiser steps
    assert "trainer warmed up" in caplog.text and "training ae-mlp" not in caplog.text
    assert logging.getLogger(train.__name__).level == logging.NOTSET  # restored

    def broken(*args):
        raise RuntimeError("no data")

    monkeypatch.setattr(train, "fit", broken)
    caplog.clear()
    worker.warm_up(store, queue.Queue())  # logged, not raised: the worker goes on
    assert "warming up the trainer failed" in caplog.text
