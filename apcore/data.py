"""Data sets: IDX files found, verified and read once per process; input corruption for denoising.

MNIST ships inside the repository (``data/mnist``). Fashion-MNIST is looked for in this order:
``$APCORE_DATA_DIR`` (the folder itself or its ``fashion-mnist`` subfolder), ``data/fashion-mnist``,
``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``), then torchvision's
download into ``data/fashion-mnist`` when the machine is online.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import ConfigError, DataError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASS_NAMES = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
# Seeds the random images of every evaluation (corrupted test images, pure noise): each model is
# scored on the same ones.
NOISE_SEED = 1234


@dataclass(frozen=True)
class Dataset:
    """One data set as uint8 tensors on the CPU: images (N, 28, 28), labels (N,)."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[self.name]


def candidate_dirs(name: str) -> list[Path]:
    """Folders searched for data set ``name``, in order."""
    dirs = []
    env = os.environ.get("APCORE_DATA_DIR")
    if env:
        dirs += [Path(env) / name, Path(env)]
    dirs.append(DATA_DIR / name)
    if name == "fashion-mnist":
        dirs.append(Path("/usr/share/datasets/fashion-mnist"))
    return dirs


def _file_in(folder: Path, stem: str) -> Path | None:
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.is_file():
            return path
    return None


def find_dataset_dir(name: str, download: bool = True) -> Path:
    """The first folder holding all four IDX files of ``name``; download as a last resort (never
    with ``download`` false: what a page uses without being asked for, it must not wait for a
    network, nor for torchvision's import: 1.3 s)."""
    if name not in CLASS_NAMES:
        raise ConfigError(f"unknown data set {name!r}; choose one of {', '.join(CLASS_NAMES)}")
    tried = candidate_dirs(name)
    for folder in tried:
        if all(_file_in(folder, stem) for stem in FILES.values()):
            return folder
    if name == "fashion-mnist" and download:
        folder = _download_fashion(DATA_DIR / name)
        if folder is not None:
            return folder
    where = ", ".join(str(d) for d in tried)
    raise DataError(
        f"{name} not found. Put its four IDX files ({', '.join(s + '.gz' for s in FILES.values())}) "
        f"in one of: {where} (or set APCORE_DATA_DIR to their folder)."
    )


@functools.lru_cache(maxsize=None)
def _download_fashion(target: Path) -> Path | None:
    """torchvision's standard download, tried once per process; None when offline or on any error."""
    try:
        from torchvision.datasets import FashionMNIST

        raw = target / "_download"
        FashionMNIST(str(raw), train=True, download=True)
        FashionMNIST(str(raw), train=False, download=True)
        src = raw / "FashionMNIST" / "raw"
        target.mkdir(parents=True, exist_ok=True)
        for stem in FILES.values():
            os.replace(src / f"{stem}.gz", target / f"{stem}.gz")
        return target
    except Exception as exc:  # offline, proxy, disk: all mean "not available"
        # Not a fault (a lecture hall is often offline): the pages offer MNIST alone, the anomaly page
        # shows no Fashion-MNIST outliers.
        log.info("Fashion-MNIST is not on this machine and could not be downloaded (%s); going on without it. "
                 "Its four IDX files in %s make it available.", exc, target)
        return None


def _read_checksums(folder: Path) -> dict[str, str]:
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return {}
    out = {}
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def read_idx(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip or plain) into a uint8 array, checking checksum, header and size."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    if expected_sha256 and hashlib.sha256(blob).hexdigest() != expected_sha256:
        raise DataError(f"{path} is corrupt: its SHA-256 does not match SHA256SUMS. Copy the file again.")
    if path.suffix == ".gz":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path} is truncated or not gzip ({exc}). Copy the file again.") from None
    if len(blob) < 8:
        raise DataError(f"{path} is truncated: no IDX header.")
    magic, count = struct.unpack(">II", blob[:8])
    if magic == IMAGE_MAGIC:
        if len(blob) < 16:
            raise DataError(f"{path} is truncated: incomplete IDX header.")
        rows, cols = struct.unpack(">II", blob[8:16])
        shape, offset = (count, rows, cols), 16
    elif magic == LABEL_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(f"{path} is not an IDX image or label file (magic number {magic}).")
    expected = int(np.prod(shape))
    if len(blob) - offset != expected:
        raise DataError(f"{path} is truncated or padded: {len(blob) - offset} bytes of data, expected {expected}.")
    return np.frombuffer(blob, dtype=np.uint8, offset=offset).reshape(shape).copy()


_load_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, folder: str) -> Dataset:
    folder = Path(folder)
    sums = _read_checksums(folder)
    arrays = {}
    for field, stem in FILES.items():
        path = _file_in(folder, stem)
        arrays[field] = torch.from_numpy(read_idx(path, sums.get(path.name)))
    if len(arrays["train_images"]) != len(arrays["train_labels"]) or len(arrays["test_images"]) != len(arrays["test_labels"]):
        raise DataError(f"{folder}: image and label counts differ.")
    log.info("loaded %s from %s", name, folder)
    return Dataset(name=name, **arrays)


def load_dataset(name: str, download: bool = True) -> Dataset:
    """The data set ``name`` as uint8 tensors, read from disk once per process (thread-safe);
    ``download``: as :func:`find_dataset_dir`."""
    folder = find_dataset_dir(name, download)
    with _load_lock:
        return _load_cached(name, str(folder))


def to_float(images: torch.Tensor) -> torch.Tensor:
    """Images as the models take them: float (N, 1, H, W) in [0, 1], on the images' device.

    uint8 images, (N, H, W), (N, 1, H, W) or one (H, W), are divided by 255; float images (an
    upload, a noisy copy) are already in [0, 1] and only reshaped. The one uint8 -> float conversion."""
    x = images if images.dim() == 4 else images.reshape(-1, 1, *images.shape[-2:])
    return x.float().div_(255.0) if images.dtype == torch.uint8 else x.float()


def corrupt(x: torch.Tensor, noise: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt clean images ``x`` (float in [0, 1]) with ``noise`` at ``level``; returns a new tensor.

    gaussian: add N(0, level^2) and clip to [0, 1]; salt-pepper: a fraction ``level`` of pixels set
    to 0 or 1 (half each); mask: a fraction ``level`` of pixels set to 0.
    """
    if noise == "none" or level <= 0:
        return x.clone()
    if noise == "gaussian":
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (x + level * eps).clamp_(0.0, 1.0)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    # torch.where, not boolean indexing: no host synchronisation, so it can sit in a CUDA graph.
    if noise == "salt-pepper":
        return torch.where(u < level / 2, 0.0, torch.where(u < level, 1.0, x))
    if noise == "mask":
        return x.masked_fill(u < level, 0.0)
    raise ConfigError(f"unknown noise {noise!r}")
