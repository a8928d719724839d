"""One-class anomaly detection by reconstruction error.

An autoencoder trained on the normal class only reconstructs normal images well and the rest
less well, so the reconstruction error of a test image is its anomaly score (higher = more
anomalous). Here: per-pixel error maps, scores for the MNIST test set and for out-of-distribution
groups (Fashion-MNIST, pure noise), and the metrics at a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import ModelConfig
from .data import NOISE_SEED, Dataset, to_float
from .metrics import auroc, batched, reconstruction_errors
from .models import Autoencoder

# Per-pixel error measures; an image's score is the sum over its 784 pixels.
MEASURES = {
    "bce": "binary cross-entropy",
    "mse": "squared error",
    "l1": "absolute error",
}


def pixel_errors(recon: torch.Tensor, x: torch.Tensor, measure: str = "bce") -> torch.Tensor:
    """Per-pixel error of ``recon`` against ``x``: (B, 1, 28, 28) x 2 -> (B, 1, 28, 28)."""
    if measure == "bce":
        # same clamp as metrics.reconstruction_errors, so the sums agree with it
        return F.binary_cross_entropy(recon.clamp(1e-6, 1 - 1e-6), x, reduction="none")
    if measure == "mse":
        return (recon - x).pow(2)
    if measure == "l1":
        return (recon - x).abs()
    raise ValueError(f"unknown error measure {measure!r}; choose one of {', '.join(MEASURES)}")


@torch.no_grad()
def anomaly_scores(model: Autoencoder, images: torch.Tensor, measure: str = "bce") -> np.ndarray:
    """Score of each image (N of them, uint8 or float): its reconstruction error summed over pixels, (N,)."""
    if measure not in MEASURES:
        raise ValueError(f"unknown error measure {measure!r}; choose one of {', '.join(MEASURES)}")
    if measure == "bce":
        return reconstruction_errors(model, images)
    return torch.cat(batched(model, images, lambda m, x: pixel_errors(m.reconstruct(x), x, measure)
                             .flatten(1).sum(1).cpu())).numpy()


@torch.no_grad()
def reconstruct_with_errors(model: Autoencoder, images: torch.Tensor,
                            measure: str = "bce") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Originals, reconstructions and per-pixel error maps of a few uint8 or float images,
    each (B, 1, 28, 28) float on the CPU."""
    model.eval()
    x = to_float(images.to(model.device))
    recon = model.reconstruct(x)
    return x.cpu(), recon.cpu(), pixel_errors(recon, x, measure).cpu()


def noise_images(n: int, seed: int = NOISE_SEED) -> torch.Tensor:
    """Pure noise as uint8 images (n, 28, 28): every pixel uniform in 0..255."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)


@dataclass(frozen=True)
class ScoredTestSet:
    """Anomaly scores of the MNIST test set and of the out-of-distribution groups.

    scores : (N,) scores of the test images; labels : (N,) their digits;
    normal : (N,) bool, True for the normal classes; extra : group name -> (M,) scores.
    """

    scores: np.ndarray
    labels: np.ndarray
    normal: np.ndarray
    extra: dict[str, np.ndarray]

    @property
    def auroc(self) -> float:
        """Normal test digits against the held-out digits."""
        return auroc(self.scores[self.normal], self.scores[~self.normal])

    def auroc_against(self, group: str) -> float:
        """Normal test digits against one out-of-distribution group."""
        return auroc(self.scores[self.normal], self.extra[group])


def score_test_set(model: Autoencoder, config: ModelConfig, data: Dataset,
                   extra: dict[str, torch.Tensor] | None = None, measure: str = "bce") -> ScoredTestSet:
    """Score every test image of ``data`` and each extra group of uint8 images (M, 28, 28)."""
    labels = data.test_labels.numpy()
    return ScoredTestSet(
        scores=anomaly_scores(model, data.test_images, measure),
        labels=labels,
        normal=np.isin(labels, config.normal_classes),
        extra={name: anomaly_scores(model, imgs, measure) for name, imgs in (extra or {}).items()},
    )


def threshold_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict[str, float]:
    """Flag ``scores > threshold`` as anomalous; compare with ``is_anomaly`` (the positive class).

    Returns tp, fp, tn, fn (counts), precision, recall, f1 and accuracy; precision of no flags is 0
    (scikit-learn's ``zero_division=0``).
    """
    flagged = np.asarray(scores) > threshold
    truth = np.asarray(is_anomaly, dtype=bool)
    tp = int(np.sum(flagged & truth))
    fp = int(np.sum(flagged & ~truth))
    fn = int(np.sum(~flagged & truth))
    tn = int(np.sum(~flagged & ~truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "precision": precision, "recall": recall,
            "f1": f1, "accuracy": (tp + tn) / max(1, len(truth))}


def roc(scores_normal: np.ndarray, scores_anomalous: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds (scikit-learn's ``roc_curve``)."""
    from sklearn.metrics import roc_curve  # ~1.5 s to import: not on the page's first draw

    y = np.r_[np.zeros(len(scores_normal)), np.ones(len(scores_anomalous))]
    fpr, tpr, thresholds = roc_curve(y, np.r_[scores_normal, scores_anomalous], drop_intermediate=True)
    return fpr, tpr, thresholds


def best_f1_threshold(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """The threshold (a midpoint between sorted scores) with the highest F1: the slider's start."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s)
    truth = np.asarray(is_anomaly, dtype=bool)[order]
    tp = np.cumsum(truth)            # flag the k highest scores, k = 1..N
    fp = np.cumsum(~truth)
    fn = truth.sum() - tp
    f1 = 2 * tp / np.maximum(1, 2 * tp + fp + fn)
    # only cut between distinct scores
    ss = s[order]
    valid = np.r_[ss[:-1] > ss[1:], True]
    k = int(np.argmax(np.where(valid, f1, -1)))
    return float((ss[k] + ss[k + 1]) / 2) if k + 1 < len(ss) else float(ss[k] - 1e-6)


def extremes(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` most and the ``k`` least anomalous scores (most first, least first)."""
    order = np.argsort(scores, kind="stable")
    return order[::-1][:k], order[:k]
