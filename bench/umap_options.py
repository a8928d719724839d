"""UMAP's epochs and neighbour graph against the clustering page's quality floor, and their time.

    python3 bench/umap_options.py                          # writes bench/results/umap_options.md
    python3 bench/umap_options.py --epochs 200,250 --seeds 3 --no-write

The clustering page's AE (``apcore.defaults.cluster_ae_config()``, from the checkpoint folder or
trained there), its codes of the 10,000 MNIST test images through UMAP with N2D's settings
(``apcore.cluster.UMAP_OPTIONS`` but the epochs), then k-means (k = 10): accuracy and NMI for each
UMAP seed, their mean and minimum, and the seconds of the fit (neighbour graph included; numba's
compilation done beforehand). "pynndescent": umap-learn's own approximate neighbour graph, as
before issue 14; "exact": ``apcore.cluster.nearest_neighbours``. Floor (issue 14): accuracy >= 0.92
and NMI >= 0.86 on the page default.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apcore import cluster, defaults  # noqa: E402
from apcore.cache import ModelStore  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from apcore.metrics import cluster_scores, kmeans_labels  # noqa: E402
from bench.common import cpu_name, write_table  # noqa: E402


def pynndescent_umap(x: np.ndarray, seed: int, epochs: int) -> np.ndarray:
    """umap-learn with its own (pynndescent) neighbour graph."""
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opts = {**cluster.UMAP_OPTIONS, "n_epochs": epochs}
        return umap.UMAP(random_state=seed, **opts).fit_transform(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", default="100,200,250,300,500")
    ap.add_argument("--seeds", type=int, default=5, help="UMAP seeds per setting")
    ap.add_argument("--pynndescent", default="500", help="epochs to run with pynndescent's graph too ('' for none)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread is steadier; UMAP is single-threaded anyway
    store = ModelStore(device="cpu")
    config = defaults.cluster_ae_config()
    trained = store.get_or_train(config)
    data = load_dataset("mnist")
    x, y = cluster.code_features(trained.model, data.test_images), data.test_labels.numpy()
    cluster.prepare_umap()
    pynndescent_umap(x[:300], 0, 5)  # its compilation, outside the timings
    settings = [("exact", int(e)) for e in args.epochs.split(",")]
    settings += [("pynndescent", int(e)) for e in args.pynndescent.split(",") if e]
    rows = []
    for graph, epochs in settings:
        accs, nmis, secs = [], [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            u = cluster.umap_features(x, seed, n_epochs=epochs) if graph == "exact" else pynndescent_umap(x, seed, epochs)
            secs.append(time.perf_counter() - start)
            scores = cluster_scores(y, kmeans_labels(u, 10, 0))
            accs.append(scores["cluster_acc"])
            nmis.append(scores["cluster_nmi"])
            print(f"# {graph} {epochs} epochs, seed {seed}: {secs[-1]:.1f} s, accuracy {accs[-1]:.3f}, NMI {nmis[-1]:.3f}, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        rows.append([graph, epochs, f"{statistics.mean(accs):.4f}", f"{min(accs):.3f}", f"{accs[0]:.3f}",
                     f"{statistics.mean(nmis):.4f}", f"{min(nmis):.3f}", f"{nmis[0]:.3f}", f"{statistics.median(secs):.1f}"])
    header = ["neighbours", "epochs", "accuracy mean", "min", "seed 0", "NMI mean", "min", "seed 0", "median s"]
    notes = (f"CPU: {cpu_name()}, {os.cpu_count()} cores (shared; load average {os.getloadavg()[0]:.1f} at the end). "
             f"Model: {config.describe()}, {config.epochs} epochs x {config.batch_size}, trained in "
             f"{trained.train_seconds:.1f} s. {args.seeds} UMAP seeds per row; k-means with 10 restarts on the "
             "10-d embedding. Seconds: the UMAP fit, neighbour graph included. The page uses "
             f"{cluster.UMAP_OPTIONS['n_epochs']} epochs on the exact graph.")
    write_table("umap_options", "UMAP epochs and neighbour graph: clustering quality and time", header, rows, notes, write=not args.no_write)


if __name__ == "__main__":
    main()
