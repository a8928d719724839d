"""apcore.jobs: trainings that viewers join, cancel and watch, run by a worker process."""

import os
import time

import numpy as np
import pytest

from apcore.cache import ModelStore
from apcore.config import ModelConfig
from apcore.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobLimitError, JobRegistry

TIMEOUT = 120


def tiny(**changes) -> ModelConfig:
    return ModelConfig(**{"family": "ae-mlp", "train_limit": 256, "epochs": 1, "batch_size": 64, **changes})


def slow(**changes) -> ModelConfig:
    """A training of minutes: long enough to be caught running, then cancelled or killed."""
    return tiny(train_limit=60000, epochs=20, batch_size=32, **changes)


@pytest.fixture
def registry(tmp_path):
    jobs = JobRegistry(ModelStore(root=tmp_path, device="cpu"))
    yield jobs
    jobs.close()


def wait_for(predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_submit_trains_in_the_worker_and_reports(registry, fits):
    assert registry.signature() == ()
    job = registry.submit(tiny())
    queued = registry.signature()
    assert queued in (((job.id, QUEUED),), ((job.id, RUNNING),))
    assert job.wait(TIMEOUT)
    assert registry.signature() == ((job.id, DONE),)  # what a room following the lecturer compares
    assert job.state == DONE and job.error is None and job.fraction == 1.0
    assert job.result.config == tiny() and job.result.metrics and not job.result.model.training
    assert job.points and all("loss" in p and 0 < p["epoch"] <= 1 for p in job.points)
    # The worker sent each training snapshot as it was taken; the job keeps the newest.
    replay = job.result.snapshots
    assert replay is not None and job.snapshot_count == len(replay) >= 3
    assert job.snapshot.step == replay.steps[-1] == job.snapshot.total_steps
    assert np.array_equal(job.snapshot.codes, replay.codes[-1]) and job.snapshot.codes.dtype == np.float16
    assert np.array_equal(job.snapshot.reconstructions, replay.reconstructions[-1])
    assert job.finished is not None and registry.active() == []
    assert registry.get(tiny()) is job
    assert fits == []  # trained in the worker process, never in this one
    assert registry.worker_pid not in (None, os.getpid())
    assert registry.store.path_for(tiny()).exists()
    # The server loaded it: a second request is answered from memory, no second training.
    assert registry.submit(tiny()).wait(TIMEOUT) and registry.store.get(tiny()) is job.result


def test_same_view_joins_one_job(registry):
    a = registry.submit(slow())
    b = registry.submit(slow())
    c = registry.submit(slow(seed=3))  # same view: the seed is not part of it
    assert a is b is c
    assert registry.active() == [a]
    a.cancel()
    assert a.wait(TIMEOUT) and a.state == CANCELLED


def test_cancel_stops_a_running_training_within_a_second(registry):
    job = registry.submit(slow())
    wait_for(lambda: job.progress is not None)
    assert job.state == RUNNING
    start = time.monotonic()
    job.cancel()
    assert job.wait(TIMEOUT)
    assert time.monotonic() - start < 1.0
    assert job.state == CANCELLED and job.result is None
    assert job.progress.fraction < 0.5
    assert list(registry.store.root.glob("*.pt")) == []  # nothing saved
    # The same worker takes the next job.
    pid = registry.worker_pid
    assert registry.submit(tiny()).wait(TIMEOUT) and registry.worker_pid == pid


def test_cancel_queued_job_never_runs(registry):
    first = registry.submit(slow())
    wait_for(lambda: first.progress is not None)
    queued = registry.submit(tiny(latent_dim=3))
    assert queued is not first and queued.state == QUEUED
    queued.cancel()
    first.cancel()
    assert first.wait(TIMEOUT) and queued.wait(TIMEOUT)
    assert queued.state == CANCELLED and queued.progress is None
    assert registry.store.get(tiny(latent_dim=3)) is None


def test_job_limit(tmp_path):
    registry = JobRegistry(ModelStore(root=tmp_path, device="cpu"), max_pending=2)
    try:
        jobs = [registry.submit(slow(latent_dim=d)) for d in (2, 3)]
        with pytest.raises(JobLimitError, match="2 trainings"):
            registry.submit(tiny(latent_dim=4))
        assert registry.submit(slow(latent_dim=3)) is jobs[1]  # joining is always allowed
        for job in jobs:
            job.cancel()
        assert all(job.wait(TIMEOUT) for job in jobs)
        assert registry.submit(tiny(latent_dim=4)).state in (QUEUED, RUNNING)  # room again
    finally:
        registry.close()


def test_retrain_gives_new_seed(registry):
    first = registry.submit(tiny())
    assert first.wait(TIMEOUT) and first.state == DONE
    redo = registry.submit(tiny(), retrain=True)
    assert redo.wait(TIMEOUT) and redo.state == DONE, redo.error
    assert redo.result.config.seed == 1 and redo.result.config.view_key == tiny().view_key
    assert registry.store.latest(tiny()) is redo.result
    assert not registry.store.path_for(tiny()).exists()  # the older seed is replaced on disk...
    assert registry.store.get(tiny()) is None             # ...and no longer served from memory


def test_finished_jobs_trimmed(tmp_path):
    registry = JobRegistry(ModelStore(root=tmp_path, device="cpu"), keep_finished=2)
    try:
        for d in range(2, 7):
            assert registry.submit(tiny(latent_dim=d, train_limit=64)).wait(TIMEOUT)
        kept = [d for d in range(2, 7) if registry.get(tiny(latent_dim=d, train_limit=64)) is not None]
        # Each submit trims to 2 finished jobs beside the new one; the last one then finishes too.
        assert kept == [4, 5, 6]
    finally:
        registry.close()


def test_closed_registry_ends_its_worker(tmp_path):
    registry = JobRegistry(ModelStore(root=tmp_path, device="cpu"))
    worker = registry.start_worker()
    registry.close()
    assert worker.proc.poll() is not None
    with pytest.raises(RuntimeError, match="closed"):
        registry.submit(tiny())


def test_failure_in_the_worker_is_a_failed_job(registry):
    # A folder where the checkpoint's summary must go: the training runs, the save fails.
    in_the_way = registry.store.path_for(tiny()).with_suffix(".json")
    in_the_way.mkdir()
    job = registry.submit(tiny())
    assert job.wait(TIMEOUT)
    assert job.state == FAILED and job.result is None
    assert job.error.startswith("IsADirectoryError") and in_the_way.name in job.error
    in_the_way.rmdir()
    pid = registry.worker_pid
    again = registry.submit(tiny())
    assert again is not job and again.wait(TIMEOUT) and again.state == DONE, again.error
    assert registry.worker_pid == pid  # the worker survived its failed job


def test_live_points_are_means_over_each_report_window():
    """The progress carries running means over the epoch; a live point is the mean since the
    previous report, so the curve neither lags nor drops at an epoch's start."""
    from apcore.jobs import Job
    from apcore.train import Progress

    job = Job(tiny(), retrain=False)
    for epoch, step, mean in ((1, 10, 100.0), (1, 20, 90.0), (1, 40, 70.0), (2, 10, 52.0), (2, 40, 49.0)):
        job._on_progress(Progress(epoch, 2, step, 40, {"loss": mean, "recon": mean}, elapsed=0.0))
    assert [p["epoch"] for p in job.points] == [0.25, 0.5, 1.0, 1.25, 2.0]
    # steps 11-20 sum to 90*20 - 100*10 = 800; steps 21-40: 70*40 - 90*20 = 1000; epoch 2 starts afresh
    assert [p["loss"] for p in job.points] == pytest.approx([100.0, 80.0, 50.0, 52.0, 48.0])
    assert job.points[-1]["recon"] == pytest.approx(48.0) and job.progress.losses["loss"] == 49.0


def test_the_clustering_pages_order_reaches_the_worker(registry, monkeypatch):
    """``clustering_first`` travels with the job to the worker (which then keeps the clustering
    view before announcing the model: tests/test_worker.py); a job joined keeps its own order."""
    sent = []
    start = registry.start_worker

    def recording_worker():
        worker = start()
        if not getattr(worker, "recorded", False):
            send, worker.recorded = worker.send, True
            worker.send = lambda message: sent.append(message) or send(message)
        return worker

    monkeypatch.setattr(registry, "start_worker", recording_worker)
    first = registry.submit(tiny(), clustering_first=True)
    assert registry.submit(tiny()) is first and first.clustering_first  # joined, not re-queued
    assert first.wait(TIMEOUT) and first.state == DONE
    other = registry.submit(tiny(latent_dim=3))
    assert other.wait(TIMEOUT) and other.state == DONE
    trains = [m for m in sent if m.get("op") == "train"]
    assert [(m["job"], m["clustering_first"]) for m in trains] == [(first.id, True), (other.id, False)]
