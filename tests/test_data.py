"""apcore.data: finding, verifying and reading IDX files; input corruption for denoising."""

import gzip
import hashlib
import logging
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from apcore import data
from apcore.config import ConfigError
from apcore.data import DataError, corrupt, find_dataset_dir, load_dataset, read_idx, to_float

ROOT = Path(__file__).resolve().parent.parent
SHARED_FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"
LABELS_GZ = "train-labels-idx1-ubyte.gz"


def idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 2051, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


# -- loading -----------------------------------------------------------------------------------
def test_mnist_shapes_dtypes_and_labels():
    d = load_dataset("mnist")
    assert d.name == "mnist"
    assert d.train_images.shape == (60000, 28, 28) and d.train_images.dtype == torch.uint8
    assert d.test_images.shape == (10000, 28, 28) and d.test_images.dtype == torch.uint8
    assert d.train_labels.shape == (60000,) and d.test_labels.shape == (10000,)
    for labels in (d.train_labels, d.test_labels):
        assert labels.min() == 0 and labels.max() == 9
        assert set(labels.unique().tolist()) == set(range(10))
    assert d.class_names == tuple("0123456789")
    # Images use the whole uint8 range (not already scaled) and are not all blank.
    assert d.train_images.max() == 255 and d.train_images.float().mean() > 20


def test_loaded_once_per_process():
    assert load_dataset("mnist") is load_dataset("mnist")


def test_repository_copy_matches_its_checksums():
    folder = ROOT / "data" / "mnist"
    sums = data._read_checksums(folder)
    assert set(sums) == {f"{stem}.gz" for stem in data.FILES.values()}
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_repository_copy_is_found_without_env(monkeypatch):
    monkeypatch.delenv("APCORE_DATA_DIR", raising=False)
    assert find_dataset_dir("mnist") == ROOT / "data" / "mnist"


def test_unknown_dataset_name():
    with pytest.raises(ConfigError, match="unknown data set 'cifar'"):
        find_dataset_dir("cifar")


def test_to_float():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    x = to_float(images)
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32
    assert torch.allclose(x.flatten(), torch.tensor([0.0, 1.0, 0.2, 0.4]))
    assert images.dtype == torch.uint8  # the input is left alone
    assert torch.equal(to_float(images[0]), x) and torch.equal(to_float(images[:, None]), x)  # (H, W), (N, 1, H, W)
    assert torch.equal(to_float(x), x) and torch.equal(to_float(x[:, 0]), x)  # floats are already in [0, 1]


