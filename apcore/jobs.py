"""Background training jobs that any number of viewers can join.

A :class:`JobRegistry` hands its jobs, one at a time, to a training worker *process*
(:mod:`apcore.worker`): on a 2-core CPU two trainings at once only halve each other's speed, and
a training that shares the server's process is slowed by every tab watching it. A dispatcher
thread in the server relays the worker's progress into the :class:`Job` and, when the worker has
written the checkpoint, loads the model from the store. Jobs are keyed by the config's *view* (the
config without its seed): a second viewer asking for the same view joins the job already queued or
running. Viewers poll ``Job`` fields (state, progress, live loss points, the newest training
snapshot) and may cancel.

A worker that dies (SIGKILL, out of memory, a crash) fails its job with a message; the next job
starts a fresh worker.
"""

from __future__ import annotations

import collections
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from .cache import ModelStore, TrainedModel
from .config import ModelConfig
from .snapshots import Frame
from .train import Progress
from .worker import WorkerDied, WorkerProcess

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


class JobLimitError(RuntimeError):
    """Too many jobs waiting; the message is fit for a user."""


CANCEL_GRACE_S = 1.0   # a worker that has not stopped this long after a cancel is killed
POLL_S = 0.1           # how often the dispatcher looks at a cancel while waiting for the worker
_ids = itertools.count(1)


