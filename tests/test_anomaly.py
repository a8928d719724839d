"""apcore.anomaly: threshold metrics and ROC against scikit-learn; scores against apcore.metrics."""

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score, roc_curve

from apcore import anomaly, models
from apcore.config import ModelConfig
from apcore.metrics import reconstruction_errors


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.3
    s = rng.normal(size=500) + 1.5 * y
    return s, y


@pytest.mark.parametrize("threshold", [-10, -0.5, 0.0, 0.7, 1.3, 10])
def test_threshold_metrics_match_sklearn(scored, threshold):
    s, y = scored
    m = anomaly.threshold_metrics(s, y, threshold)
    pred = s > threshold
    assert m["precision"] == pytest.approx(precision_score(y, pred, zero_division=0))
    assert m["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
    assert m["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[False, True]).ravel()
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)


def test_roc_matches_sklearn(scored):
    s, y = scored
    fpr, tpr, _ = anomaly.roc(s[~y], s[y])
    ref_fpr, ref_tpr, _ = roc_curve(np.r_[np.zeros((~y).sum()), np.ones(y.sum())], np.r_[s[~y], s[y]])
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc_score(y, s))


def test_best_f1_threshold_is_best(scored):
    s, y = scored
    best = anomaly.best_f1_threshold(s, y)
    f1_best = f1_score(y, s > best)
    for t in np.unique(s):
        assert f1_score(y, s > t, zero_division=0) <= f1_best + 1e-12


def test_extremes():
    most, least = anomaly.extremes(np.array([3.0, 1.0, 5.0, 2.0]), 2)
    assert list(most) == [2, 0] and list(least) == [1, 3]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return models.build(ModelConfig(family="ae-mlp", latent_dim=4)).eval()


def test_scores_agree_with_metrics_and_maps(model):
    images = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8)
    np.testing.assert_allclose(anomaly.anomaly_scores(model, images, "bce"),
                               reconstruction_errors(model, images), rtol=1e-6)
    for measure in anomaly.MEASURES:
        x, recon, err = anomaly.reconstruct_with_errors(model, images, measure)
        assert x.shape == recon.shape == err.shape == (7, 1, 28, 28)
        np.testing.assert_allclose(anomaly.anomaly_scores(model, images, measure),
                                   err.flatten(1).sum(1).numpy(), rtol=1e-5)
    x, recon, err = anomaly.reconstruct_with_errors(model, images, "mse")
    np.testing.assert_allclose(err.numpy(), ((recon - x) ** 2).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown error measure"):
        anomaly.anomaly_scores(model, images, "psnr")


def test_noise_images_deterministic():
    a, b = anomaly.noise_images(5), anomaly.noise_images(5)
    assert a.dtype == torch.uint8 and a.shape == (5, 28, 28) and torch.equal(a, b)
