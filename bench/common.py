"""Shared by the benchmark scripts: machine description and writing a results table."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with the number of torch threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({cpu_name()}, {torch.get_num_threads()} threads)"


def train_timed(config, data, device):
    """A fresh model for ``config`` trained on ``device``: (model, training seconds)."""
    from apcore import models, train

    torch.manual_seed(config.seed)
    model = models.build(config)
    start = time.perf_counter()
    train.fit(model, config, data, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    model.requires_grad_(False)
    return model, seconds


def mm_rate(dtype: torch.dtype, device: torch.device, n: int = 4096, reps: int = 4) -> float:
    """GFLOP/s of an n x n matrix product (best of three runs of ``reps``)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 * reps / best / 1e9


def machine() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu_name()}, {torch.get_num_threads()} torch threads, {gpu}; "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def write_table(name: str, title: str, header: list[str], rows: list[list], notes: str = "", write: bool = True) -> str:
    """Print a markdown table and (unless ``write`` is false: a trial run) write it to bench/results/<name>.md."""
    lines = [f"# {title}", "", f"Machine: {machine()}", "", f"Command: `python3 {' '.join(sys.argv)}`", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if notes:
        lines += ["", notes]
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.md").write_text(text)
    return text
