"""UMAP's neighbours and epochs against the clustering page's quality floor, and their time.

    python3 bench/umap_options.py                          # writes bench/results/umap_options.md
    python3 bench/umap_options.py --neighbours 20,10 --training-seeds 3 --seeds 3 --no-write
    python3 bench/umap_options.py --dataset fashion-mnist --training-seeds 3 --seeds 3   # umap_options_fashion-mnist.md

The clustering page's AE and VAE (``apcore.defaults.cluster_ae_config()`` / ``cluster_vae_config()``;
training seed 0 is the page's model, from the checkpoint folder or trained there; the other seeds
are trained here and not kept), their codes of the 10,000 test images through UMAP with N2D's
settings (``apcore.cluster.UMAP_OPTIONS``) but the neighbours and epochs of each row, then the
page's k-means and Gaussian mixture (k = 10): accuracy and NMI, their mean and minimum over
training seeds x UMAP seeds, how many fits fell under the floor, and the median seconds of the fit
(neighbour graph included; numba's compilation done beforehand), each row timed in the same run.
"pynndescent": umap-learn's own approximate neighbour graph, as before issue 14; "exact":
``apcore.cluster.nearest_neighbours``. Floor (issue 14): k-means accuracy >= 0.92 and NMI >= 0.86.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from bench.common import chosen, cpu_name, page_model, write_table  # noqa: E402

FLOOR = {"cluster_acc": 0.92, "cluster_nmi": 0.86}  # issue 14: the page's k-means after UMAP
MODELS = {"ae": defaults.cluster_ae_config, "vae": defaults.cluster_vae_config}


def pynndescent_umap(x: np.ndarray, seed: int, **options) -> np.ndarray:
    """umap-learn with its own (pynndescent) neighbour graph."""
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return umap.UMAP(random_state=seed, **{**cluster.UMAP_OPTIONS, **options}).fit_transform(x)


def codes(store: ModelStore, representation: str, dataset: str, seed: int, images: torch.Tensor, data) -> np.ndarray:
    """The codes of ``images`` by the page's model of ``representation`` trained with ``seed``
    (:func:`bench.common.page_model`)."""
    config = dataclasses.replace(MODELS[representation](dataset=dataset), seed=seed)
    model, seconds = page_model(store, config, data)
    print(f"# {config.describe()}, seed {seed}: trained in {seconds:.1f} s", flush=True)
    return cluster.code_features(model, images)


def fit(x: np.ndarray, graph: str, seed: int, neighbours: int, epochs: int) -> tuple[np.ndarray, float]:
    """UMAP of ``x`` on the ``graph`` ("exact" or "pynndescent"): (embedding, seconds)."""
    start = time.perf_counter()
    if graph == "exact":
        u = cluster.umap_features(x, seed, n_neighbors=neighbours, n_epochs=epochs)
    else:
        u = pynndescent_umap(x, seed, n_neighbors=neighbours, n_epochs=epochs)
    return u, time.perf_counter() - start


def summary(representation: str, setting: tuple, fits: list[dict], floored: bool) -> list:
    """One table row: the setting, then each score's mean and minimum over ``fits``, and with
    ``floored`` (MNIST, whose floor it is) how many of them fell under :data:`FLOOR`."""
    def stat(algorithm, key):
        values = [f[algorithm][key] for f in fits]
        return [f"{statistics.mean(values):.4f}", f"{min(values):.3f}"]

    under = sum(any(f["kmeans"][k] < v for k, v in FLOOR.items()) for f in fits)
    under_cell = (f"**{under}**" if under else 0) if floored else ""
    return [representation, *setting, len(fits), *stat("kmeans", "cluster_acc"), *stat("kmeans", "cluster_nmi"),
            *stat("gmm", "cluster_acc"), *stat("gmm", "cluster_nmi"), under_cell,
            f"{statistics.median(f['seconds'] for f in fits):.2f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neighbours", default=str(cluster.UMAP_OPTIONS["n_neighbors"]), help="comma-separated")
    ap.add_argument("--epochs", default=str(cluster.UMAP_OPTIONS["n_epochs"]), help="comma-separated")
    ap.add_argument("--pynndescent", action="store_true", help="each setting on pynndescent's graph too")
    ap.add_argument("--models", default="ae,vae", help="of: " + ", ".join(MODELS))
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--training-seeds", type=int, default=10, help="training seeds 0..N-1 per model")
    ap.add_argument("--seeds", type=int, default=5, help="UMAP seeds 0..N-1 per model and setting")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    models = chosen(args.models, MODELS, "models")
    graphs = ["exact"] + (["pynndescent"] if args.pynndescent else [])
    settings = [(g, int(k), int(e)) for g in graphs for k in args.neighbours.split(",") for e in args.epochs.split(",")]
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    store = ModelStore(device="cpu")
    data = load_dataset(args.dataset)
    images, y = cluster.test_split(data)
    cluster.prepare_umap()
    if args.pynndescent:
        pynndescent_umap(np.random.default_rng(0).random((300, 10), dtype=np.float32), 0, n_epochs=5)  # its compilation
    fits: dict[tuple, list[dict]] = {}
    for seed in range(args.training_seeds):
        for representation in models:
            x = codes(store, representation, args.dataset, seed, images, data)
            for setting in settings:
                graph, neighbours, epochs = setting
                for umap_seed in range(args.seeds):
                    u, seconds = fit(x, graph, umap_seed, neighbours, epochs)
                    f = {"seconds": seconds}
                    for algorithm in cluster.ALGORITHMS:
                        f[algorithm] = cluster.run(cluster.Pipeline(representation, algorithm, manifold="umap"), u, y).scores
                    fits.setdefault((representation, setting), []).append(f)
                    print(f"# {representation} seed {seed}, {graph} {neighbours} neighbours {epochs} epochs, "
                          f"UMAP seed {umap_seed}: {seconds:.2f} s, k-means {f['kmeans']['cluster_acc']:.3f} / "
                          f"{f['kmeans']['cluster_nmi']:.3f}, mixture {f['gmm']['cluster_acc']:.3f}, "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
    rows = [summary(representation, setting, fs, floored=args.dataset == "mnist")
            for (representation, setting), fs in fits.items()]
    header = ["model", "graph", "neighbours", "epochs", "fits", "k-means acc mean", "min", "NMI mean", "min",
              "mixture acc mean", "min", "NMI mean", "min", "k-means under the floor", "median s"]
    notes = (f"CPU: {cpu_name()}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} at the end). "
             f"{args.dataset}: the clustering page's {' and '.join(m.upper() for m in models)} at training seeds "
             f"0-{args.training_seeds - 1} x UMAP seeds 0-{args.seeds - 1} per row; N2D's other settings "
             f"({cluster.UMAP_OPTIONS['n_components']} components, min_dist {cluster.UMAP_OPTIONS['min_dist']}); "
             "k-means with 10 restarts and the page's Gaussian mixture on the embedding. Floor (issue 14, k-means on MNIST): "
             f"accuracy >= {FLOOR['cluster_acc']}, NMI >= {FLOOR['cluster_nmi']}. Seconds: the UMAP fit, neighbour "
             f"graph included. The page uses {cluster.UMAP_OPTIONS['n_neighbors']} neighbours and "
             f"{cluster.UMAP_OPTIONS['n_epochs']} epochs on the exact graph.")
    name = "umap_options" if args.dataset == "mnist" else f"umap_options_{args.dataset}"
    write_table(name, f"UMAP neighbours and epochs: clustering quality and time ({args.dataset})", header, rows,
                notes, write=not args.no_write)


if __name__ == "__main__":
    main()
