"""``python -m apcore warm``: every model the pages show by default, trained before the lecture,
and the clustering page's view of them kept beside the checkpoints.

Trainings run in a pool of spawned processes (this module, not ``__main__``, holds what a child
runs: a spawned child cannot find functions of a module run with ``python -m``), each writing
through its own :class:`~apcore.cache.ModelStore` on the same folder (a file lock per config).
"""

from __future__ import annotations

import os
import time

from .config import ModelConfig
from .defaults import page_defaults, warm_list

# An optimiser step's milliseconds with one thread on the 2-core CPU: a fixed part (autograd,
# Adam, small kernels) and a part per image of the batch, fitted to ``python -m apcore warm``'s own
# output (two trainings at a time, 2026-11-29): the MLP AE 12.0 ms a step at batch 256 and 5.9 at
# 64, the conv AE 12.8 at 64, the fully convolutional one 20.0 at 128, the MLP VAE 7.9 at 256 (its
# 2-D model, 784-512-256-2, 8.2 at 128). Only the order of warm's trainings uses them (longest
# first, so that no long one is left running alone at the end).
STEP_OVERHEAD_MS = 3.9
IMAGE_MS = {"ae-mlp": 0.032, "ae-conv": 0.14, "ae-fconv": 0.126, "vae-mlp": 0.0156, "vae-conv": 0.14}


def cost(config: ModelConfig) -> float:
    """Rough seconds ``config`` trains with one thread on the 2-core CPU."""
    images = config.train_limit or (6000 * len(config.normal_classes) if config.normal_classes else 60000)
    deeper = 2.2 if config.family == "vae-mlp" and config.latent_dim <= 2 else 1.0  # 784-512-256-2
    step_ms = STEP_OVERHEAD_MS + IMAGE_MS.get(config.family, 0.14) * deeper * config.batch_size
    return step_ms * config.epochs * -(-images // config.batch_size) / 1000


def jobs_and_threads(device: str, jobs: int | None = None) -> tuple[int, int]:
    """(trainings at once, torch threads each) for ``python -m apcore warm``. On a CPU two at a
    time share the cores: these small matrices scale poorly over threads, and on the 2-core
    machine warm's trainings took ~160 s two at a time against 225 s one after another. On a GPU
    one (they would share it)."""
    cores = os.cpu_count() or 1
    if jobs is None:
        jobs = 1 if device == "cuda" or cores < 2 else 2
    return jobs, max(1, cores // jobs)


def _child(threads: int) -> None:
    # Every numerical library of the child to ``threads`` before any of them loads: scikit-learn's
    # k-means and numba's UMAP otherwise start a thread per core beside the other trainer's (a
    # 20 s training took 80-210 s beside them).
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _train(root: str, device: str, config: dict) -> tuple[float, dict]:
    from .cache import ModelStore

    trained = ModelStore(root, device=device).get_or_train(ModelConfig.from_dict(config))
    return trained.train_seconds, trained.metrics


def _keep_view(root: str, device: str, dataset: str, config: dict | None) -> float:
    """The clustering page's default rows of one model's codes (its UMAP embedding kept too), or
    with ``config`` None the pixel and PCA rows of ``dataset``: seconds taken."""
    from . import cluster
    from .cache import ModelStore

    begin = time.perf_counter()
    if config is None:
        cluster.keep_page_view(root, dataset, {})
    else:
        cluster.keep_model_view(root, ModelStore(root, device=device).get(ModelConfig.from_dict(config)))
    return time.perf_counter() - begin


def fetch_datasets() -> None:
    """Every data set the sidebar offers on disk before class: found, or downloaded if this machine
    is online. Pages never download what they use unasked (the anomaly page's Fashion-MNIST
    group: :func:`apcore.data.find_dataset_dir`), so this is where it arrives. A line each."""
    from .config import DATASETS, DataError
    from .data import find_dataset_dir

    for name in DATASETS:
        try:
            print(f"{name}: {find_dataset_dir(name)}", flush=True)
        except DataError as exc:
            print(f"{name}: not available, the pages go on without it ({exc})", flush=True)


def run(device: str = "auto", jobs: int | None = None) -> None:
    """Train every page default not on disk yet and keep the clustering page's view of them, in a
    pool of :func:`jobs_and_threads` processes. A line of output per step."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from . import cluster
    from .cache import ModelStore

    start = time.perf_counter()
    fetch_datasets()
    store = ModelStore(device=device)
    root, kind = str(store.root), store.device.type
    configs = warm_list()
    clustered = page_defaults()["clustering"]  # the models whose codes the clustering page clusters
    todo = sorted((c for c in configs if store.get(c) is None), key=cost, reverse=True)
    for c in configs:
        if c not in todo:
            print(f"{c.describe()}: cached", flush=True)
    if not cluster.umap_available():
        print("umap-learn not installed: the clustering page shows no UMAP rows")
    jobs, threads = jobs_and_threads(kind, jobs)
    if todo:
        print(f"training {len(todo)} of {len(configs)} page defaults, {jobs} at a time, {threads} thread"
              f"{'s' if threads > 1 else ''} each", flush=True)
    # What runs next, in order: the trainings, longest first (no long one left alone at the end),
    # then each clustering model's view, then the pixel and PCA rows; at most ``jobs`` at a time.
    # (The views as soon as their model was there, beside the trainings, measured slower: 190 s
    # against 180 s, the UMAPs and the trainings slowing each other down.)
    views = [("view", c) for c in clustered if c not in todo]
    trainings = [("train", c) for c in todo]
    shared = [("shared", d) for d in dict.fromkeys(c.dataset for c in clustered)]
    view_seconds, trained, running = 0.0, 0, {}
    # spawn: each trainer a fresh interpreter (nothing forked from a process with threads)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_child,
                             initargs=(threads,)) as pool:
        while True:
            while len(running) < jobs and (views or trainings or shared):
                task = (trainings or views or shared).pop(0)
                label, item = task
                if label == "train":
                    running[pool.submit(_train, root, kind, item.to_dict())] = task
                else:
                    config = item.to_dict() if label == "view" else None
                    dataset = item.dataset if label == "view" else item
                    running[pool.submit(_keep_view, root, kind, dataset, config)] = task
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                label, item = running.pop(future)
                if label == "train":
                    seconds, metrics = future.result()
                    trained += 1
                    print(f"[{trained}/{len(todo)}] {item.describe()}: trained in {seconds:.1f} s, "
                          + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()), flush=True)
                    if item in clustered:
                        views.append(("view", item))
                    continue
                seconds = future.result()
                view_seconds += seconds
                print(f"UMAP of {item.describe()}'s codes, and their clusterings: {seconds:.1f} s" if label == "view"
                      else f"Clusterings of the {item} pixels and PCA: {seconds:.1f} s", flush=True)
    print(f"warm: {time.perf_counter() - start:.1f} s in all; the clustering page's view took {view_seconds:.1f} s "
          "of the processes' time", flush=True)
