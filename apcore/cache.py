"""Trained models: memory, then disk, then train — never the same config twice.

A checkpoint ``checkpoints/<key>.pt`` holds the config, weights, training history, test metrics,
the training's snapshots (:mod:`apcore.snapshots`, float16, under 1 MB) and a format version;
``<key>.json`` beside it repeats everything but the weights and the snapshots, so listing the
cache reads no tensors. Format 1 (before snapshots) still loads, without a replay. Both are
written atomically (temporary file in the same folder, fsync, ``os.replace``): a crash or kill
mid-write leaves the old file or none, never half of one, and the temporary files of a writer that
died are swept when a store opens (their names carry the writer's pid).
Concurrent requests for one config train once: a lock per key inside the process, and a file
lock (``filelock``) across processes.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from filelock import FileLock

from . import metrics, models, train
from .snapshots import Frame, Snapshots, Snapshotter
from .config import ConfigError, ModelConfig
from .data import REPO_ROOT, load_dataset

log = logging.getLogger(__name__)

FORMAT_VERSION = 2   # 2: snapshots in the .pt
READABLE_VERSIONS = (1, 2)
DEFAULT_ROOT = REPO_ROOT / "checkpoints"


@dataclass
class TrainedModel:
    """A trained model with what describes it. Shared between users: treat it as read-only."""

    config: ModelConfig
    model: models.Autoencoder
    history: list[dict]
    metrics: dict[str, float]
    train_seconds: float
    device: str
    created: float
    cached: bool = field(default=False, compare=False)
    snapshots: Snapshots | None = field(default=None, compare=False, repr=False)  # None: trained before format 2

    def summary(self) -> dict:
        """Everything but the weights and the snapshots, as plain JSON-able values."""
        return {"format_version": FORMAT_VERSION, "key": self.config.key, "view_key": self.config.view_key,
                "config": self.config.to_dict(), "history": self.history, "metrics": self.metrics,
                "train_seconds": self.train_seconds, "device": self.device, "created": self.created}


class StoreClosedError(RuntimeError):
    """This process may no longer write into the store (a worker whose server is gone)."""


def atomic_write(path: Path, write: Callable[[object], None], guard: Callable[[], bool] | None = None) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it into place.

    ``guard()`` is asked right before the move; False leaves ``path`` untouched."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if guard is not None and not guard():
            raise StoreClosedError(f"not writing {path.name}: this store has a new owner")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_temporary_files(root: Path, min_age_s: float = 600.0) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left in ``root``; returns them.

    A file whose writer's pid (in its name) is alive is left alone; one without a pid (older
    format) only once it is ``min_age_s`` old."""
    swept = []
    for tmp in root.glob(".*.tmp"):
        parts = tmp.name.split(".")
        pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
        try:
            stale = not _pid_alive(pid) if pid is not None else time.time() - tmp.stat().st_mtime > min_age_s
            if stale:
                tmp.unlink()
                swept.append(tmp)
        except FileNotFoundError:
            continue
    if swept:
        log.info("swept %d temporary file(s) left by killed writers in %s", len(swept), root)
    return swept


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used (corrupt, other format, other config)."""


class ModelStore:
    """Memory -> disk -> train, for one checkpoint folder and one device.

    Parameters
    ----------
    root : folder of the checkpoints (created if missing); ``APCORE_CHECKPOINT_DIR`` overrides
        the default ``checkpoints/``.
    device : "auto", "cpu" or "cuda".
    max_in_memory : how many trained models the memory cache holds (least recently used goes).
    write_guard : asked before every checkpoint is moved into place; False refuses the write
        (a training worker whose server is gone).
    """

    def __init__(self, root: str | Path | None = None, device: str = "auto", max_in_memory: int = 24,
                 write_guard: Callable[[], bool] | None = None):
        self.root = Path(root or os.environ.get("APCORE_CHECKPOINT_DIR") or DEFAULT_ROOT)
        self.device = train.pick_device(device)
        self.max_in_memory = max_in_memory
        self.write_guard = write_guard
        if self.root.is_dir():
            sweep_temporary_files(self.root)
        self._memory: collections.OrderedDict[str, TrainedModel] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._summaries: tuple[int, list[dict]] | None = None  # (folder mtime, summaries)

    # -- paths and locks ---------------------------------------------------------------------
    def path_for(self, config: ModelConfig) -> Path:
        return self.root / f"{config.key}.pt"

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _file_lock(self, key: str) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / f".{key}.lock"))

    # -- memory ------------------------------------------------------------------------------
    def _remember(self, trained: TrainedModel) -> None:
        with self._lock:
            self._memory[trained.config.key] = trained
            self._memory.move_to_end(trained.config.key)
            while len(self._memory) > self.max_in_memory:
                self._memory.popitem(last=False)

    def _recall(self, key: str) -> TrainedModel | None:
        with self._lock:
            trained = self._memory.get(key)
            if trained is not None:
                self._memory.move_to_end(key)
            return trained

    # -- disk --------------------------------------------------------------------------------
    def save(self, trained: TrainedModel) -> Path:
        """Write the checkpoint and its JSON summary atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path_for(trained.config)
        state = {k: v.detach().cpu() for k, v in trained.model.state_dict().items()}
        blob = {**trained.summary(), "state_dict": state}
        if trained.snapshots is not None:
            blob["snapshots"] = trained.snapshots.to_dict()
        atomic_write(path, lambda f: torch.save(blob, f), self.write_guard)
        text = json.dumps(trained.summary(), indent=1).encode()
        atomic_write(path.with_suffix(".json"), lambda f: f.write(text), self.write_guard)
        return path

    def _load(self, config: ModelConfig) -> TrainedModel | None:
        path = self.path_for(config)
        if not path.exists():
            return None
        try:
            return self._read(path, config)
        except Exception as exc:  # any unreadable file is set aside, never a crash
            aside = path.with_name(f"{path.stem}.corrupt-{time.time_ns()}.pt")
            log.warning("checkpoint %s unusable (%s); moved to %s and retraining", path.name, exc, aside.name)
            try:
                os.replace(path, aside)
            except FileNotFoundError:  # another process set it aside first
                pass
            path.with_suffix(".json").unlink(missing_ok=True)
            return None

    def _read(self, path: Path, config: ModelConfig) -> TrainedModel:
        # Onto the CPU whatever the store's device: the replay's arrays become NumPy (a GPU store
        # lost every replay read from disk); the model moves to the device below.
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format_version") not in READABLE_VERSIONS:
            raise CheckpointError(f"format version {blob.get('format_version') if isinstance(blob, dict) else '?'}")
        stored = ModelConfig.from_dict(blob["config"])
        if stored != config:
            raise CheckpointError("stored config differs from its file name")
        model = models.build(config)
        model.load_state_dict(blob["state_dict"])
        model.to(self.device).eval().requires_grad_(False)
        return TrainedModel(config, model, blob["history"], blob["metrics"], blob["train_seconds"],
                            blob["device"], blob["created"], cached=True, snapshots=self._read_snapshots(blob, path))

    @staticmethod
    def _read_snapshots(blob: dict, path: Path) -> Snapshots | None:
        """The replay of a format-2 checkpoint; None for format 1 or a damaged record (the model
        itself is fine: it loads, without a replay)."""
        if blob.get("snapshots") is None:
            return None
        try:
            return Snapshots.from_dict(blob["snapshots"])
        except Exception as exc:  # noqa: BLE001 - any damage to the replay only loses the replay
            log.warning("checkpoint %s: snapshots unusable (%s); loaded without a replay", path.name, exc)
            return None

    # -- public ------------------------------------------------------------------------------
    def get(self, config: ModelConfig) -> TrainedModel | None:
        """The trained model for exactly ``config`` from memory or disk, else None."""
        trained = self._recall(config.key)
        if trained is not None:
            return trained
        with self._key_lock(config.key):
            trained = self._recall(config.key) or self._load(config)
            if trained is not None:
                self._remember(trained)
            return trained

    def get_or_train(self, config: ModelConfig,
                     on_progress: Callable[[train.Progress], None] | None = None,
                     should_stop: Callable[[], bool] | None = None,
                     on_snapshot: Callable[[Frame], None] | None = None) -> TrainedModel:
        """The trained model for ``config``: memory, then disk, then trained here and saved.

        Callers asking for one config at once (threads or processes) wait for one training.
        ``on_snapshot`` receives each training snapshot as it is taken (a training here only).
        """
        trained = self._recall(config.key)
        if trained is not None:
            return trained
        with self._key_lock(config.key), self._file_lock(config.key):
            trained = self._recall(config.key) or self._load(config)
            if trained is None:
                trained = self._train(config, on_progress, should_stop, on_snapshot)
                self.save(trained)
            self._remember(trained)
            return trained

    def _train(self, config, on_progress, should_stop, on_snapshot=None) -> TrainedModel:
        data = load_dataset(config.dataset)
        torch.manual_seed(config.seed)  # weight initialisation; the trainer seeds its own generator
        model = models.build(config)
        snapshotter = Snapshotter(model, config, data, self.device, on_frame=on_snapshot)
        start = time.perf_counter()
        history = train.fit(model, config, data, self.device, on_progress, should_stop, snapshotter)
        seconds = time.perf_counter() - start
        model.requires_grad_(False)
        scores = metrics.evaluate(model, config, data)
        log.info("trained %s in %.1f s: %s", config.describe(), seconds, scores)
        return TrainedModel(config, model, history, scores, seconds, self.device.type, time.time(),
                            snapshots=snapshotter.record())

    def summaries(self) -> list[dict]:
        """The JSON summaries of every checkpoint on disk, newest first (shared: read-only).

        Pages ask on every rerun, several times; the folder is re-read only when its modification
        time changes (every save, set-aside and removal renames or unlinks a file in it)."""
        try:
            stamp = self.root.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        cached = self._summaries
        if cached is not None and cached[0] == stamp:
            return cached[1]
        out = []
        for path in self.root.glob("*.json"):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        out.sort(key=lambda s: s.get("created", 0), reverse=True)
        self._summaries = (stamp, out)
        return out

    def configs_on_disk(self) -> list[ModelConfig]:
        """The config of every checkpoint on disk, newest first (unreadable summaries skipped)."""
        found = []
        for s in self.summaries():
            try:
                found.append(ModelConfig.from_dict(s["config"]))
            except (ConfigError, TypeError, KeyError):
                continue
        return found

    def seeds_on_disk(self, config: ModelConfig) -> list[ModelConfig]:
        """Configs on disk equal to ``config`` but for the seed, newest first."""
        return [c for c in self.configs_on_disk() if c.view_key == config.view_key]

    def latest(self, config: ModelConfig) -> TrainedModel | None:
        """The newest trained model of ``config``'s view (any seed), else None.

        After a Retrain the view's model is the retrained one; this is what pages show."""
        for candidate in self.seeds_on_disk(config):
            trained = self.get(candidate)
            if trained is not None:
                return trained
        return self.get(config)

    def retrain(self, config: ModelConfig,
                on_progress: Callable[[train.Progress], None] | None = None,
                should_stop: Callable[[], bool] | None = None,
                on_snapshot: Callable[[Frame], None] | None = None) -> TrainedModel:
        """Train ``config``'s view afresh with a new seed; it replaces the older seeds on disk."""
        older = self.seeds_on_disk(config)
        seed = max([c.seed for c in older] + [config.seed]) + 1
        trained = self.get_or_train(config.replace(seed=seed), on_progress, should_stop, on_snapshot)
        for old in older:
            if old.key != trained.config.key:
                self.forget(old)
        return trained

    def evict_view(self, config: ModelConfig) -> None:
        """Drop every model of ``config``'s view from memory (another process retrained it)."""
        with self._lock:
            for key in [k for k, t in self._memory.items() if t.config.view_key == config.view_key]:
                del self._memory[key]

    def forget(self, config: ModelConfig) -> None:
        """Remove ``config``'s model from memory and disk."""
        with self._lock:
            self._memory.pop(config.key, None)
        path = self.path_for(config)
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)
