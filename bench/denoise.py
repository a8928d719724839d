"""Denoising on MNIST: PSNR and SSIM of noisy input and model output on the 10,000 test images.

Each model trains on its noise (by default Gaussian of std 0.5, clipped to [0, 1]) and is scored on
the test set corrupted the same way with a fixed seed. Reference (``../shared/guides/TARGETS.md``):
the noisy input itself is about 9.4 dB; a small conv denoiser in a well-known course ~15.8 dB;
target >= 20 dB.

    python bench/denoise.py --threads 2  # the page's default models (CNN and MLP); writes
                                         # bench/results/denoise.md
    python bench/denoise.py --variant ae-conv,64,5,256,3e-3 --device cuda --no-write
                                         # other models (family,latent,epochs,batch,lr; the
                                         # family's number of training images)
    python bench/denoise.py --threads 2 --variant ae-fconv,8,2,64,5e-3,0.9,0 \
        --variant ae-fconv,8,1,64,5e-2 --seeds 0,1,2 --noise gaussian:0.5 --noise salt-pepper:0.3 \
        --noise mask:0.5 --no-write      # the CNN before and after issue 14's recipe (beta1, warm-up),
                                         # each seed's pair trained in turn

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
from bench.common import device_name, recipe, train_timed, variant  # noqa: E402


def run(config: ModelConfig, data, device) -> dict[str, float]:
    model, seconds = train_timed(config, data, device)
    row = quality(*denoise(model, data.test_images, config.noise, config.noise_level))
    row["seconds"] = seconds
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", default=[],
                    help="family,latent,epochs,batch,lr[,beta1,warmup] (repeatable; Adam's beta1 and the warm-up "
                         "fraction: the family's unless given)")
    ap.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    ap.add_argument("--noise", action="append", default=[], help="kind:level to train and test on "
                    "(repeatable; default gaussian:0.5)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: its default)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = train.pick_device(args.device)
    data = load_dataset("mnist")
    # (config, (beta1, warm-up) or None: the family's)
    try:
        configs = [cv for v in args.variant for cv in variant(v)] or [(c, None) for c in page_defaults()["denoise"]]
    except ValueError as exc:
        ap.error(str(exc))
    noises = [(kind, float(level)) for kind, level in (n.split(":") for n in args.noise or ["gaussian:0.5"])]
    runs = [(c.replace(noise=kind, noise_level=level, seed=int(seed)), override)  # each seed's variants side by side
            for kind, level in noises for seed in args.seeds.split(",") for c, override in configs]
    lines = [f"10,000 test images, corrupted as each model was trained. Device: {device_name(device)}.", "",
             "| model | latent | epochs x batch, lr | Adam's betas, warm-up | noise | seed | PSNR noisy (dB) "
             "| PSNR denoised (dB) | SSIM noisy | SSIM denoised | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c, override in runs:
        with recipe(c.family, override) as used:
            r = run(c, data, device)
        lines.append(f"| `{c.family}` | {c.latent_dim} | {c.epochs} x {c.batch_size}, {c.lr:g} | {used} | "
                     f"{c.noise} {c.noise_level:g} | {c.seed} | {r['psnr_noisy']:.2f} | **{r['psnr_denoised']:.3f}** | "
                     f"{r['ssim_noisy']:.3f} | {r['ssim_denoised']:.3f} | {r['seconds']:.1f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    text = "\n".join(lines)
    print(text)
    if not args.no_write and not args.variant:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("# Denoising on MNIST\n\nMade by `python bench/denoise.py`.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
