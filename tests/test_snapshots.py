"""apcore.snapshots: the training replay's frames, what they hold, their size, their 2-D view."""

import io
import json
import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from apcore import defaults, models
from apcore.cache import ModelStore
from apcore.config import ModelConfig
from apcore.data import load_dataset, to_float
from apcore.defaults import denoiser_config
from apcore.explore import first_of_each_class
from apcore.snapshots import (FRAMES, MAX_BYTES, MAX_CODE_DIMS, SAMPLE_SIZE, Frame, Snapshots, Snapshotter,
                              frame_points, replay_frames, sample_indices, snapshot_steps)
from apcore.train import fit, mean_image, training_images

CPU = torch.device("cpu")
F16_ATOL = 2e-3  # float16 keeps ~3 decimal digits; values here lie in [0, 1] or are small codes

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


def tiny(**changes) -> ModelConfig:
    # 1,000 images at batch 64: 15 steps, enough for all 12 frames
    return ModelConfig(**{"family": "ae-mlp", "train_limit": 1000, "epochs": 1, "batch_size": 64, **changes})


@pytest.fixture(scope="module")
def trained_ae(tmp_path_factory):
    """A 2-D MLP autoencoder trained through the store, with the frames it sent live."""
    live = []
    store = ModelStore(tmp_path_factory.mktemp("ae"), device="cpu")
    return store, store.get_or_train(tiny(), on_snapshot=live.append), live


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory):
    """A 20-d VAE: more code dimensions than a record keeps."""
    store = ModelStore(tmp_path_factory.mktemp("vae"), device="cpu")
    return store.get_or_train(tiny(family="vae-mlp", latent_dim=20))


# -- steps -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("total", [1, 2, 5, 11, 12, 15, 100, 940, 3276, 14040])
def test_steps_log_spaced_from_zero_to_the_end(total):
    steps = snapshot_steps(total)
    assert steps[0] == 0 and steps[-1] == total
    assert len(steps) == min(FRAMES, total + 1)
    assert all(a < b for a, b in zip(steps, steps[1:]))
    if total >= 100:  # log-spaced: each step about the same factor after the one before
        ratios = [b / a for a, b in zip(steps[2:], steps[3:])]
        expected = (total / steps[2]) ** (1 / (len(steps) - 3))
        assert all(abs(math.log(r / expected)) < 0.35 for r in ratios), (steps, ratios)


def test_sample_is_fixed_for_every_model(mnist):
    a = sample_indices(len(mnist.test_images))
    assert len(a) == SAMPLE_SIZE and np.array_equal(a, sample_indices(10000))
    assert np.all(np.diff(a) > 0) and a.max() < 10000
    assert len(np.unique(mnist.test_labels[a].numpy())) == 10


# -- what a training records -------------------------------------------------------------------------
def test_twelve_frames_float16_step_zero_first(trained_ae, mnist):
    _, trained, _ = trained_ae
    s = trained.snapshots
    total = 1000 // 64
    assert list(s.steps) == snapshot_steps(total) and len(s) == FRAMES and s.steps[0] == 0
    assert np.allclose(s.epochs, s.steps / total)
    assert s.reconstructions.dtype == s.codes.dtype == s.inputs.dtype == np.float16
    assert s.reconstructions.shape == (FRAMES, 10, 1, 28, 28)
    assert s.codes.shape == (FRAMES, SAMPLE_SIZE, 2) and s.code_size == 2 and not s.compressed
    assert np.array_equal(s.digits, first_of_each_class(mnist.test_labels))
    assert np.array_equal(s.labels, mnist.test_labels[s.sample].numpy())
    assert [set(row) for row in s.losses] == [{"loss", "recon"}] * FRAMES
    assert s.losses[-1]["loss"] < s.losses[0]["loss"]  # it learned


