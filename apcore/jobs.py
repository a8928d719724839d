"""Background training jobs that any number of viewers can join.

A :class:`JobRegistry` owns one worker thread that trains jobs one at a time (on a 2-core CPU two
trainings at once only halve each other's speed; on a GPU the guide asks for one job at a time).
Jobs are keyed by the config's *view* (the config without its seed): a second viewer asking for
the same view joins the job already queued or running. The worker never touches a UI: viewers poll
``Job`` fields (state, progress, live loss points) and may cancel.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from .cache import ModelStore, TrainedModel
from .config import ModelConfig
from .train import Cancelled, Progress

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


class JobLimitError(RuntimeError):
    """Too many jobs waiting; the message is fit for a user."""


@dataclass
class Job:
    """One training run as its viewers see it. Fields are written by the worker thread only."""

    config: ModelConfig
    retrain: bool
    state: str = QUEUED
    progress: Progress | None = None
    points: list[dict] = field(default_factory=list)  # live loss: {"epoch": float, term: value}
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
        """Ask the job to stop; a queued job never starts, a running one stops at its next step."""
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
        self.progress = p
        self.points.append({"epoch": p.epoch - 1 + p.step / p.steps, **p.losses})


class JobRegistry:
    """Queue of training jobs for one :class:`ModelStore`, trained one at a time.

    Parameters
    ----------
    store : where models are looked up and saved.
    max_pending : most jobs queued or running at once; one more raises :class:`JobLimitError`.
    keep_finished : how many finished jobs stay visible (their viewers see "done" or the error).
    """

    def __init__(self, store: ModelStore, max_pending: int = 6, keep_finished: int = 32):
        self.store = store
        self.max_pending = max_pending
        self._jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job] = queue.Queue()
        self._keep_finished = keep_finished
        self._worker: threading.Thread | None = None

    def submit(self, config: ModelConfig, retrain: bool = False) -> Job:
        """Join the active job of ``config``'s view, or queue a new one.

        ``retrain=False`` trains only if no model of the view is cached; ``retrain=True`` trains
        afresh with a new seed and replaces the cached model when done.
        """
        view = config.view_key
        with self._lock:
            job = self._jobs.get(view)
            if job is not None and job.active:
                return job
            if sum(j.active for j in self._jobs.values()) >= self.max_pending:
                raise JobLimitError(f"{self.max_pending} trainings are already waiting; try again when one is done.")
            job = Job(config, retrain)
            self._jobs[view] = job
            self._jobs.move_to_end(view)
            self._trim()
            self._queue.put(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="apcore-trainer", daemon=True)
                self._worker.start()
        return job

    def get(self, config: ModelConfig) -> Job | None:
        """The latest job of ``config``'s view (active or finished), else None."""
        with self._lock:
            return self._jobs.get(config.view_key)

    def active(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.active]

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if not j.active]
        for k in finished[: max(0, len(finished) - self._keep_finished)]:
            del self._jobs[k]

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self._train(job)
            finally:
                job.finished = time.time()
                self._queue.task_done()

    def _train(self, job: Job) -> None:
        if job._cancel.is_set():
            job.state = CANCELLED
            return
        job.state = RUNNING
        try:
            if job.retrain:
                job.result = self.store.retrain(job.config, job._on_progress, job._cancel.is_set)
            else:
                job.result = self.store.get_or_train(job.config, job._on_progress, job._cancel.is_set)
            job.state = DONE
        except Cancelled:
            job.state = CANCELLED
        except Exception as exc:  # the viewer gets a message; the server keeps serving
            log.exception("training %s failed", job.config.describe())
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = FAILED
