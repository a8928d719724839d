"""apcore.jobs: background trainings that viewers join, cancel and watch."""

import threading

import pytest

from apcore import train
from apcore.cache import ModelStore
from apcore.config import ModelConfig
from apcore.jobs import CANCELLED, DONE, FAILED, QUEUED, JobLimitError, JobRegistry

TIMEOUT = 120


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def gate(monkeypatch):
    """A trainer that reports progress, then waits for the test (or a cancel) before training."""
    opened = threading.Event()
    started = []
    real = train.fit

    def gated(model, config, data, device, on_progress=None, should_stop=None):
        started.append(config)
        while not opened.wait(0.01):
            if should_stop is not None and should_stop():
                raise train.Cancelled()
        return real(model, config, data, device, on_progress, should_stop)

    monkeypatch.setattr(train, "fit", gated)
    gated.open = opened.set
    gated.started = started
    return gated


def tiny(**changes) -> ModelConfig:
    return ModelConfig(**{"family": "ae-mlp", "train_limit": 256, "epochs": 1, "batch_size": 64, **changes})


@pytest.fixture
def registry(tmp_path):
    return JobRegistry(ModelStore(root=tmp_path, device="cpu"))


def wait_for(predicate, timeout=TIMEOUT):
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_submit_trains_and_reports(registry, fits):
    job = registry.submit(tiny())
    assert job.wait(TIMEOUT)
    assert job.state == DONE and job.error is None and job.fraction == 1.0
    assert job.result.config == tiny() and job.result.metrics
    assert job.points and all("loss" in p and 0 < p["epoch"] <= 1 for p in job.points)
    assert job.finished is not None and registry.active() == []
    assert registry.get(tiny()) is job
    assert len(fits) == 1


def test_same_view_joins_one_job(registry, fits, gate):
    a = registry.submit(tiny())
    b = registry.submit(tiny())
    c = registry.submit(tiny(seed=3))  # same view: the seed is not part of it
    assert a is b is c
    assert registry.active() == [a]
    gate.open()
    assert a.wait(TIMEOUT) and a.state == DONE
    assert len(gate.started) == 1


def test_cancel_running_job(registry, gate):
    job = registry.submit(tiny())
    wait_for(lambda: gate.started)
    assert job.state == "running"
    job.cancel()
    assert job.wait(TIMEOUT)
    assert job.state == CANCELLED and job.result is None
    assert registry.store.get(tiny()) is None  # nothing saved


def test_cancel_running_job_mid_training(registry):
    # A real training, long enough to be caught running: the trainer's own cancel check.
    config = tiny(train_limit=60000, epochs=20, batch_size=32)
    job = registry.submit(config)
    wait_for(lambda: job.progress is not None)
    job.cancel()
    assert job.wait(TIMEOUT)
    assert job.state == CANCELLED
    assert job.progress.fraction < 0.5
    assert list(registry.store.root.glob("*.pt")) == []


def test_cancel_queued_job_never_runs(registry, gate):
    first = registry.submit(tiny())
    wait_for(lambda: gate.started)
    queued = registry.submit(tiny(latent_dim=3))
    assert queued is not first and queued.state == QUEUED
    queued.cancel()
    gate.open()
    assert first.wait(TIMEOUT) and queued.wait(TIMEOUT)
    assert first.state == DONE
    assert queued.state == CANCELLED and queued.progress is None
    assert [c.latent_dim for c in gate.started] == [2]


def test_job_limit(tmp_path, gate):
    registry = JobRegistry(ModelStore(root=tmp_path, device="cpu"), max_pending=2)
    jobs = [registry.submit(tiny(latent_dim=d)) for d in (2, 3)]
    with pytest.raises(JobLimitError, match="2 trainings"):
        registry.submit(tiny(latent_dim=4))
    assert registry.submit(tiny(latent_dim=3)) is jobs[1]  # joining is always allowed
    for job in jobs:
        job.cancel()
    assert all(job.wait(TIMEOUT) for job in jobs)
    assert registry.submit(tiny(latent_dim=4)).state in (QUEUED, "running")  # room again


def test_failing_training(registry, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory, pretend")

    monkeypatch.setattr(train, "fit", broken)
    job = registry.submit(tiny())
    assert job.wait(TIMEOUT)
    assert job.state == FAILED and job.result is None
    assert job.error == "RuntimeError: out of memory, pretend"
    # The worker survives: a later job still runs.
    monkeypatch.undo()
    again = registry.submit(tiny())
    assert again is not job and again.wait(TIMEOUT) and again.state == DONE


def test_retrain_gives_new_seed(registry, fits):
    first = registry.submit(tiny())
    assert first.wait(TIMEOUT) and first.state == DONE
    assert registry.submit(tiny()).wait(TIMEOUT)  # cached: no second training
    assert len(fits) == 1
    redo = registry.submit(tiny(), retrain=True)
    assert redo.wait(TIMEOUT) and redo.state == DONE
    assert redo.result.config.seed == 1 and redo.result.config.view_key == tiny().view_key
    assert len(fits) == 2
    assert registry.store.latest(tiny()).config.seed == 1
    assert not registry.store.path_for(tiny()).exists()  # the older seed is replaced


def test_finished_jobs_trimmed(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "fit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    registry = JobRegistry(ModelStore(root=tmp_path, device="cpu"), keep_finished=2)
    for d in range(2, 7):
        assert registry.submit(tiny(latent_dim=d)).wait(TIMEOUT)
    kept = [d for d in range(2, 7) if registry.get(tiny(latent_dim=d)) is not None]
    assert len(kept) <= 3 and 6 in kept
