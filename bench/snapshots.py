"""What the training snapshots cost: training time with and without them, and their size.

For each model (the page defaults, or with ``--all`` every one of them) the same training runs
twice, with and without a :class:`apcore.snapshots.Snapshotter`, alternating, ``--repeats`` times.
Three figures of the extra time: the time spent in the snapshotter against the rest of that same
training (median; the least sensitive to what else the machine runs), and the two variants' best
CPU times (this process's) and best wall times (what a user waits; noisy on a shared machine:
OpenMP threads spin while another process holds the cores, so CPU time is no cleaner there). The size is the record as ``torch.save`` writes it
into the checkpoint.

    python3 bench/snapshots.py [--all] [--repeats 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apcore import models, train  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from apcore.defaults import warm_list  # noqa: E402
from apcore.snapshots import Snapshotter  # noqa: E402
from bench.common import write_table  # noqa: E402

# One per family and per budget kind: the AE page's MLP and CNN, the VAE, the one-class model
# (30 short epochs), both denoisers (ae-fconv: the largest code, 392 numbers).
SUBSET = ("ae-mlp, latent 2, mnist", "ae-conv, latent 20, mnist", "vae-mlp, latent 20, mnist",
          "ae-mlp, latent 16, mnist, normal 0", "ae-mlp, latent 32, mnist, gaussian 0.5",
          "ae-fconv, latent 8x7x7, mnist, gaussian 0.5")


class TimedSnapshotter(Snapshotter):
    """Adds up the seconds spent in the snapshotter: gathering its test images, the snapshot calls,
    and building the record at the end (the PCA of a long code)."""

    def __init__(self, *args, **kwargs):
        start = time.perf_counter()
        super().__init__(*args, **kwargs)
        self.seconds = time.perf_counter() - start

    def _timed(self, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        if self._device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - start
        return out

    def __call__(self, step: int) -> None:
        self._timed(super().__call__, step)

    def record(self):
        return self._timed(super().record)


def run(config, data, device, snapshots: bool):
    """(wall seconds of fit, its CPU seconds, seconds inside snapshots, the record) for one fresh
    training; the snapshotter is built (its test images gathered) inside the timed span."""
    torch.manual_seed(config.seed)
    model = models.build(config)
    start, cpu = time.perf_counter(), time.process_time()
    snapshotter = TimedSnapshotter(model, config, data, device) if snapshots else None
    train.fit(model, config, data, device, on_snapshot=snapshotter)
    record = snapshotter.record() if snapshotter is not None else None
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, cpu, (snapshotter.seconds if snapshotter else 0.0), record


def record_bytes(record) -> int:
    buffer = io.BytesIO()
    torch.save(record.to_dict(), buffer)
    return len(buffer.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--all", action="store_true", help="every page default, not the representative subset")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = train.pick_device(args.device)
    configs = warm_list() if args.all else [c for c in warm_list() if c.describe() in SUBSET]
    rows = []
    for config in configs:
        data = load_dataset(config.dataset)
        plain, with_snap, inside = [], [], []
        for _ in range(args.repeats):
            plain.append(run(config, data, device, False)[:2])
            wall, cpu, seconds, record = run(config, data, device, True)
            with_snap.append((wall, cpu))
            inside.append(seconds / (wall - seconds))
        (a, a_cpu), (b, b_cpu) = ([min(v) for v in zip(*runs)] for runs in (plain, with_snap))
        rows.append([config.describe(), len(record), f"{record.codes.shape[1]}x{record.codes.shape[2]}"
                     + (" (PCA)" if record.compressed else ""), f"{record_bytes(record) / 1e3:.0f}",
                     f"{a:.1f}", f"{b:.1f}", f"{100 * statistics.median(inside):.1f}",
                     f"{100 * (b_cpu / a_cpu - 1):+.1f}", f"{100 * (b / a - 1):+.1f}"])
        print(" | ".join(map(str, rows[-1])), flush=True)
    write_table(f"snapshots_{device.type}", "Training snapshots: size per checkpoint and extra training time",
                ["model", "frames", "codes kept", "kB in .pt", "train s without", "train s with",
                 "extra % (time in snapshots)", "extra % (CPU time)", "extra % (wall)"], rows,
                notes=f"{args.repeats} alternating runs per variant. 'time in snapshots' (median): seconds in the "
                      "snapshotter (gathering its images, the ~12 calls, the record) over the rest of the same "
                      "training; 'CPU time' and 'wall': the two variants' best times (noisy when other "
                      "processes share the machine).")


if __name__ == "__main__":
    main()
