"""GPU training: replayed CUDA graphs against the eager loop, same configs, one process.

    python3 bench/gpu_train.py            # needs a CUDA GPU

The graphed loop is :func:`apcore.train.fit`'s on a GPU (``_fit_graphed``; the eager one with
``APCORE_CUDA_GRAPHS=0``). Measured on one NVIDIA H200 (torch 2.11, ``bench/gpu_check.sh graphs``
through the device tool), when it still lived here: it reached the eager loop's test loss on
every config below (the 20-d VAE's default 5 x 256: 103.93 against 104.07; 10 x 128 at lr 1e-3:
105.72 / 105.71; the denoiser 20.1 dB both) at 5-9x the speed (an epoch at batch 128: 0.146 s
against 1.27 s: TARGETS.md's <= 0.15 s); its first run there, before it followed ``fit``'s
recipe (data start, beta2, warm-up), ended 1-7 worse.

For each config: seconds per epoch (median over epochs after the first) and test metrics, for
the eager loop and for the graphed one. The target (TARGETS.md): an epoch of MNIST at batch 128
in <= 0.15 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apcore import metrics, models, train  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from apcore.defaults import default_config, denoiser_config  # noqa: E402
from bench.common import write_table  # noqa: E402

CONFIGS = [
    default_config("vae-mlp", latent_dim=20, epochs=10, batch_size=128, lr=1e-3),
    default_config("vae-mlp", latent_dim=20),
    default_config("vae-mlp", latent_dim=20, epochs=30, batch_size=512, lr=3e-3),
    default_config("ae-mlp", latent_dim=2),
    default_config("ae-conv", latent_dim=16, epochs=5, batch_size=128),
    default_config("vae-conv", latent_dim=2, epochs=5, batch_size=128),
    denoiser_config("ae-fconv"),  # the denoising page's convolutional model
]


def run(config, graphs: bool) -> tuple[float, float, dict]:
    device = torch.device("cuda")
    data = load_dataset("mnist")
    torch.manual_seed(config.seed)
    model = models.build(config)
    torch.cuda.synchronize()
    start = time.perf_counter()
    os.environ["APCORE_CUDA_GRAPHS"] = "1" if graphs else "0"  # apcore.train.cuda_graphs
    history = train.fit(model, config, data, device)
    torch.cuda.synchronize()
    wall = time.perf_counter() - start
    per_epoch = statistics.median(r["seconds"] for r in history[1:]) if len(history) > 1 else history[0]["seconds"]
    return per_epoch, wall, metrics.evaluate(model, config, data)


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
