"""GPU training: replayed CUDA graphs against the eager loop, same configs, one process.

    python3 bench/gpu_train.py            # needs a CUDA GPU

For each config: seconds per epoch (median over epochs after the first) and test metrics, for
the eager loop and for the graphed one. The target (TARGETS.md): an epoch of MNIST at batch 128
in <= 0.15 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apcore import metrics, models, train  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from apcore.defaults import default_config  # noqa: E402
from bench.common import write_table  # noqa: E402

CONFIGS = [
    default_config("vae-mlp", latent_dim=20, epochs=10, batch_size=128, lr=1e-3),
    default_config("vae-mlp", latent_dim=20),
    default_config("vae-mlp", latent_dim=20, epochs=30, batch_size=512, lr=3e-3),
    default_config("ae-mlp", latent_dim=2),
    default_config("ae-conv", latent_dim=16, epochs=5, batch_size=128),
    default_config("vae-conv", latent_dim=2, epochs=5, batch_size=128),
    default_config("ae-conv", latent_dim=32, noise="gaussian", noise_level=0.5),
]


def run(config, graphs: bool) -> tuple[float, float, dict]:
    train.CUDA_GRAPHS = graphs
    device = torch.device("cuda")
    data = load_dataset("mnist")
    torch.manual_seed(config.seed)
    model = models.build(config)
    torch.cuda.synchronize()
    start = time.perf_counter()
    history = train.fit(model, config, data, device)
    torch.cuda.synchronize()
    wall = time.perf_counter() - start
    per_epoch = statistics.median(r["seconds"] for r in history[1:]) if len(history) > 1 else history[0]["seconds"]
    return per_epoch, wall, metrics.evaluate(model, config, data, device)


def main() -> None:
    rows = []
    for config in CONFIGS:
        for graphs in (False, True):
            per_epoch, wall, m = run(config, graphs)
            head = m.get("test_loss", m["test_recon"])
            extra = f"psnr {m['psnr_denoised']:.1f}" if "psnr_denoised" in m else ""
            rows.append([config.describe(), f"{config.epochs} x {config.batch_size}, lr {config.lr:g}",
                         "graphs" if graphs else "eager", f"{per_epoch:.3f}", f"{wall:.2f}", f"{head:.2f}", extra])
            print(rows[-1], flush=True)
    write_table("gpu_train", "GPU training: eager loop vs replayed CUDA graphs",
                ["model", "budget", "loop", "s/epoch (median)", "total s", "test loss", ""], rows,
                "s/epoch excludes the first epoch (capture and warm-up); total s includes it.")


if __name__ == "__main__":
    main()
