"""Denoising on MNIST: PSNR and SSIM of noisy input and model output on the 10,000 test images.

Each model trains on Gaussian noise of std 0.5 (clipped to [0, 1]) and is scored on the test set
corrupted the same way with a fixed seed. Reference (``../shared/guides/TARGETS.md``): the noisy
input itself is about 9.4 dB; a small conv denoiser in a well-known course ~15.8 dB; target >= 20 dB.

    python bench/denoise.py --threads 2  # the page's default models (CNN and MLP); writes
                                         # bench/results/denoise.md
    python bench/denoise.py --variant ae-conv,64,5,256,3e-3 --device cuda --no-write
                                         # other models (family,latent,epochs,batch,lr)

Train seconds are the trainer's wall time only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apcore import train  # noqa: E402
from apcore.config import ModelConfig  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from apcore.defaults import page_defaults  # noqa: E402
from apcore.denoise import denoise, quality  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "denoise.md"
from bench.common import device_name, train_timed  # noqa: E402


def run(config: ModelConfig, data, device) -> dict[str, float]:
    model, seconds = train_timed(config, data, device)
    row = quality(*denoise(model, data.test_images, config.noise, config.noise_level))
    row["seconds"] = seconds
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", default=[], help="family,latent,epochs,batch,lr[,seed] (repeatable)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: its default)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = train.pick_device(args.device)
    data = load_dataset("mnist")
    configs = page_defaults()["denoise"]
    if args.variant:
        configs = []
        for v in args.variant:
            fam, latent, epochs, batch, lr, *seed = v.split(",")
            configs.append(ModelConfig(family=fam, latent_dim=int(latent), epochs=int(epochs), batch_size=int(batch),
                                       lr=float(lr), seed=int(seed[0]) if seed else 0, noise="gaussian", noise_level=0.5))
    lines = [f"Gaussian noise std 0.5, clipped to [0, 1]; 10,000 test images. Device: {device_name(device)}.", "",
             "| model | latent | epochs | batch | PSNR noisy (dB) | PSNR denoised (dB) | SSIM noisy | SSIM denoised | train s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in configs:
        r = run(c, data, device)
        lines.append(f"| `{c.family}` | {c.latent_dim} | {c.epochs} | {c.batch_size} | {r['psnr_noisy']:.2f} | "
                     f"**{r['psnr_denoised']:.2f}** | {r['ssim_noisy']:.3f} | {r['ssim_denoised']:.3f} | {r['seconds']:.1f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    text = "\n".join(lines)
    print(text)
    if not args.no_write and not args.variant:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("# Denoising on MNIST\n\nMade by `python bench/denoise.py`.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