def test_first_frame_untrained_last_frame_is_the_trained_model(trained_ae, mnist):
    _, trained, _ = trained_ae
    s, model = trained.snapshots, trained.model
    assert not np.allclose(s.reconstructions[0], s.reconstructions[-1], atol=0.05)
    assert not np.allclose(s.codes[0], s.codes[-1], atol=0.05)
    x = to_float(mnist.test_images[s.digits])
    assert np.allclose(s.inputs, x.numpy(), atol=F16_ATOL)
    with torch.no_grad():
        recon = model.reconstruct(x).numpy()
        codes = model.embed(to_float(mnist.test_images[s.sample])).numpy()
    assert np.allclose(s.reconstructions[-1], recon, atol=F16_ATOL)
    assert np.allclose(s.codes[-1], codes, rtol=2e-3, atol=F16_ATOL)


def test_first_frame_is_the_freshly_initialised_model(trained_ae, mnist):
    _, trained, _ = trained_ae
    torch.manual_seed(trained.config.seed)  # as the store does before building
    fresh = models.build(trained.config).eval()
    assert trained.config.family in defaults.DATA_START  # so it starts from its images' mean
    fresh.start_from(mean_image(training_images(trained.config, mnist)))
    with torch.no_grad():
        recon = fresh.reconstruct(to_float(mnist.test_images[trained.snapshots.digits])).numpy()
    assert np.allclose(trained.snapshots.reconstructions[0], recon, atol=F16_ATOL)


def test_live_frames_are_the_stored_ones(trained_ae):
    _, trained, live = trained_ae
    s = trained.snapshots
    assert [f.step for f in live] == list(s.steps)
    assert all(isinstance(f, Frame) and f.total_steps == s.steps[-1] for f in live)
    for i, f in enumerate(live):
        assert np.array_equal(f.codes, s.codes[i]) and np.array_equal(f.reconstructions, s.reconstructions[i])
        assert f.losses == s.losses[i]
    again = Frame.from_message(live[-1].to_message())
    assert again.step == live[-1].step and np.array_equal(again.codes, live[-1].codes)


def test_long_codes_kept_as_principal_coordinates(trained_vae, mnist):
    s, model = trained_vae.snapshots, trained_vae.model
    assert s.compressed and s.code_size == 20
    assert s.codes.shape == (FRAMES, SAMPLE_SIZE, MAX_CODE_DIMS) and s.code_axes.shape == (MAX_CODE_DIMS, 20)
    assert {"loss", "recon", "kl"} == set(s.losses[0]) and s.losses[0]["kl"] < s.losses[-1]["kl"]
    with torch.no_grad():
        mu = model.embed(to_float(mnist.test_images[s.sample])).numpy()
    # the last frame's coordinates are the trained model's codes on its principal axes
    scale = np.abs(s.codes[-1]).max()
    assert np.allclose(s.codes[-1], (mu - s.code_mean) @ s.code_axes.T, atol=2e-3 * scale)
    # and every frame's 2-D view is what a PCA of the full codes gives (up to each axis's sign)
    view = replay_frames(s)
    full = PCA(2).fit_transform(mu)
    signs = np.sign((view.points[-1] * full).sum(0))
    assert np.allclose(view.points[-1] * signs, full, atol=5e-3 * np.abs(full).max())


def test_snapshots_leave_the_training_unchanged(mnist):
    # eval mode, no gradients, their own generator: same weights, batch-norm statistics included
    for family in ("vae-mlp", "ae-fconv"):
        config = tiny(family=family, train_limit=256, noise="gaussian", noise_level=0.3)
        weights = []
        for snap in (False, True):
            torch.manual_seed(0)
            model = models.build(config)
            fit(model, config, mnist, CPU, on_snapshot=Snapshotter(model, config, mnist, CPU, frames=3) if snap else None)
            weights.append(model.state_dict())
        for name, w in weights[0].items():
            assert torch.equal(w, weights[1][name]), (family, name)


