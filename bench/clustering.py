"""Clustering benchmark: every representation x algorithm x data set, scored on the 10,000 test images.

    python bench/clustering.py                    # MNIST and Fashion-MNIST, writes bench/results/clustering.md
    python bench/clustering.py --datasets mnist --no-write
    python bench/clustering.py --no-umap          # skip the UMAP (N2D) rows
    python bench/clustering.py --seeds 3          # AE -> UMAP -> clustering for 3 training seeds (MNIST)

The AE and VAE are the clustering page's defaults (``apcore.defaults.cluster_ae_config`` / ``cluster_vae_config``
on each data set), loaded from ``checkpoints/`` or trained there first. Seconds are wall-clock for
the clustering alone (UMAP included in its rows, computed once and shared by both algorithms; the
first UMAP call of a process also pays numba's compilation, reported separately).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apcore import cluster, defaults  # noqa: E402
from apcore.cache import ModelStore  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from bench.common import cpu_name, page_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "clustering.md"


def warm_umap() -> float:
    """Seconds of umap-learn's import and first (numba-compiling) fit on a tiny array."""
    import numpy as np

    start = time.perf_counter()
    cluster.umap_features(np.random.default_rng(0).random((200, 10), dtype=np.float32), n_neighbors=10)
    return time.perf_counter() - start


def bench_dataset(name: str, store: ModelStore, use_umap: bool, latent_dim: int) -> list[dict]:
    data = load_dataset(name)
    images, y = data.test_images, data.test_labels.numpy()
    models = {}
    for rep, config in (("ae", defaults.cluster_ae_config(latent_dim, name)),
                        ("vae", defaults.cluster_vae_config(latent_dim, name))):
        trained = store.get_or_train(config)
        models[rep] = trained
        print(f"# {name}: {trained.config.describe()}, {trained.config.epochs} epochs, trained in "
              f"{trained.train_seconds:.1f} s on {trained.device}", flush=True)
    rows = []
    for p in cluster.comparison("kmeans", 10, 10, use_umap, list(models)):
        start = time.perf_counter()
        x = cluster.features(p, images, models.get(p.representation))  # UMAP computed, not read from disk
        prep = time.perf_counter() - start
        for algorithm in cluster.ALGORITHMS:
            res = cluster.run(replace(p, algorithm=algorithm), x, y)
            label = p.label()
            row = {"dataset": name, "representation": label, "algorithm": cluster.ALGORITHMS[algorithm],
                   **res.scores, "seconds": prep + res.seconds}
            rows.append(row)
            print(f"| {name} | {label} | {row['algorithm']} | {row['cluster_acc']:.3f} | {row['cluster_nmi']:.3f} "
                  f"| {row['cluster_ari']:.3f} | {row['seconds']:.1f} |", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| data set | representation | algorithm | accuracy | NMI | ARI | seconds |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['representation']} | {r['algorithm']} | {r['cluster_acc']:.3f} "
                     f"| {r['cluster_nmi']:.3f} | {r['cluster_ari']:.3f} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def seed_rows(store: ModelStore, latent_dim: int, seeds: int) -> list[dict]:
    """AE -> UMAP -> k-means / GMM on MNIST for AEs trained with seeds 0..seeds-1 (0 = the page's)."""
    data = load_dataset("mnist")
    images, y = data.test_images, data.test_labels.numpy()
    rows = []
    for seed in range(seeds):
        model, seconds = page_model(store, replace(defaults.cluster_ae_config(latent_dim), seed=seed), data)
        x = cluster.umap_features(cluster.code_features(model, images))
        row = {"seed": seed, "train_seconds": seconds}
        for algorithm in cluster.ALGORITHMS:
            row[algorithm] = cluster.run(cluster.Pipeline("ae", algorithm, manifold="umap"), x, y).scores
        rows.append(row)
        print(f"# seed {seed}: " + ", ".join(f"{a} {row[a]['cluster_acc']:.3f}/{row[a]['cluster_nmi']:.3f}"
                                            for a in cluster.ALGORITHMS), flush=True)
    return rows


def seed_table(rows: list[dict]) -> str:
    lines = ["AE latent → UMAP (N2D) on MNIST, one AE per training seed (seed 0 is the page's model):", "",
             "| training seed | AE train s | k-means acc | k-means NMI | GMM acc | GMM NMI |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['train_seconds']:.1f} | {r['kmeans']['cluster_acc']:.3f} "
                     f"| {r['kmeans']['cluster_nmi']:.3f} | {r['gmm']['cluster_acc']:.3f} | {r['gmm']['cluster_nmi']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="mnist,fashion-mnist")
    ap.add_argument("--latent-dim", type=int, default=defaults.CLUSTER_LATENT)
    ap.add_argument("--seeds", type=int, default=3, help="training seeds of the AE for the robustness table")
    ap.add_argument("--no-umap", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    store = ModelStore(device="cpu")
    use_umap = not args.no_umap and cluster.umap_available()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    head = (f"CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"load average {load:.1f} at start (shared machine: seconds are noisy)")
    print(head, flush=True)
    compile_s = warm_umap() if use_umap else None
    if compile_s is not None:
        print(f"# umap-learn import + first-call numba compilation: {compile_s:.1f} s", flush=True)
    rows = []
    for name in args.datasets.split(","):
        rows += bench_dataset(name.strip(), store, use_umap, args.latent_dim)
    text = table(rows)
    if use_umap and args.seeds > 1 and "mnist" in args.datasets.split(","):
        text += "\n\n" + seed_table(seed_rows(store, args.latent_dim, args.seeds))
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        notes = [f"Command: `python bench/clustering.py`. {head}."]
        if compile_s is not None:
            notes.append(f"umap-learn import + first-call numba compilation: {compile_s:.1f} s (once per process).")
        notes.append(f"AE = MLP autoencoder, VAE = MLP VAE (its mean), latent {args.latent_dim}, each data set's "
                     f"page default training budget. PCA: 10 components. k = 10. UMAP (N2D): {cluster.umap_settings()}, "
                     "seed 0.")
        RESULTS.write_text("# Clustering the test set (10,000 images)\n\n" + "\n\n".join(notes) + "\n\n" + text + "\n")


if __name__ == "__main__":
    main()
