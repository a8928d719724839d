"""Test-set metrics stored with every checkpoint, and the scoring helpers the pages reuse.

Names are a contract: ``test_recon`` (BCE per image), ``test_kl`` and ``test_loss`` (VAEs),
``psnr_noisy`` / ``psnr_denoised`` in dB (denoising models), ``auroc`` (one-class models),
``cluster_acc`` / ``cluster_nmi`` / ``cluster_ari`` (k-means on the test-set codes of a model whose
code is a vector of at most :data:`MAX_CLUSTERED_CODE` numbers: not the fully convolutional
denoiser's 392-number stack of maps, which no page clusters and whose k-means took 10-15 s).
"""

from __future__ import annotations

import numpy as np
import torch

from .config import MAX_LATENT, NUM_CLASSES, ModelConfig
from .data import NOISE_SEED, Dataset, corrupt, to_float
from .models import Autoencoder

# Images per forward pass when a model runs over many (the test set, the training replay's codes).
# 500 rather than 2000: the same figures, and the convolutional models' activations (2,000 x 16 x 14
# x 14 floats: 25 MB) no longer come from fresh memory maps each pass. Measured on the 2-core CPU:
# the conv AE's evaluation 0.71-1.00 s -> 0.55-0.59 s (100,000-330,000 page faults -> ~0), the fully
# convolutional denoiser's 0.51-0.66 -> 0.41-0.47 s; the training replay's codes of 12 frames
# (chunks of 1,000 before) 0.58-0.62 -> 0.26-0.28 s.
EVAL_BATCH = 500
# k-means restarts for the cluster scores stored with every checkpoint: 3 instead of the clustering
# page's 10, whose own scores are unchanged (on 10,000 random 20-d codes: 3.7 s -> 0.7 s). These
# stored scores are a by-product shown only by the command line's listing; a model's figure may
# differ a little from the 10-restart one. scikit-learn and SciPy are imported where used: a page
# or a worker that never scores pays nothing for them (~1.5 s per process).
EVAL_RESTARTS = 3
MAX_CLUSTERED_CODE = MAX_LATENT


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy under the best one-to-one matching of clusters to labels (Hungarian algorithm).

    y_true, y_pred : int arrays of shape (n_samples,); the cluster ids need not be label ids.
    """
    from scipy.optimize import linear_sum_assignment

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = max(y_true.max(), y_pred.max()) + 1
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def cluster_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``cluster_acc`` (Hungarian), ``cluster_nmi``, ``cluster_ari`` of a clustering."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {
        "cluster_acc": cluster_accuracy(y_true, y_pred),
        "cluster_nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "cluster_ari": float(adjusted_rand_score(y_true, y_pred)),
    }


def kmeans_labels(codes: np.ndarray, k: int = NUM_CLASSES, seed: int = 0, restarts: int = 10) -> np.ndarray:
    """k-means (k-means++, ``restarts`` runs, the best kept) cluster ids of ``codes`` (n_samples, n_features)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=restarts, random_state=seed).fit_predict(codes)


def psnr(clean: torch.Tensor, other: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Peak signal-to-noise ratio per image in dB, pixels in [0, 1]: (B, ...) x 2 -> (B,)."""
    mse = (clean - other).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(eps))


def auroc(scores_normal: np.ndarray, scores_anomalous: np.ndarray) -> float:
    """Area under the ROC curve, anomalies as the positive class, higher score = more anomalous."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(scores_normal)), np.ones(len(scores_anomalous))]
    return float(roc_auc_score(y, np.r_[scores_normal, scores_anomalous]))


@torch.no_grad()
def batched(model: Autoencoder, images: torch.Tensor, fn, batch: int = EVAL_BATCH) -> list:
    """Apply ``fn(model, x)`` to float batches of ``images`` (uint8 or float, N of them) on the
    model's device."""
    model.eval()
    return [fn(model, to_float(images[i:i + batch].to(model.device))) for i in range(0, len(images), batch)]


@torch.no_grad()
def encode_images(model: Autoencoder, images: torch.Tensor) -> np.ndarray:
    """Deterministic codes (the mean, for a VAE) of uint8 images: (N, latent_dim) float array."""
    return torch.cat(batched(model, images, lambda m, x: m.embed(x).cpu())).numpy()


@torch.no_grad()
def reconstruction_errors(model: Autoencoder, images: torch.Tensor) -> np.ndarray:
    """Per-image BCE (summed over pixels) of the deterministic reconstruction: (N,) array.

    This is the anomaly score: an autoencoder trained on normal images reconstructs them best.
    """
    def err(m, x):
        return torch.nn.functional.binary_cross_entropy(m.reconstruct(x).clamp(1e-6, 1 - 1e-6), x,
                                                        reduction="none").flatten(1).sum(1).cpu()
    return torch.cat(batched(model, images, err)).numpy()


@torch.no_grad()
def evaluate(model: Autoencoder, config: ModelConfig, data: Dataset) -> dict[str, float]:
    """Every test-set metric that applies to ``config``, as plain floats, computed where the model is."""
    device = model.device
    images, labels = data.test_images, data.test_labels
    gen = torch.Generator(device=device).manual_seed(NOISE_SEED)
    sums: dict[str, float] = {}
    psnr_noisy, psnr_out = [], []
    for i in range(0, len(images), EVAL_BATCH):
        clean = to_float(images[i:i + EVAL_BATCH].to(device))
        x = corrupt(clean, config.noise, config.noise_level, gen) if config.is_denoising else clean
        if config.is_denoising:
            terms, out = model.terms_and_reconstruction(x, clean, gen)
            psnr_noisy.append(psnr(clean, x).cpu())
            psnr_out.append(psnr(clean, out).cpu())
        else:
            terms = model.loss_terms(x, clean, gen)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.sum())
    n = len(images)
    metrics = {"test_recon": sums["recon"] / n}
    if config.is_vae:
        metrics["test_kl"] = sums["kl"] / n
        metrics["test_loss"] = metrics["test_recon"] + metrics["test_kl"]
    if config.is_denoising:
        metrics["psnr_noisy"] = float(torch.cat(psnr_noisy).mean())
        metrics["psnr_denoised"] = float(torch.cat(psnr_out).mean())
    if config.is_one_class:
        errors = reconstruction_errors(model, images)
        normal = np.isin(labels.numpy(), config.normal_classes)
        metrics["auroc"] = auroc(errors[normal], errors[~normal])
    if model.code_size <= MAX_CLUSTERED_CODE:
        codes = encode_images(model, images)
        metrics.update(cluster_scores(labels.numpy(), kmeans_labels(codes, NUM_CLASSES, restarts=EVAL_RESTARTS)))
    return metrics
