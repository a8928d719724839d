"""Per-epoch training speed: our trainer against the conventional loop, same model and batch.

The conventional loop is pytorch/examples' `vae`: torchvision's MNIST dataset (PIL image + per-sample
`ToTensor`), a DataLoader, the model on the device, no denormal flushing. Ours: the data set
resident on the device as uint8, batches gathered there, denormals flushed on the CPU.

    python3 bench/train_speed.py [--device cpu|cuda] [--epochs 1]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apcore import models, train  # noqa: E402
from apcore.data import DATA_DIR, load_dataset  # noqa: E402
from apcore.defaults import default_config  # noqa: E402
from bench.common import write_table  # noqa: E402


def conventional_epoch(model, device, batch_size: int) -> float:
    """One epoch as pytorch/examples/vae does it; returns seconds."""
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for f in (DATA_DIR / "mnist").glob("*.gz"):
            with gzip.open(f) as src, open(raw / f.stem, "wb") as dst:
                shutil.copyfileobj(src, dst)
        ds = datasets.MNIST(tmp, train=True, download=False, transform=transforms.ToTensor())
        loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.to(device).train()
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


def ours_epoch(model, config, device) -> float:
    data = load_dataset("mnist")
    start = time.perf_counter()
    train.fit(model, config, data, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / config.epochs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    device = train.pick_device(args.device)
    rows = []
    for family in ("vae-mlp", "ae-conv"):
        config = default_config(family, latent_dim=20, epochs=1, batch_size=128)
        conv_t, ours_t = [], []
        for r in range(args.repeats):
            torch.set_flush_denormal(False)  # the conventional loop as published
            torch.manual_seed(r)
            conv_t.append(conventional_epoch(models.build(config), device, config.batch_size))
            torch.manual_seed(r)
            ours_t.append(ours_epoch(models.build(config), config, device))
        c, o = sorted(conv_t)[len(conv_t) // 2], sorted(ours_t)[len(ours_t) // 2]
        rows.append([family, config.batch_size, device.type, f"{c:.2f}", f"{o:.2f}", f"{c / o:.1f}x"])
    write_table(f"train_speed_{device.type}", "One epoch of MNIST: conventional loop vs apcore's trainer",
                ["model", "batch", "device", "conventional s/epoch", "apcore s/epoch", "speed-up"], rows,
                "Median of the repeats; both variants run in the same process, one after the other.")


if __name__ == "__main__":
    main()
