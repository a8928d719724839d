"""Per-epoch training speed of every family against the machine's own ceiling and the peer loop.

For each family's page default (batch and precision as the pages train it), in one process:
- **apcore**: one epoch of ``apcore.train.fit`` (the trainer the app uses);
- **fp32**: the same, float32 forced (``APCORE_PRECISION=fp32``), where the CPU runs bf16 natively;
- **peer**: pytorch/examples' loop (torchvision's MNIST, per-sample ``ToTensor``, a DataLoader with one
  worker, Adam, no denormal flushing), the same model and batch;
- the arithmetic of an epoch (forward + backward, counted by ``torch.utils.flop_counter``) and the
  rate it runs at, against a large ``torch.mm`` measured in the same run (fp32 and bf16).

    python3 bench/train_speed.py [--device cpu|cuda] [--repeats 3] [--families vae-mlp,ae-conv]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apcore import models, train  # noqa: E402 - apcore before torch: it sets OpenMP's spin count

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from apcore.data import DATA_DIR, load_dataset, to_float  # noqa: E402
from apcore.defaults import default_config  # noqa: E402
from bench.common import mm_rate, write_table  # noqa: E402

FAMILIES = {"vae-mlp": 20, "ae-mlp": 2, "ae-conv": 2, "ae-fconv": 8, "vae-conv": 2}


def epoch_flops(config, n_images: int) -> float:
    """Forward + backward FLOP of one epoch (matrix products and convolutions)."""
    model = models.build(config)
    x = torch.rand(config.batch_size, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        model.loss(x)["loss"].backward()
    return counter.get_total_flops() * (n_images // config.batch_size)


def mnist_folder(tmp: str):
    """torchvision's MNIST over the checksummed files in shared data (no download)."""
    from torchvision import datasets, transforms

    raw = Path(tmp) / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (DATA_DIR / "mnist").glob("*.gz"):
        with gzip.open(f) as src, open(raw / f.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return datasets.MNIST(tmp, train=True, download=False, transform=transforms.ToTensor())


def peer_epoch(model, device, batch_size: int, dataset) -> float:
    """One epoch as pytorch/examples/vae does it; returns seconds."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.to(device).train()
    torch.set_flush_denormal(False)  # as published
    start = time.perf_counter()
    for x, _ in loader:
        x = x.to(device)
        loss = model.loss(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def apcore_epoch(config, data, device, precision: str) -> float:
    os.environ["APCORE_PRECISION"] = precision
    torch.manual_seed(0)
    model = models.build(config)
    start = time.perf_counter()
    train.fit(model, config, data, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def median(xs: list[float]) -> float:
    """The middle value (of an even count, the lower middle one)."""
    return sorted(xs)[(len(xs) - 1) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--no-peer", action="store_true", help="skip the pytorch/examples loop")
    args = ap.parse_args()
    device = train.pick_device(args.device)
    data = load_dataset("mnist")
    n = len(data.train_images)
    fp32_rate, bf16_rate = mm_rate(torch.float32, device), mm_rate(torch.bfloat16, device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = None if args.no_peer else mnist_folder(tmp)
        for family in args.families.split(","):
            config = default_config(family, latent_dim=FAMILIES[family], epochs=1, train_limit=0)  # all 60,000
            flops = epoch_flops(config, n)
            os.environ["APCORE_PRECISION"] = "auto"  # not the previous family's forced fp32
            bf16 = train.autocast_dtype(device, config) is not None
            ours, fp32, peer = [], [], []
            small = config.replace(train_limit=4 * config.batch_size)  # warm-up: oneDNN's kernels for these shapes
            for precision in ("auto", "fp32") if bf16 else ("auto",):
                apcore_epoch(small, data, device, precision)
            for r in range(args.repeats):
                ours.append(apcore_epoch(config, data, device, "auto"))
                if bf16:
                    fp32.append(apcore_epoch(config, data, device, "fp32"))
                if dataset is not None:
                    torch.manual_seed(r)
                    peer.append(peer_epoch(models.build(config), device, config.batch_size, dataset))
                print(family, r, ours[-1], fp32[-1:], peer[-1:], flush=True)
            o = median(ours)
            arithmetic = flops / (fp32_rate * 1e9)
            rows.append([family, config.batch_size, "bf16" if bf16 else "fp32", f"{flops / 1e9:.0f}", f"{o:.2f}",
                         f"{median(fp32):.2f}" if fp32 else "", f"{median(peer):.2f}" if peer else "",
                         f"{median(peer) / o:.1f}x" if peer else "", f"{flops / o / 1e9:.0f}", f"{arithmetic:.2f}",
                         f"{o / arithmetic:.1f}x"])
    write_table(
        f"train_speed_{device.type}", "One epoch of MNIST per family: apcore's trainer, the machine's ceiling, the peer",
        ["model (page default)", "batch", "precision", "GFLOP/epoch", "apcore s", "apcore fp32 s", "peer s",
         "peer / apcore", "achieved GFLOP/s", "arithmetic s at fp32 mm rate", "apcore / arithmetic"], rows,
        f"torch.mm 4096^2 in the same run: fp32 {fp32_rate:.0f} GFLOP/s, bf16 {bf16_rate:.0f} GFLOP/s; CPU bf16 "
        f"native: {train.cpu_has_bf16()}. Medians of {args.repeats} repeats (the lower middle one of an even count), "
        "each family warmed up first (an epoch of 4 batches per precision); every variant runs in this one process, "
        "interleaved. 'arithmetic s' = the epoch's FLOP at the fp32 mm rate (the issue's yardstick); peer = "
        "pytorch/examples' DataLoader loop with per-sample ToTensor and no denormal flushing.")


if __name__ == "__main__":
    main()
