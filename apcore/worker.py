"""Training in a worker process: the server that shows models never trains them.

A training in a thread of the Streamlit server competes with every page rerun for the interpreter
lock, and each watching tab slowed it down (measured: 15 s alone, 90 s watched by one tab, no end
in sight with four). Here a long-lived ``python -m apcore.worker`` process (torch imported once)
trains one job at a time and writes the checkpoint through the same :class:`~apcore.cache.ModelStore`;
the server only reads progress and then loads the finished checkpoint. For a model the clustering
page shows, the worker also keeps that page's view of it (its clusterings and UMAP embedding,
:func:`derive`): before reporting it done when the clustering page asked for it, else once no job
waits, put off again for a job that arrives meanwhile (:func:`serve_one`). Once idle a while, it
warms up its trainer and then prepares UMAP, so that the first Retrain does not wait for either.

Why a subprocess and not ``multiprocessing``: Streamlit replaces ``__main__`` with the page script,
so a spawn/forkserver child re-executes the app, and forking a threaded server is unsafe.

Protocol: pickled dicts of plain values over a socket pair (never the worker's stdout, which
carries its log). Server -> worker: ``{"op": "train", "job", "config", "retrain", "clustering_first"}``,
``{"op": "cancel", "job"}``. Worker -> server: ``{"event": "ready"}``, then per job any number of
``progress`` (epoch, epochs, step, steps, losses, elapsed) and ``snapshot`` messages, and one of
``done`` (the trained model's config), ``cancelled``, ``failed`` (a message fit for a user).
A ``snapshot`` carries one training snapshot as it is taken (about 12 per training, the first
before the first step): the fields of :class:`apcore.snapshots.Frame` (step, total_steps, epoch,
losses; inputs, reconstructions, labels, codes as float16/uint8 NumPy arrays, up to ~1.6 MB for
``ae-fconv``'s 392-number codes of 2,000 images).

The worker ends within a second of its server's death, SIGKILL included: the socket reaches
end-of-file at once, and a watchdog notices the parent change. It checks its parent again right
before a checkpoint is moved into place, so an orphan never writes into a store that a newer
server owns.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from .config import ModelConfig

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
# The worker runs below the server's priority: a slider move in the server preempts training for
# the few milliseconds its rerun takes, and an idle server leaves the worker the whole machine.
NICE = 5
WATCHDOG_S = 0.25
# Idle this long, the worker does what a first training would otherwise wait for (:func:`warm_up`,
# then at once, unless a job waits, :func:`_prepare`, UMAP); not at once: the server's first pages
# and the browser need the CPU then. Both in one idle spell (4-5 s on the 2-core CPU), not the second
# after as long again: a clustering Retrain pressed 15-33 s after the page was drawn paid UMAP's 1.5 s.
PREPARE_AFTER_S = 15.0
WARM_UP_STEPS = 3  # optimiser steps of each page default in the warm-up


class WorkerDied(RuntimeError):
    """The worker process ended without answering; the message says how, fit for a user."""


class WorkerProcess:
    """The server's handle on one ``python -m apcore.worker`` process.

    Parameters
    ----------
    root : checkpoint folder the worker writes into (the server's store's folder).
    device : "auto", "cpu" or "cuda", as the worker's store picks it.
    """

    def __init__(self, root: str | Path, device: str = "auto"):
        ours, theirs = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "apcore.worker", "--fd", str(theirs.fileno()), "--parent", str(os.getpid()),
                 "--checkpoints", str(root), "--device", device],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, cwd=REPO_ROOT, env=env)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self._send_lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.conn.closed

    def send(self, message: dict) -> None:
        try:
            with self._send_lock:
                self.conn.send(message)
        except (OSError, EOFError) as exc:
            raise WorkerDied(self.death_message()) from exc

    def recv(self, timeout: float) -> dict | None:
        """The next message, or None if none came within ``timeout`` s; raises :class:`WorkerDied`."""
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (OSError, EOFError) as exc:
            raise WorkerDied(self.death_message()) from exc
        if self.proc.poll() is not None:
            raise WorkerDied(self.death_message())
        return None

    def death_message(self) -> str:
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            return "the training process stopped answering"
        if code < 0:
            name = signal.Signals(-code).name
            cause = " (out of memory?)" if -code == signal.SIGKILL else ""
            return f"the training process was killed by {name}{cause}"
        return f"the training process exited with status {code}"

    def kill(self) -> None:
        """Stop at once (a cancel the worker did not answer in time, or a server shutting down)."""
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self, timeout: float = 2.0) -> None:
        """Let the worker end by itself (its socket closes), then make sure it has."""
        self.conn.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


# -- the worker's side -----------------------------------------------------------------------------

def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(WATCHDOG_S)


def _read_commands(conn: Connection, jobs: queue.Queue, cancelled: set) -> None:
    try:
        while True:
            message = conn.recv()
            if message.get("op") == "cancel":
                cancelled.add(message["job"])
            elif message.get("op") == "train":
                jobs.put(message)
    except (EOFError, OSError):
        pass
    os._exit(0)  # the server is gone (or closed us): stop now and write nothing


def _run_job(store, send, message: dict, cancelled: set):
    """Train (or load) the model ``message`` asks for and announce it; returns it when its
    clustering view is still to be kept (:func:`derive`, once no job waits), else None."""
    from .train import Cancelled

    job = message["job"]
    should_stop = lambda: job in cancelled  # noqa: E731

    def on_progress(p) -> None:
        send({"job": job, "event": "progress", "epoch": p.epoch, "epochs": p.epochs, "step": p.step,
              "steps": p.steps, "losses": p.losses, "elapsed": p.elapsed})

    def on_snapshot(frame) -> None:
        send({"job": job, "event": "snapshot", **frame.to_message()})

    try:
        config = ModelConfig.from_dict(message["config"])
        if should_stop():
            raise Cancelled()
        if message.get("retrain"):
            trained = store.retrain(config, on_progress, should_stop, on_snapshot)
        else:
            trained = store.get_or_train(config, on_progress, should_stop, on_snapshot)
        first = message.get("clustering_first", False)
        if first:
            derive(store, trained)
        send({"job": job, "event": "done", "config": trained.config.to_dict(), "cached": trained.cached})
        return None if first else trained
    except Cancelled:
        send({"job": job, "event": "cancelled"})
    except Exception as exc:  # the viewer gets the message; the worker takes the next job
        log.exception("training failed")
        send({"job": job, "event": "failed", "error": f"{type(exc).__name__}: {exc}"})
    finally:
        cancelled.discard(job)
    return None


def derive(store, trained, should_stop=None) -> bool:
    """What a page would otherwise compute from a new model on its first visit, kept beside the
    checkpoint, here at the worker's lower priority rather than in the server every tab waits on:
    before the model is announced when the clustering page asked for it (``clustering_first``: its
    Retrain then shows the table at once), else after, once no job waits (:func:`serve_one`).
    Another page's model that the clustering page also shows (the VAE page's 2-D and 20-d VAEs) is
    announced first there: the VAE page's Retrain of its 2-D model waited 6.4 s more for the view
    (17.4 -> 10.3 s from the press to every view drawn, in Chromium), of its 20-d model 7 s (seed 1
    drawn 16.4 -> 9.4 s after the press).
    For a model the clustering page shows, its table rows (k-means of its codes, with and without
    UMAP) and the UMAP embedding. A failure here (umap-learn missing, a read-only folder) leaves
    the page to compute them; the model itself is done. Returns False when ``should_stop()`` said
    so first (between UMAP's epochs: :func:`apcore.cluster.umap_features`), the view not kept yet;
    else True."""
    from .defaults import pages_using

    if "clustering" not in pages_using(trained.config):
        return True
    from . import cluster
    from .train import Cancelled

    start = time.perf_counter()
    try:
        cluster.keep_model_view(store.root, trained, guard=store.write_guard, should_stop=should_stop)
    except Cancelled:
        log.info("clustering view of %s put off after %.1f s: a job is waiting", trained.config.describe(),
                 time.perf_counter() - start)
        return False
    except Exception:  # noqa: BLE001 - the page computes what is missing; the job still succeeds
        log.exception("clustering view of %s not kept", trained.config.describe())
    else:
        log.info("clustering view of %s kept in %.1f s", trained.config.describe(), time.perf_counter() - start)
    return True


def serve_one(store, send, jobs: queue.Queue, cancelled: set, views: dict, idle_work: list) -> None:
    """The worker's next piece of work, in this order: the next job if one waits; else the newest
    announced model's clustering view still to keep (``views``: config key -> model, in order;
    a Retrain's model replaces its config's older one), given up for a job that arrives meanwhile
    and taken up again once the worker is free; else after :data:`PREPARE_AFTER_S` idle, the
    ``idle_work`` in turn while no job waits; else it waits for a job. Measured in Chromium
    (``bench/back_to_back.py``): the VAE page's 20-d Retrain pressed 1.2 s after its 2-D one was
    drawn took 1.43-1.68x its time alone while the 2-D model's view was kept first, 1.12-1.20x now
    (the job starts ~0.06 s after it arrives)."""
    if views and jobs.empty():
        key = next(reversed(views))
        if derive(store, views[key], should_stop=lambda: not jobs.empty()):
            views.pop(key, None)
        return
    try:
        message = jobs.get(timeout=PREPARE_AFTER_S if idle_work else None)
    except queue.Empty:
        while idle_work and jobs.empty():
            idle_work.pop(0)()
        return
    if (trained := _run_job(store, send, message, cancelled)) is not None:
        views.pop(trained.config.key, None)
        views[trained.config.key] = trained


def warm_up(store, jobs: queue.Queue) -> None:
    """What the first training in a process would otherwise pay for once (oneDNN building its
    kernels for each layer shape and precision, the autograd and fused-optimiser paths, the data
    read from disk, the test-set scoring's scikit-learn and SciPy): a few optimiser steps of every
    page default on a throwaway model, and the first of them scored (3-4 s on the 2-core CPU; a
    fresh process's first training of the 2-d MLP AE ready in 11.1-13.7 s without, 9.4-11.0 s with;
    a fresh server's first Retrain 16.3 -> 12.6 s, ``bench/first_retrain.py``). Stops as soon as a
    job is waiting (the rest is not warmed up then); a failure only leaves that cost to the first
    training."""
    from . import metrics, models, train
    from .data import load_dataset
    from .defaults import warm_list

    start, quiet = time.perf_counter(), logging.getLogger(train.__name__)
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # not a training of the lecturer's: no "training ..." lines
    try:
        for i, config in enumerate(warm_list()):
            if not jobs.empty():
                return
            tiny = config.replace(epochs=1, train_limit=WARM_UP_STEPS * config.batch_size)
            model, data = models.build(tiny), load_dataset(tiny.dataset)
            train.fit(model, tiny, data, store.device)
            if i == 0:
                metrics.evaluate(model, tiny, data)
    except Exception:  # noqa: BLE001
        log.exception("warming up the trainer failed")
    else:
        log.info("trainer warmed up in %.1f s", time.perf_counter() - start)
    finally:
        quiet.setLevel(level)


def _prepare() -> None:
    """What the worker's first clustering model would otherwise wait for: UMAP's import and numba
    functions. A failure only leaves that wait."""
    from . import cluster

    try:
        log.info("UMAP prepared in %.1f s", cluster.prepare_umap())
    except Exception:  # noqa: BLE001
        log.exception("preparing UMAP failed")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m apcore.worker", description="Training worker (started by the app).")
    p.add_argument("--fd", type=int, required=True, help="socket to the server")
    p.add_argument("--parent", type=int, required=True, help="the server's pid: exit when it is gone")
    p.add_argument("--checkpoints", required=True)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s worker %(name)s: %(message)s")
    threading.Thread(target=_watch_parent, args=(args.parent,), daemon=True).start()
    conn = Connection(args.fd)
    try:
        os.nice(NICE)
    except OSError:
        pass
    send_lock = threading.Lock()

    def send(message: dict) -> None:
        with send_lock:
            conn.send(message)

    jobs: queue.Queue = queue.Queue()
    cancelled: set = set()
    threading.Thread(target=_read_commands, args=(conn, jobs, cancelled), daemon=True).start()

    from .cache import ModelStore  # torch loads here, after the server can already talk to us
    from .cores import share_with_others

    share_with_others()  # beside the server and the lecturer's browser: a core back when they want it

    store = ModelStore(args.checkpoints, device=args.device, max_in_memory=1,
                       write_guard=lambda: os.getppid() == args.parent)
    send({"event": "ready", "pid": os.getpid(), "device": store.device.type})
    from .defaults import quick_budget

    # Each once, in turn, when idle. Not the warm-up under the test budgets (APCORE_EPOCHS /
    # APCORE_TRAIN_LIMIT: tests, rehearsals): their trainings are tiny, and the end-to-end tests'
    # servers would spend 3-4 s of CPU each on it, beside the browsers and the other tests.
    idle_work = ([] if quick_budget() else [lambda: warm_up(store, jobs)]) + [_prepare]
    views: dict = {}
    while True:
        serve_one(store, send, jobs, cancelled, views, idle_work)


if __name__ == "__main__":
    sys.exit(main())
