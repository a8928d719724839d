"""apcore.metrics: scores against scikit-learn and scikit-image, and the stored metric names."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, roc_auc_score

from apcore import metrics, models
from apcore.config import ModelConfig
from apcore.data import corrupt, load_dataset, to_float
from apcore.metrics import auroc, cluster_accuracy, cluster_scores, evaluate, psnr
from apcore.train import fit

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


# -- clustering --------------------------------------------------------------------------------
def test_cluster_accuracy_under_permutation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=500)
    perm = rng.permutation(10)
    assert cluster_accuracy(y, perm[y]) == 1.0
    assert cluster_scores(y, perm[y]) == pytest.approx({"cluster_acc": 1.0, "cluster_nmi": 1.0, "cluster_ari": 1.0})


def test_cluster_accuracy_hand_computed():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [1, 1, 0, 0, 0, 2]
    # Best matching: cluster 1 -> label 0 (2 right), 0 -> 1 (2 right), 2 -> 2 (1 right): 5 of 6.
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(5 / 6)
    # Plain accuracy would be 2/6 here: the matching matters.
    assert np.mean(np.array(y_true) == np.array(y_pred)) == pytest.approx(2 / 6)


def test_cluster_accuracy_one_to_one():
    # Two clusters cannot both map to label 0: the second gets an unused label.
    assert cluster_accuracy([0, 0, 0, 0], [0, 0, 1, 1]) == pytest.approx(0.5)
    # More clusters than labels, cluster ids above every label.
    assert cluster_accuracy([0, 0, 1, 1], [7, 7, 3, 5]) == pytest.approx(0.75)


def brute_force_accuracy(y_true, y_pred):
    import itertools

    labels = sorted(set(y_true) | set(y_pred))
    best = 0
    for perm in itertools.permutations(labels):
        mapping = dict(zip(labels, perm))
        best = max(best, sum(mapping[p] == t for p, t in zip(y_pred, y_true)))
    return best / len(y_true)


def test_cluster_accuracy_against_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(20):
        y_true = rng.integers(0, 4, size=30)
        y_pred = rng.integers(0, 5, size=30)
        assert cluster_accuracy(y_true, y_pred) == pytest.approx(brute_force_accuracy(y_true.tolist(), y_pred.tolist()))


def test_cluster_scores_against_sklearn():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 10, size=400)
    y_pred = np.where(rng.random(400) < 0.6, y_true, rng.integers(0, 10, size=400))
    s = cluster_scores(y_true, y_pred)
    assert set(s) == {"cluster_acc", "cluster_nmi", "cluster_ari"}
    assert s["cluster_nmi"] == pytest.approx(normalized_mutual_info_score(y_true, y_pred))
    assert s["cluster_ari"] == pytest.approx(adjusted_rand_score(y_true, y_pred))
    assert 0.5 < s["cluster_acc"] < 1 and all(isinstance(v, float) for v in s.values())


def test_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 30)
    codes = rng.normal(size=(300, 2)) * 0.1 + np.c_[np.cos(labels), np.sin(labels)] * 10
    found = metrics.kmeans_labels(codes.astype(np.float32), 10)
    assert cluster_accuracy(labels, found) == 1.0


# -- PSNR and AUROC ----------------------------------------------------------------------------
def test_psnr_against_skimage():
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(6, 1, 28, 28, generator=gen)
    noisy = corrupt(clean, "gaussian", 0.2, gen)
    got = psnr(clean, noisy)
    assert got.shape == (6,)
    for i in range(6):
        expected = peak_signal_noise_ratio(clean[i].numpy(), noisy[i].numpy(), data_range=1.0)
        assert got[i].item() == pytest.approx(expected, rel=1e-4)
    assert torch.isfinite(psnr(clean, clean)).all()  # identical images: large but finite


def test_auroc_against_sklearn():
    rng = np.random.default_rng(4)
    normal, anomalous = rng.normal(0, 1, 80), rng.normal(1, 1, 50)
    y = np.r_[np.zeros(80), np.ones(50)]
    assert auroc(normal, anomalous) == pytest.approx(roc_auc_score(y, np.r_[normal, anomalous]))
    assert auroc(np.array([0.1, 0.2]), np.array([0.5, 0.9])) == 1.0
    assert auroc(np.array([0.5, 0.9]), np.array([0.1, 0.2])) == 0.0


# -- evaluate(): the metric names are a contract -----------------------------------------------
BASE = {"test_recon", "cluster_acc", "cluster_nmi", "cluster_ari"}
KINDS = {
    "ae": (dict(family="ae-mlp"), BASE),
    "vae": (dict(family="vae-mlp"), BASE | {"test_kl", "test_loss"}),
    "denoising": (dict(family="ae-conv", noise="gaussian", noise_level=0.5), BASE | {"psnr_noisy", "psnr_denoised"}),
    "one-class": (dict(family="ae-mlp", normal_classes=(0,)), BASE | {"auroc"}),
    "vae-denoising-one-class": (dict(family="vae-conv", noise="mask", noise_level=0.3, normal_classes=(1, 7)),
                                BASE | {"test_kl", "test_loss", "psnr_noisy", "psnr_denoised", "auroc"}),
    # 4 maps of 7x7: a 196-number code, wider than any vector code: no k-means (nothing clusters it)
    "fully-convolutional-denoising": (dict(family="ae-fconv", noise="gaussian", noise_level=0.5),
                                      {"test_recon", "psnr_noisy", "psnr_denoised"}),
}


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


def tiny_trained(mnist, **changes):
    config = ModelConfig(train_limit=512, epochs=1, batch_size=64, latent_dim=4, **changes)
    torch.manual_seed(0)
    model = models.build(config)
    fit(model, config, mnist, CPU)
    return model, config


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_metric_names(kind, mnist):
    changes, names = KINDS[kind]
    model, config = tiny_trained(mnist, **changes)
    m = evaluate(model, config, mnist)
    assert set(m) == names
    assert all(isinstance(v, float) and np.isfinite(v) for v in m.values())
    for k in ("cluster_acc", "cluster_nmi", "auroc"):
        if k in m:
            assert 0 <= m[k] <= 1, k
    if "cluster_ari" in m:
        assert -1 <= m["cluster_ari"] <= 1
        assert m["cluster_acc"] > 0.15  # better than chance (0.1 + a margin) after a little training
    assert 0 < m["test_recon"] < 784 * np.log(2) * 1.2
    if config.is_vae:
        assert m["test_kl"] > 0
        assert m["test_loss"] == pytest.approx(m["test_recon"] + m["test_kl"])
    if config.is_denoising:
        assert 0 < m["psnr_noisy"] < 60 and 0 < m["psnr_denoised"] < 60
    if config.is_one_class:
        assert m["auroc"] > 0.5  # normal classes reconstruct better than the rest


def test_evaluate_test_recon_against_bce(mnist):
    model, config = tiny_trained(mnist, family="ae-mlp")
    m = evaluate(model, config, mnist)
    x = to_float(mnist.test_images)
    with torch.no_grad():
        logits = model(x).double()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, x.double(), reduction="sum") / len(x)
    assert m["test_recon"] == pytest.approx(expected.item(), rel=1e-4)


def test_evaluate_psnr_against_skimage(mnist):
    model, config = tiny_trained(mnist, family="ae-mlp", noise="salt-pepper", noise_level=0.2)
    m = evaluate(model, config, mnist)
    # Rebuild the fixed corruption of the test set the way evaluate() documents it.
    gen = torch.Generator().manual_seed(metrics.NOISE_SEED)
    noisy, out, clean_all = [], [], []
    for i in range(0, len(mnist.test_images), metrics.EVAL_BATCH):
        clean = to_float(mnist.test_images[i:i + metrics.EVAL_BATCH])
        x = corrupt(clean, config.noise, config.noise_level, gen)
        # (evaluate() also calls loss_terms with gen, which draws nothing for a plain AE)
        with torch.no_grad():
            out.append(model.reconstruct(x))
        noisy.append(x)
        clean_all.append(clean)
    clean, noisy, out = torch.cat(clean_all), torch.cat(noisy), torch.cat(out)
    idx = range(0, len(clean), 997)  # a sample is enough for the oracle
    expected_noisy = np.mean([peak_signal_noise_ratio(clean[i].numpy(), noisy[i].numpy(), data_range=1.0) for i in idx])
    got_noisy = psnr(clean[list(idx)], noisy[list(idx)]).mean().item()
    assert got_noisy == pytest.approx(expected_noisy, rel=1e-4)
    assert m["psnr_noisy"] == pytest.approx(psnr(clean, noisy).mean().item(), rel=1e-5)
    assert m["psnr_denoised"] == pytest.approx(psnr(clean, out).mean().item(), rel=1e-5)


@pytest.mark.parametrize("config", [
    ModelConfig(family="ae-conv", latent_dim=5),
    ModelConfig(family="vae-mlp", latent_dim=20),
    ModelConfig(family="ae-fconv", latent_dim=8, noise="gaussian", noise_level=0.5),
], ids=lambda c: c.family)
def test_evaluate_gives_the_same_figures_whatever_its_pass_size(mnist, monkeypatch, config):
    # EVAL_BATCH is a speed setting only (page faults of large passes): the figures stay, up to the
    # order of float sums. Noise drawn per pass (the test set's Gaussian corruption, a VAE's z) is the
    # same stream when a pass draws a multiple of 16 numbers, as these do; the 2-D VAE's z (1,000
    # a pass) is drawn otherwise, so its sampled test loss moves with the pass size (~0.1).
    torch.manual_seed(0)
    model = models.build(config).requires_grad_(False)
    small = evaluate(model, config, mnist)
    monkeypatch.setattr(metrics, "EVAL_BATCH", 2000)
    large = evaluate(model, config, mnist)
    assert small.keys() == large.keys()
    assert small == pytest.approx(large, rel=1e-4)


def test_evaluate_auroc_against_sklearn(mnist):
    model, config = tiny_trained(mnist, family="ae-mlp", normal_classes=(1,))
    m = evaluate(model, config, mnist)
    errors = metrics.reconstruction_errors(model, mnist.test_images)
    assert errors.shape == (10000,)
    y = (mnist.test_labels != 1).numpy().astype(int)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, errors))


def test_encode_images(mnist):
    model, _ = tiny_trained(mnist, family="vae-mlp")
    codes = metrics.encode_images(model, mnist.test_images[:2500])  # spans two eval batches
    assert codes.shape == (2500, 4)
    with torch.no_grad():
        mu = model.encode(to_float(mnist.test_images[:2500]))[0]
    np.testing.assert_allclose(codes, mu.numpy(), rtol=1e-5, atol=1e-5)