# -- search order ------------------------------------------------------------------------------
def _link_files(folder: Path, source: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in data.FILES.values():
        (folder / f"{stem}.gz").symlink_to(source / f"{stem}.gz")
    return folder


def test_env_subfolder_first_then_env_folder(tmp_path, monkeypatch):
    source = ROOT / "data" / "mnist"
    _link_files(tmp_path, source)
    _link_files(tmp_path / "mnist", source)
    monkeypatch.setenv("APCORE_DATA_DIR", str(tmp_path))
    assert data.candidate_dirs("mnist")[:3] == [tmp_path / "mnist", tmp_path, ROOT / "data" / "mnist"]
    assert find_dataset_dir("mnist") == tmp_path / "mnist"
    shutil.rmtree(tmp_path / "mnist")
    assert find_dataset_dir("mnist") == tmp_path


def test_incomplete_folder_is_skipped(tmp_path, monkeypatch):
    folder = _link_files(tmp_path / "mnist", ROOT / "data" / "mnist")
    (folder / LABELS_GZ).unlink()
    monkeypatch.setenv("APCORE_DATA_DIR", str(tmp_path))
    assert find_dataset_dir("mnist") == ROOT / "data" / "mnist"


@pytest.mark.skipif(not SHARED_FASHION.is_dir(), reason="../shared/data/fashion-mnist is not here")
def test_fashion_found_via_env(monkeypatch):
    monkeypatch.setenv("APCORE_DATA_DIR", str(SHARED_FASHION.parent))
    assert find_dataset_dir("fashion-mnist") == SHARED_FASHION
    d = load_dataset("fashion-mnist")
    assert d.train_images.shape == (60000, 28, 28) and d.test_images.shape == (10000, 28, 28)
    assert set(d.test_labels.unique().tolist()) == set(range(10))
    assert d.class_names[0] == "T-shirt/top" and len(d.class_names) == 10
    assert not torch.equal(d.test_images[:100], load_dataset("mnist").test_images[:100])


def test_fashion_nowhere_gives_one_clear_message(tmp_path, monkeypatch):
    if any(Path("/usr/share/datasets/fashion-mnist").glob("*idx*")):
        pytest.skip("Debian's dataset-fashion-mnist is installed here")
    monkeypatch.setenv("APCORE_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "repo-data")
    downloads = []
    monkeypatch.setattr(data, "_download_fashion", lambda target: downloads.append(target))  # offline
    with pytest.raises(DataError) as info:
        find_dataset_dir("fashion-mnist")
    message = str(info.value)
    assert downloads == [tmp_path / "repo-data" / "fashion-mnist"]
    assert "\n" not in message
    assert message.startswith("fashion-mnist not found")
    for stem in data.FILES.values():
        assert f"{stem}.gz" in message
    for folder in (tmp_path / "env" / "fashion-mnist", tmp_path / "env", tmp_path / "repo-data" / "fashion-mnist",
                   Path("/usr/share/datasets/fashion-mnist")):
        assert str(folder) in message
    assert "APCORE_DATA_DIR" in message


def test_mnist_nowhere_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("APCORE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "repo-data")
    monkeypatch.setattr(data, "_download_fashion", lambda target: pytest.fail("download attempted"))
    with pytest.raises(DataError, match="mnist not found"):
        find_dataset_dir("mnist")


def test_fashion_not_downloaded_unless_asked_for(tmp_path, monkeypatch):
    # What a page uses without being asked (the anomaly page's out-of-distribution group) waits
    # for no network: the same clear error, no download tried.
    monkeypatch.setenv("APCORE_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "repo-data")
    monkeypatch.setattr(data, "candidate_dirs", lambda name: [tmp_path / "env" / name])
    monkeypatch.setattr(data, "_download_fashion", lambda target: pytest.fail("download attempted"))
    with pytest.raises(DataError, match="fashion-mnist not found"):
        find_dataset_dir("fashion-mnist", download=False)
    with pytest.raises(DataError, match="fashion-mnist not found"):
        load_dataset("fashion-mnist", download=False)


def test_failed_download_returns_none(tmp_path, monkeypatch, caplog):
    datasets = pytest.importorskip("torchvision.datasets")

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(datasets, "FashionMNIST", offline)
    # __wrapped__: past the once-per-process cache, so no earlier result is reused.
    with caplog.at_level(logging.INFO, logger=data.__name__):
        assert data._download_fashion.__wrapped__(tmp_path / "fashion-mnist") is None
    assert "network is unreachable" in caplog.text and "going on without it" in caplog.text
    assert all(r.levelno < logging.WARNING for r in caplog.records)  # offline is no fault: no alarm in the log


# -- verification ------------------------------------------------------------------------------
@pytest.fixture
def mnist_copy(tmp_path, monkeypatch):
    """A private copy of MNIST that the data loader finds first."""
    folder = tmp_path / "mnist"
    shutil.copytree(find_dataset_dir("mnist"), folder)
    monkeypatch.setenv("APCORE_DATA_DIR", str(tmp_path))
    assert find_dataset_dir("mnist") == folder
    return folder


def test_copy_loads(mnist_copy):
    assert torch.equal(load_dataset("mnist").test_labels[:50], torch.from_numpy(
        read_idx(mnist_copy / "t10k-labels-idx1-ubyte.gz")[:50]))


def test_truncated_file_named(mnist_copy):
    path = mnist_copy / LABELS_GZ
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="SHA-256") as info:
        load_dataset("mnist")
    assert str(path) in str(info.value)


def test_corrupted_file_named(mnist_copy):
    path = mnist_copy / "t10k-images-idx3-ubyte.gz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="corrupt") as info:
        load_dataset("mnist")
    assert str(path) in str(info.value)


def test_truncated_gzip_without_checksums_named(mnist_copy):
    (mnist_copy / "SHA256SUMS").unlink()
    path = mnist_copy / LABELS_GZ
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as info:
        load_dataset("mnist")
    assert str(path) in str(info.value)


def test_short_plain_idx_without_checksums_named(mnist_copy):
    (mnist_copy / "SHA256SUMS").unlink()
    gz = mnist_copy / LABELS_GZ
    plain = mnist_copy / "train-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress(gz.read_bytes())[:-1])
    gz.unlink()
    with pytest.raises(DataError, match="truncated or padded") as info:
        load_dataset("mnist")
    assert str(plain) in str(info.value)


def test_label_count_mismatch(mnist_copy):
    (mnist_copy / "SHA256SUMS").unlink()
    (mnist_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    (mnist_copy / "t10k-labels-idx1-ubyte").write_bytes(idx_labels(np.arange(5) % 10))
    with pytest.raises(DataError, match="counts differ"):
        load_dataset("mnist")


# -- read_idx on hand-made files ---------------------------------------------------------------
def test_read_idx_images_and_labels(tmp_path):
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 8, 9], dtype=np.uint8)
    (tmp_path / "img").write_bytes(idx_images(images))
    (tmp_path / "lab.gz").write_bytes(gzip.compress(idx_labels(labels)))
    got = read_idx(tmp_path / "img")
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(read_idx(tmp_path / "lab.gz"), labels)
    got[0, 0, 0] = 99  # a writable copy, not a view of the file's bytes
    assert read_idx(tmp_path / "img")[0, 0, 0] == 0


def test_read_idx_checksum(tmp_path):
    blob = idx_labels(np.array([1, 2, 3]))
    path = tmp_path / "lab"
    path.write_bytes(blob)
    np.testing.assert_array_equal(read_idx(path, hashlib.sha256(blob).hexdigest()), [1, 2, 3])
    with pytest.raises(DataError, match="SHA-256"):
        read_idx(path, "0" * 64)


@pytest.mark.parametrize("blob, fragment", [
    (b"", "no IDX header"),
    (struct.pack(">II", 2051, 1), "incomplete IDX header"),
    (struct.pack(">II", 1234, 3) + b"abc", "magic number 1234"),
    (idx_labels(np.array([1, 2, 3]))[:-1], "truncated or padded"),
    (idx_labels(np.array([1, 2, 3])) + b"\0", "truncated or padded"),
    (idx_images(np.zeros((2, 2, 2)))[:-3], "truncated or padded"),
])
def test_read_idx_rejects_bad_files(tmp_path, blob, fragment):
    path = tmp_path / "bad-idx"
    path.write_bytes(blob)
    with pytest.raises(DataError, match=fragment) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_not_gzip_and_missing(tmp_path):
    path = tmp_path / "fake.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match="not gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "missing")


# -- corruption for denoising ------------------------------------------------------------------
@pytest.fixture
def grey():
    return torch.full((64, 1, 28, 28), 0.5)


@pytest.mark.parametrize("noise", ["gaussian", "salt-pepper", "mask"])
def test_no_noise_or_zero_level_is_a_copy(grey, noise):
    for out in (corrupt(grey, "none", 0.5), corrupt(grey, noise, 0.0)):
        assert torch.equal(out, grey) and out is not grey


@pytest.mark.parametrize("noise", ["gaussian", "salt-pepper", "mask"])
@pytest.mark.parametrize("level", [0.1, 0.5, 1.0])
def test_corrupt_stays_in_range_and_leaves_input(noise, level):
    x = to_float(load_dataset("mnist").test_images[:32])
    before = x.clone()
    out = corrupt(x, noise, level, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(x, before)
    assert not torch.equal(out, x)


@pytest.mark.parametrize("level", [0.05, 0.2])
def test_gaussian_std(grey, level):
    out = corrupt(grey, "gaussian", level, torch.Generator().manual_seed(1))
    noise = out - grey  # 0.5 +- 10 sigma never clips at these levels
    assert abs(noise.std().item() - level) < 0.03 * level
    assert abs(noise.mean().item()) < 0.03 * level


@pytest.mark.parametrize("level", [0.1, 0.3, 0.8])
def test_salt_pepper_fraction(grey, level):
    out = corrupt(grey, "salt-pepper", level, torch.Generator().manual_seed(2))
    changed = out != grey
    assert abs(changed.float().mean().item() - level) < 0.02
    assert set(out[changed].unique().tolist()) <= {0.0, 1.0}
    salt = (out == 1).float().mean().item()
    assert abs(salt - level / 2) < 0.02  # half salt, half pepper


@pytest.mark.parametrize("level", [0.1, 0.3, 0.8])
def test_mask_fraction(grey, level):
    out = corrupt(grey, "mask", level, torch.Generator().manual_seed(3))
    zeroed = out == 0
    assert abs(zeroed.float().mean().item() - level) < 0.02
    assert torch.equal(out[~zeroed], grey[~zeroed])


def test_corrupt_seeded(grey):
    a = corrupt(grey, "gaussian", 0.3, torch.Generator().manual_seed(5))
    b = corrupt(grey, "gaussian", 0.3, torch.Generator().manual_seed(5))
    c = corrupt(grey, "gaussian", 0.3, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_corrupt_unknown_noise(grey):
    with pytest.raises(ConfigError, match="unknown noise"):
        corrupt(grey, "pink", 0.5)