def test_largest_default_model_fits_in_a_megabyte(mnist):
    # ae-fconv, the denoising page's CNN: the longest code (8 maps of 7x7 = 392 numbers, flattened)
    config = denoiser_config("ae-fconv").replace(train_limit=1000, epochs=1, batch_size=64)
    torch.manual_seed(0)
    model = models.build(config)
    snapshotter = Snapshotter(model, config, mnist, CPU)
    fit(model, config, mnist, CPU, on_snapshot=snapshotter)
    s = snapshotter.record()
    assert len(s) == FRAMES and s.code_size == 392 and s.codes.shape[2] == MAX_CODE_DIMS
    # a denoiser's ten digits are corrupted, the same way in every frame
    clean = to_float(mnist.test_images[s.digits]).numpy()
    assert not np.allclose(s.inputs, clean, atol=0.05)
    buffer = io.BytesIO()
    torch.save(s.to_dict(), buffer)
    assert len(buffer.getvalue()) < MAX_BYTES


# -- storage -------------------------------------------------------------------------------------
def test_in_the_pt_only_and_round_trip(trained_ae):
    store, trained, _ = trained_ae
    path = store.path_for(trained.config)
    summary = json.loads(path.with_suffix(".json").read_text())
    assert "snapshots" not in summary and "snapshots" not in trained.summary()
    assert path.with_suffix(".json").stat().st_size < 20_000
    again = ModelStore(store.root, device="cpu").get(trained.config)
    assert again.cached and again.snapshots is not trained.snapshots
    a, b = trained.snapshots, again.snapshots
    for name in ("steps", "epochs", "digits", "inputs", "reconstructions", "sample", "labels", "codes"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.losses == b.losses and a.code_size == b.code_size and b.code_axes is None


def test_round_trip_of_compressed_codes(trained_vae):
    s = trained_vae.snapshots
    again = Snapshots.from_dict(torch.load(_saved(s.to_dict()), weights_only=True))
    assert np.array_equal(again.code_axes, s.code_axes) and np.array_equal(again.code_mean, s.code_mean)
    assert np.array_equal(again.codes, s.codes)


def test_inconsistent_record_refused(trained_ae):
    d = trained_ae[1].snapshots.to_dict()
    with pytest.raises(ValueError, match="inconsistent"):
        Snapshots.from_dict({**d, "labels": d["labels"][:5]})


def _saved(obj) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


# -- the 2-D views ---------------------------------------------------------------------------------
def test_replay_of_a_2d_code_is_the_code_on_shared_axes(trained_ae):
    s = trained_ae[1].snapshots
    view = replay_frames(s)
    assert view.points.shape == (FRAMES, SAMPLE_SIZE, 2) and view.axis_titles == ("z1", "z2")
    assert np.array_equal(view.points, s.codes.astype(np.float32)) and np.array_equal(view.labels, s.labels)
    inside = ((view.points[..., 0] >= view.x_range[0]) & (view.points[..., 0] <= view.x_range[1])
              & (view.points[..., 1] >= view.y_range[0]) & (view.points[..., 1] <= view.y_range[1]))
    assert inside.mean() > 0.99


def test_replay_of_a_longer_code_uses_the_last_frames_pca():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((4, 300, 5)).astype(np.float16)
    s = Snapshots(np.arange(4), np.arange(4, dtype=np.float32), [{}] * 4, np.arange(10),
                  np.zeros((10, 1, 28, 28), np.float16), np.zeros((4, 10, 1, 28, 28), np.float16),
                  np.arange(300), rng.integers(0, 10, 300).astype(np.uint8), codes, 5)
    view = replay_frames(s)
    pca = PCA(2).fit(codes[-1].astype(np.float32))
    assert view.axis_titles == ("PC 1", "PC 2")
    for i in range(4):
        assert np.allclose(view.points[i], pca.transform(codes[i].astype(np.float32)), atol=1e-5)


def test_live_frame_points(trained_ae, trained_vae):
    frame = trained_ae[2][-1]
    assert np.array_equal(frame_points(frame), frame.codes.astype(np.float32))
    long = trained_vae.snapshots.frame(3)
    assert frame_points(long).shape == (SAMPLE_SIZE, 2)