@dataclass
class Job:
    """One training run as its viewers see it. Fields are written by the dispatcher thread only."""

    config: ModelConfig
    retrain: bool
    # The clustering page asked: its view of the model (UMAP, clusterings) is kept before the model
    # is announced, so that page shows its table with it (apcore.worker._run_job).
    clustering_first: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    state: str = QUEUED
    progress: Progress | None = None
    points: list[dict] = field(default_factory=list)  # live loss: {"epoch": float, term: value}
    # The newest training snapshot (codes and reconstructions so far); snapshot_count counts them,
    # so a viewer redraws only when it changes.
    snapshot: Frame | None = None
    snapshot_count: int = 0
    error: str | None = None
    result: TrainedModel | None = None
    submitted: float = field(default_factory=time.time)
    finished: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def fraction(self) -> float:
        if self.state == DONE:
            return 1.0
        return self.progress.fraction if self.progress else 0.0

    def cancel(self) -> None:
        """Ask the job to stop; a queued job never starts, a running one stops within a second."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests and the CLI); True if it ended in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.active:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _on_progress(self, p: Progress) -> None:
        """Keeps ``p`` and adds a live point: each loss term's mean over the steps since the previous
        report. (``p`` carries running means over the epoch: drawn as such, a curve that lags
        behind the training and drops at every epoch's start.)"""
        prev, self.progress = self.progress, p
        since = prev.step if prev is not None and prev.epoch == p.epoch and prev.step < p.step else 0
        window = {k: (v * p.step - prev.losses.get(k, v) * since) / (p.step - since) if since else v
                  for k, v in p.losses.items()}
        self.points.append({"epoch": p.epoch - 1 + p.step / p.steps, **window})

    def _on_snapshot(self, frame: Frame) -> None:
        self.snapshot = frame
        self.snapshot_count += 1  # after the frame: a viewer that sees the new count finds the new frame


class JobRegistry:
    """Queue of training jobs for one :class:`ModelStore`, trained one at a time by a worker process.

    Parameters
    ----------
    store : where models are looked up; the worker saves into the same folder.
    max_pending : most jobs queued or running at once; one more raises :class:`JobLimitError`.
    keep_finished : how many finished jobs stay visible (their viewers see "done" or the error).
    device : the worker's device ("auto": CUDA when present). The server itself need not touch it.
    """

    def __init__(self, store: ModelStore, max_pending: int = 6, keep_finished: int = 32, device: str = "auto"):
        self.store = store
        self.max_pending = max_pending
        self.device = device
        self._jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._keep_finished = keep_finished
        self._dispatcher: threading.Thread | None = None
        self._worker: WorkerProcess | None = None
        self._worker_lock = threading.Lock()
        self._closed = False

    def submit(self, config: ModelConfig, retrain: bool = False, clustering_first: bool = False) -> Job:
        """Join the active job of ``config``'s view, or queue a new one.

        ``retrain=False`` trains only if no model of the view is cached; ``retrain=True`` trains
        afresh with a new seed and replaces the cached model when done. ``clustering_first``: the
        clustering page asks, and the model is announced only once that page's view of it is kept
        (:attr:`Job.clustering_first`; a job joined keeps the order of the page that queued it).
        """
        view = config.view_key
        with self._lock:
            if self._closed:
                raise RuntimeError("this job registry is closed")
            job = self._jobs.get(view)
            if job is not None and job.active:
                return job
            if sum(j.active for j in self._jobs.values()) >= self.max_pending:
                raise JobLimitError(f"{self.max_pending} trainings are already waiting; try again when one is done.")
            job = Job(config, retrain, clustering_first)
            self._jobs[view] = job
            self._jobs.move_to_end(view)
            self._trim()
            self._queue.put(job)
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._run, name="apcore-dispatcher", daemon=True)
                self._dispatcher.start()
        return job

    def get(self, config: ModelConfig) -> Job | None:
        """The latest job of ``config``'s view (active or finished), else None."""
        with self._lock:
            return self._jobs.get(config.view_key)

    def active(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.active]

    def signature(self) -> tuple[tuple[int, str], ...]:
        """(id, state) of every job kept: changes when a job is queued, starts or ends (a room
        following the lecturer redraws then)."""
        with self._lock:
            return tuple((j.id, j.state) for j in self._jobs.values())

    def start_worker(self) -> WorkerProcess:
        """The running worker, started if there is none (torch takes seconds to import: a server
        starts it ahead of the first Retrain)."""
        with self._worker_lock:
            if self._worker is None or not self._worker.alive():
                self._worker = WorkerProcess(self.store.root, self.device)
            return self._worker

    @property
    def worker_pid(self) -> int | None:
        worker = self._worker
        return worker.pid if worker is not None and worker.alive() else None

    def close(self) -> None:
        """Cancel every job and end the worker (a server shutting down, a cache cleared)."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
        self._queue.put(None)
        with self._worker_lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if not j.active]
        for k in finished[: max(0, len(finished) - self._keep_finished)]:
            del self._jobs[k]

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._train(job)
            except Exception as exc:  # the viewer gets a message; the server keeps serving
                log.exception("training %s failed", job.config.describe())
                job.error = f"{type(exc).__name__}: {exc}"
                job.state = FAILED
            finally:
                job.finished = time.time()

    def _train(self, job: Job) -> None:
        if job._cancel.is_set() or self._closed:
            job.state = CANCELLED
            return
        job.state = RUNNING
        worker = self.start_worker()
        try:
            worker.send({"op": "train", "job": job.id, "config": job.config.to_dict(), "retrain": job.retrain,
                         "clustering_first": job.clustering_first})
            self._follow(job, worker)
        except WorkerDied as exc:
            with self._worker_lock:
                if self._worker is worker:
                    self._worker = None
            if job._cancel.is_set():
                job.state = CANCELLED
                return
            log.error("training %s: %s", job.config.describe(), exc)
            job.error = f"{str(exc)[:1].upper()}{str(exc)[1:]}. The next training starts a fresh one."
            job.state = FAILED

    def _follow(self, job: Job, worker: WorkerProcess) -> None:
        """Relay the worker's messages about ``job`` until it ends; enforce a cancel's deadline."""
        cancel_sent = None
        while True:
            if job._cancel.is_set() and cancel_sent is None:
                worker.send({"op": "cancel", "job": job.id})
                cancel_sent = time.monotonic()
            if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                log.warning("worker %d did not stop within %.1f s of a cancel: killed", worker.pid, CANCEL_GRACE_S)
                worker.kill()
                job.state = CANCELLED
                return
            message = worker.recv(POLL_S)
            if message is None or message.get("job") != job.id:
                continue
            event = message["event"]
            if event == "progress":
                job._on_progress(Progress(message["epoch"], message["epochs"], message["step"], message["steps"],
                                          message["losses"], message["elapsed"]))
            elif event == "snapshot":
                job._on_snapshot(Frame.from_message(message))
            elif event == "done":
                self._finish(job, ModelConfig.from_dict(message["config"]))
                return
            elif event == "cancelled":
                job.state = CANCELLED
                return
            elif event == "failed":
                log.error("training %s failed in the worker: %s", job.config.describe(), message["error"])
                job.error = message["error"]
                job.state = FAILED
                return

    def _finish(self, job: Job, trained_config: ModelConfig) -> None:
        """The worker saved ``trained_config``: load it here (a retrain replaced the view's older seeds)."""
        if job.retrain:
            self.store.evict_view(job.config)
        trained = self.store.get(trained_config)
        if trained is None:
            raise RuntimeError(f"the worker reported {trained_config.describe()} saved, but it is not on disk")
        job.result = trained
        job.state = DONE
