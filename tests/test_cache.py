"""apcore.cache: memory -> disk -> train, atomic checkpoints, recovery, one training per config."""

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from apcore.cache import FORMAT_VERSION, ModelStore
from apcore.config import ModelConfig
from apcore.models import build

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**changes) -> ModelConfig:
    return ModelConfig(**{"family": "ae-mlp", "train_limit": 256, "epochs": 1, "batch_size": 64, **changes})


def run_together(fn, n: int) -> None:
    """Call fn(0) .. fn(n - 1) in n threads at once; wait for all."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def store_at(root, **kwargs) -> ModelStore:
    return ModelStore(root=root, device="cpu", **kwargs)


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".tmp"))


# -- round trip --------------------------------------------------------------------------------
def test_round_trip(tmp_path, fits):
    config = tiny(family="vae-mlp")
    first = store_at(tmp_path).get_or_train(config)
    assert first.cached is False and len(fits) == 1
    assert first.config == config and first.device == "cpu" and first.train_seconds > 0
    assert not any(p.requires_grad for p in first.model.parameters())

    again = store_at(tmp_path).get_or_train(config)  # a new process, in effect: empty memory
    assert again.cached is True and len(fits) == 1
    assert same_weights(first.model, again.model)
    assert again.metrics == first.metrics and again.history == first.history
    assert again.train_seconds == first.train_seconds and again.created == first.created
    assert type(again.model) is type(first.model) and not again.model.training
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(first.model.reconstruct(x), again.model.reconstruct(x))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_read_back_on_its_device_with_its_replay(tmp_path, device):
    # A GPU store read its checkpoints onto the GPU, replay included, whose arrays then failed to
    # become NumPy: every model loaded from disk had lost its training replay (seen on an H200).
    config = tiny(family="vae-mlp")
    first = ModelStore(root=tmp_path, device=device).get_or_train(config)
    again = ModelStore(root=tmp_path, device=device).get_or_train(config)
    assert again.cached is True and again.model.device.type == device and same_weights(first.model, again.model)
    assert again.snapshots is not None and len(again.snapshots) == len(first.snapshots)
    assert (again.snapshots.codes == first.snapshots.codes).all()


def test_memory_then_disk(tmp_path, fits):
    store = store_at(tmp_path)
    config = tiny()
    assert store.get(config) is None
    trained = store.get_or_train(config)
    assert store.get_or_train(config) is trained  # memory: the very same object
    assert store.get(config) is trained
    assert len(fits) == 1
    fresh = store_at(tmp_path)
    assert fresh.get(config).cached is True  # disk
    assert fresh.get(config.replace(seed=1)) is None
    assert len(fits) == 1


def test_checkpoint_contents(tmp_path):
    store = store_at(tmp_path)
    config = tiny(family="vae-mlp")
    trained = store.get_or_train(config)
    path = store.path_for(config)
    assert path == tmp_path / f"{config.key}.pt"
    blob = torch.load(path, weights_only=True)
    assert blob["format_version"] == FORMAT_VERSION
    assert ModelConfig.from_dict(blob["config"]) == config
    assert blob["key"] == config.key and blob["view_key"] == config.view_key
    assert blob["history"] == trained.history and blob["metrics"] == trained.metrics
    assert set(blob["state_dict"]) == set(trained.model.state_dict())
    assert all(t.device.type == "cpu" for t in blob["state_dict"].values())
    assert blob["snapshots"]["codes"].dtype == torch.float16  # the training replay: in the .pt only

    summary = json.loads(path.with_suffix(".json").read_text())
    assert summary == {k: v for k, v in blob.items() if k not in ("state_dict", "snapshots")}
    assert summary["config"] == config.to_dict() and summary["metrics"] == trained.metrics
    assert store.summaries() == [summary]
    assert leftovers(tmp_path) == []


# -- recovery ----------------------------------------------------------------------------------
def damage_garbage(path: Path) -> None:
    path.write_bytes(b"this is not a checkpoint" * 100)


def damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_format(path: Path) -> None:
    blob = torch.load(path, weights_only=True)
    torch.save({**blob, "format_version": 999}, path)


def damage_weights(path: Path) -> None:
    blob = torch.load(path, weights_only=True)
    state = dict(blob["state_dict"])
    state.pop(next(k for k in state if k.endswith("weight")))
    torch.save({**blob, "state_dict": state}, path)


def damage_not_a_dict(path: Path) -> None:
    torch.save([1, 2, 3], path)


@pytest.mark.parametrize("damage", [damage_garbage, damage_truncate, damage_format, damage_weights,
                                    damage_not_a_dict])
def test_unusable_checkpoint_set_aside_and_retrained(tmp_path, fits, caplog, damage):
    config = tiny()
    store_at(tmp_path).get_or_train(config)
    path = store_at(tmp_path).path_for(config)
    damage(path)
    damaged = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="apcore.cache"):
        trained = store_at(tmp_path).get_or_train(config)
    assert trained.cached is False and len(fits) == 2
    aside = list(tmp_path.glob(f"{config.key}.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and path.name in warnings[0].getMessage()
    # The retrained checkpoint is good again.
    assert store_at(tmp_path).get(config).cached is True


def test_unusable_checkpoint_via_get_returns_none(tmp_path, caplog):
    config = tiny()
    store_at(tmp_path).get_or_train(config)
    damage_garbage(store_at(tmp_path).path_for(config))
    assert store_at(tmp_path).get(config) is None
    assert list(tmp_path.glob("*.corrupt-*")) and "unusable" in caplog.text
    assert not store_at(tmp_path).path_for(config).with_suffix(".json").exists()


def write_version_1(root: Path, config: ModelConfig) -> torch.nn.Module:
    """A checkpoint as format 1 wrote it (no snapshots), made by hand; returns its model."""
    torch.manual_seed(7)
    model = build(config)
    summary = {"format_version": 1, "key": config.key, "view_key": config.view_key, "config": config.to_dict(),
               "history": [{"epoch": 1, "loss": 300.0, "recon": 300.0, "seconds": 2.0}],
               "metrics": {"test_recon": 290.0}, "train_seconds": 2.5, "device": "cpu", "created": 1.7e9}
    root.mkdir(parents=True, exist_ok=True)
    torch.save({**summary, "state_dict": model.state_dict()}, root / f"{config.key}.pt")
    (root / f"{config.key}.json").write_text(json.dumps(summary))
    return model


def test_version_1_checkpoint_loads_without_replay(tmp_path, fits):
    config = tiny()
    model = write_version_1(tmp_path, config)
    trained = store_at(tmp_path).get_or_train(config)
    assert fits == [] and trained.cached is True and trained.snapshots is None
    assert same_weights(trained.model, model)
    assert trained.metrics == {"test_recon": 290.0} and trained.train_seconds == 2.5
    assert list(tmp_path.glob("*.corrupt-*")) == []
    assert [s["format_version"] for s in store_at(tmp_path).summaries()] == [1]
    assert store_at(tmp_path).latest(config).snapshots is None
    # A retrain writes the current format, with its replay.
    redo = store_at(tmp_path).retrain(config)
    assert redo.snapshots is not None and len(fits) == 1
    assert torch.load(store_at(tmp_path).path_for(redo.config), weights_only=True)["format_version"] == FORMAT_VERSION


def test_damaged_snapshots_lose_only_the_replay(tmp_path, fits, caplog):
    config = tiny()
    trained = store_at(tmp_path).get_or_train(config)
    path = store_at(tmp_path).path_for(config)
    blob = torch.load(path, weights_only=True)
    torch.save({**blob, "snapshots": {**blob["snapshots"], "codes": blob["snapshots"]["codes"][:3]}}, path)
    with caplog.at_level(logging.WARNING, logger="apcore.cache"):
        again = store_at(tmp_path).get(config)
    assert again.cached is True and again.snapshots is None and same_weights(again.model, trained.model)
    assert "snapshots unusable" in caplog.text and len(fits) == 1
    assert list(tmp_path.glob("*.corrupt-*")) == []


def test_mismatching_config_set_aside(tmp_path, fits, caplog):
    a, b = tiny(seed=0), tiny(seed=1)
    store = store_at(tmp_path)
    store.get_or_train(a)
    # A checkpoint of config a under b's name (a copy gone wrong, a hand edit).
    os.replace(store.path_for(a), store.path_for(b))
    trained = store_at(tmp_path).get_or_train(b)
    assert trained.config == b and trained.cached is False and len(fits) == 2
    assert list(tmp_path.glob(f"{b.key}.corrupt-*"))
    assert "differs" in caplog.text


# -- atomic writes -----------------------------------------------------------------------------
def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    store = store_at(tmp_path)
    config = tiny()
    trained = store.get_or_train(config)
    path = store.path_for(config)
    before = path.read_bytes()
    real_save = torch.save

    def dies_midway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_midway)
    changed = type(trained)(**{**trained.__dict__, "metrics": {"test_recon": -1.0}})
    with pytest.raises(OSError, match="disk full"):
        store.save(changed)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    assert store_at(tmp_path).get(config).metrics == trained.metrics


# -- one training per config -------------------------------------------------------------------
def test_two_threads_train_once(tmp_path, fits):
    store = store_at(tmp_path)
    config = tiny(family="ae-conv")
    barrier = threading.Barrier(2)
    results = [None, None]

    def ask(i):
        barrier.wait()
        results[i] = store.get_or_train(config)

    run_together(ask, 2)
    assert len(fits) == 1
    assert results[0] is results[1] is not None


def test_two_stores_one_folder_train_once(tmp_path, fits):
    # Two stores on one folder share no memory: only the file lock keeps them from training twice.
    config = tiny()
    stores = [store_at(tmp_path), store_at(tmp_path)]
    barrier = threading.Barrier(2)
    results = [None, None]

    def ask(i):
        barrier.wait()
        results[i] = stores[i].get_or_train(config)

    run_together(ask, 2)
    assert len(fits) == 1
    assert sorted(r.cached for r in results) == [False, True]
    assert same_weights(results[0].model, results[1].model)


def test_two_processes_train_once(tmp_path):
    config_args = ["ae-mlp", "--train-limit", "256", "--epochs", "1", "--device", "cpu"]
    from apcore.defaults import default_config

    config = default_config("ae-mlp", train_limit=256, epochs=1)
    env = {**os.environ, "APCORE_CHECKPOINT_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "apcore", "train", *config_args, "--json"]
    # Hold the config's lock while both start, so both find no checkpoint and then queue on
    # the lock: the race that matters, made certain rather than left to timing.
    lock = FileLock(str(tmp_path / f".{config.key}.lock"))
    lock.acquire()
    try:
        procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        try:
            waiting = _wait_until_blocked(procs, timeout=60)
        finally:
            lock.release()
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(r["key"] == config.key for r in results)
    # One training: both report its time, and only the trainer says it did not come from the cache.
    assert results[0]["train_seconds"] == results[1]["train_seconds"]
    assert results[0]["metrics"] == results[1]["metrics"]
    assert sorted(r["cached"] for r in results) == [False, True], (waiting, results)
    assert [p.name for p in tmp_path.glob("*.pt")] == [f"{config.key}.pt"]


def _wait_until_blocked(procs, timeout: float) -> bool:
    """Wait until every process sits polling the held lock: imports done (over a second of CPU),
    then almost no CPU for a second (filelock sleeps 50 ms between tries). False on timeout."""
    import time

    def cpu_seconds(pid):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    deadline = time.monotonic() + timeout
    samples = {p.pid: [] for p in procs}
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                return False
            samples[p.pid].append(cpu_seconds(p.pid))
        if all(len(s) > 4 and s[-1] > 1.0 and s[-1] - s[-5] < 0.05 for s in samples.values()):
            return True
        time.sleep(0.25)
    return False


# -- seeds, latest, retrain --------------------------------------------------------------------
def test_retrain_new_seed_replaces_older(tmp_path, fits):
    store = store_at(tmp_path)
    config = tiny()
    first = store.get_or_train(config)
    second = store.retrain(config)
    assert second.config == config.replace(seed=1) and second.cached is False
    assert not store.path_for(config).exists() and not store.path_for(config).with_suffix(".json").exists()
    assert store.path_for(second.config).exists()
    assert not same_weights(first.model, second.model)
    assert store.latest(config) is second
    assert store_at(tmp_path).latest(config).config.seed == 1
    third = store.retrain(config)
    assert third.config.seed == 2
    assert [c.seed for c in store.seeds_on_disk(config)] == [2]
    assert len(fits) == 3
    assert store.get(config) is None  # forgotten in memory too


def test_latest_is_newest(tmp_path):
    store = store_at(tmp_path)
    config = tiny()
    assert store.latest(config) is None
    store.get_or_train(config.replace(seed=5))
    newest = store.get_or_train(config.replace(seed=2))
    assert [c.seed for c in store.seeds_on_disk(config)] == [2, 5]
    assert store.latest(config) is newest
    assert store_at(tmp_path).latest(config.replace(seed=9)).config.seed == 2
    assert store.latest(config.replace(latent_dim=3)) is None  # another view


def test_forget(tmp_path):
    store = store_at(tmp_path)
    config = tiny()
    store.get_or_train(config)
    store.forget(config)
    assert store.get(config) is None
    assert list(tmp_path.glob("*.pt")) == [] and list(tmp_path.glob("*.json")) == []


# -- memory bound ------------------------------------------------------------------------------
def test_memory_evicts_least_recently_used(tmp_path, fits):
    store = store_at(tmp_path, max_in_memory=2)
    a, b, c = (tiny(seed=s) for s in range(3))
    ta = store.get_or_train(a)
    tb = store.get_or_train(b)
    assert store.get(a) is ta  # a is now more recent than b
    tc = store.get_or_train(c)
    assert store.get(a) is ta and store.get(c) is tc
    reloaded = store.get(b)  # b was evicted: it comes back from disk as a new object
    assert reloaded is not tb and reloaded.cached is True and same_weights(reloaded.model, tb.model)
    assert len(fits) == 3
    assert len(store._memory) <= 2


def test_summaries_follow_the_folder(tmp_path):
    """summaries() is cached per folder state: another store's save and a removal show at once."""
    a, b = store_at(tmp_path), store_at(tmp_path)
    assert a.summaries() == []
    trained = b.get_or_train(tiny())
    assert [s["key"] for s in a.summaries()] == [trained.config.key]
    assert a.summaries() is a.summaries()  # unchanged folder: not read again
    b.forget(trained.config)
    assert a.summaries() == []
