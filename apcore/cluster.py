"""Which representation makes the test set cluster? Pixels, PCA, AE and VAE codes, then a clustering.

A pipeline is *representation -> optional manifold step -> algorithm*, scored against the true
labels with :func:`apcore.metrics.cluster_scores` (accuracy under the Hungarian matching, NMI, ARI).

- representations: raw pixels (784 features), PCA, the AE code, the VAE mean.
- manifold step: UMAP to 10 dimensions, 20 neighbours, ``min_dist=0`` before clustering — the N2D
  recipe (McConville et al., 2020, "N2D: (Not Too) Deep Clustering via Clustering the Local
  Manifold of an Autoencoded Embedding"). Plain k-means on a briefly trained AE code reaches ~0.6
  accuracy on MNIST; the 20-d code through UMAP ~0.92 (``bench/clustering.py``). UMAP
  (``umap-learn``) is imported only when asked for: the import alone costs seconds. An embedding
  of a model's codes can be kept on disk (:func:`cached_umap`), so ``python -m apcore warm`` makes
  the page instant.
- algorithms: k-means (:func:`apcore.metrics.kmeans_labels`) and a Gaussian mixture.

Everything is fitted on the images being clustered (the test set), as k-means is: no labels used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.mixture import GaussianMixture

from .cache import TrainedModel, atomic_write
from .config import NUM_CLASSES
from .data import Dataset, to_float
from .metrics import cluster_scores, encode_images, kmeans_labels
from .models import Autoencoder

log = logging.getLogger(__name__)

REPRESENTATIONS = {"pixels": "Raw pixels", "pca": "PCA", "ae": "AE latent", "vae": "VAE latent (mean)"}
ALGORITHMS = {"kmeans": "k-means", "gmm": "Gaussian mixture"}
MANIFOLDS = {"none": "none", "umap": "UMAP (N2D)"}
# A full covariance per component costs d^2 parameters: fine for codes, singular and slow for 784
# pixels (the always-black border has zero variance). Above this many features: diagonal.
GMM_FULL_MAX_FEATURES = 64
UMAP_OPTIONS = dict(n_components=10, n_neighbors=20, min_dist=0.0)  # N2D's settings
TSNE_MAX_POINTS = 2000  # t-SNE of 2,000 points: ~5 s on 2 cores (10,000 take over a minute)
AXIS_TITLES = {"native": ("z1", "z2"), "pca": ("PC 1", "PC 2"), "tsne": ("t-SNE 1", "t-SNE 2")}  # of project_2d's methods


def test_limit() -> int:
    """``APCORE_CLUSTER_LIMIT``: cluster only the first N test images (tiny runs for tests); 0 = all."""
    return int(os.environ.get("APCORE_CLUSTER_LIMIT") or 0)


def test_split(data: Dataset) -> tuple[torch.Tensor, np.ndarray]:
    """The images that get clustered, uint8 (N, 28, 28), and their labels (N,): the test set, cut
    to :func:`test_limit`."""
    n = test_limit() or len(data.test_images)
    return data.test_images[:n], data.test_labels[:n].numpy()


@dataclass(frozen=True)
class Pipeline:
    """One way of clustering: representation, optional manifold step, algorithm, k.

    pca_components only matters for ``representation="pca"``.
    """

    representation: str = "ae"
    algorithm: str = "kmeans"
    k: int = NUM_CLASSES
    manifold: str = "none"
    pca_components: int = 10
    seed: int = 0

    def __post_init__(self):
        if self.representation != "pca":  # irrelevant then: equal pipelines get equal cache keys
            object.__setattr__(self, "pca_components", 10)
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"unknown representation {self.representation!r}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}")
        if self.manifold not in MANIFOLDS:
            raise ValueError(f"unknown manifold step {self.manifold!r}")
        if not 2 <= self.k <= 50:
            raise ValueError(f"number of clusters must lie in [2, 50], got {self.k}")
        if not 1 <= self.pca_components <= 784:
            raise ValueError(f"PCA components must lie in [1, 784], got {self.pca_components}")

    def label(self) -> str:
        """Row name for tables, e.g. ``AE latent → UMAP (N2D)`` or ``PCA (10)``."""
        name = REPRESENTATIONS[self.representation]
        if self.representation == "pca":
            name += f" ({self.pca_components})"
        if self.manifold != "none":
            name += f" → {MANIFOLDS[self.manifold]}"
        return name

    @property
    def needs_model(self) -> bool:
        """Whether the representation is a model's code (the AE's, or the VAE's mean)."""
        return self.representation in ("ae", "vae")

    @property
    def features_key(self) -> tuple:
        """What :func:`features` depends on (not the algorithm, not k): pipelines with equal keys
        cluster the same features."""
        return self.representation, self.manifold, self.pca_components, self.seed


def comparison(algorithm: str, k: int, pca_components: int, umap: bool, models: list[str]) -> list[Pipeline]:
    """The pipelines the clustering page compares, in table order: pixels, PCA, and the code of each
    representation in ``models`` (those whose model is ready), with ``umap`` those codes through
    UMAP too."""
    reps = [r for r in REPRESENTATIONS if r in ("pixels", "pca") or r in models]
    manifolds = ["none", "umap"] if umap else ["none"]
    return [Pipeline(r, algorithm, k, m, pca_components) for m in manifolds for r in reps
            if m == "none" or r in models]


# -- representations -------------------------------------------------------------------------

def features(pipeline: Pipeline, images: torch.Tensor, trained: TrainedModel | None = None,
             checkpoints: str | Path | None = None) -> np.ndarray:
    """What ``pipeline`` clusters, (N, d): its representation of the uint8 ``images`` (N, 28, 28),
    then its manifold step. ``trained``: the model whose codes an AE/VAE pipeline takes. A UMAP
    embedding of a model's codes is kept under ``checkpoints`` (:func:`cached_umap`; None: not kept),
    named by that model's own key."""
    if pipeline.representation == "pixels":
        x = pixel_features(images)
    elif pipeline.representation == "pca":
        x = pca_features(images, pipeline.pca_components, pipeline.seed)
    elif trained is None:
        raise ValueError(f"the representation {pipeline.label()!r} needs its trained model")
    else:
        x = code_features(trained.model, images)
    if pipeline.manifold == "umap":
        keep = checkpoints is not None and trained is not None
        x = cached_umap(x, embedding_path(checkpoints, trained.config.key, len(images), pipeline.seed) if keep else None,
                        pipeline.seed)
    return x


def pixel_features(images: torch.Tensor) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 array of shape (N, 784) in [0, 1]."""
    return to_float(images).reshape(len(images), -1).numpy()


def pca_features(images: torch.Tensor, n_components: int, seed: int = 0) -> np.ndarray:
    """Principal components of the pixels, fitted on ``images`` themselves: (N, n_components)."""
    return PCA(n_components=n_components, random_state=seed).fit_transform(pixel_features(images))


def code_features(model: Autoencoder, images: torch.Tensor) -> np.ndarray:
    """The model's deterministic codes (the mean for a VAE): (N, latent_dim)."""
    return encode_images(model, images)


def umap_features(features: np.ndarray, seed: int = 0, **options) -> np.ndarray:
    """UMAP embedding of ``features`` (N, d) -> (N, 10) with N2D's settings unless overridden.

    Seeded, hence single-threaded (umap-learn ignores ``n_jobs`` with a ``random_state``)."""
    try:
        import umap  # noqa: PLC0415 - heavy (numba); only when the manifold step is asked for
    except ImportError:
        raise RuntimeError("the UMAP step needs the package umap-learn (pip install umap-learn)") from None
    import warnings

    opts = {**UMAP_OPTIONS, **options}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        return umap.UMAP(random_state=seed, **opts).fit_transform(features).astype(np.float32)


def embedding_path(checkpoints: str | Path, model_key: str, n: int, seed: int = 0) -> Path:
    """Where :func:`cached_umap` keeps the UMAP embedding of a model's codes of ``n`` test images,
    in ``embeddings/`` under the checkpoint folder: the name hashes the model's key, n, the seed and
    the UMAP options (any change -> a new file)."""
    spec = json.dumps([model_key, n, seed, UMAP_OPTIONS], sort_keys=True).encode()
    return Path(checkpoints) / "embeddings" / f"umap-{hashlib.sha256(spec).hexdigest()[:32]}.npy"


def cached_umap(features: np.ndarray, path: str | Path | None, seed: int = 0) -> np.ndarray:
    """:func:`umap_features` of ``features`` (N, d), read from ``path`` when there, else computed and
    written there atomically. A file that cannot be read or has the wrong shape is recomputed."""
    if path is not None:
        path = Path(path)
        try:
            x = np.load(path, allow_pickle=False)
            if x.shape == (len(features), UMAP_OPTIONS["n_components"]) and np.isfinite(x).all():
                return x.astype(np.float32, copy=False)
        except (OSError, ValueError, EOFError):
            pass  # absent or damaged: compute it again
    x = umap_features(features, seed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda f: np.save(f, x, allow_pickle=False))
        except OSError as exc:  # a read-only checkpoint folder: still answer, just not kept
            log.warning("could not keep the UMAP embedding in %s: %s", path, exc)
    return x


def umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


# -- algorithms ------------------------------------------------------------------------------

def cluster(features: np.ndarray, algorithm: str = "kmeans", k: int = NUM_CLASSES, seed: int = 0) -> np.ndarray:
    """Cluster ids of shape (N,) for ``features`` (N, d).

    kmeans: :func:`apcore.metrics.kmeans_labels` (k-means++, 10 restarts). gmm: a Gaussian mixture
    (EM from a k-means start), full covariances up to ``GMM_FULL_MAX_FEATURES`` features, diagonal above.
    """
    if algorithm == "kmeans":
        return kmeans_labels(features, k, seed)
    if algorithm == "gmm":
        cov = "full" if features.shape[1] <= GMM_FULL_MAX_FEATURES else "diag"
        gmm = GaussianMixture(k, covariance_type=cov, reg_covar=1e-4, random_state=seed)
        return gmm.fit_predict(features)
    raise ValueError(f"unknown algorithm {algorithm!r}")


@dataclass
class Result:
    """One pipeline run on N images: ``labels`` (N,), scores, and the seconds it took."""

    pipeline: Pipeline
    labels: np.ndarray
    scores: dict[str, float]
    seconds: float


def run(pipeline: Pipeline, x: np.ndarray, y_true: np.ndarray) -> Result:
    """Cluster ``x`` (N, d), the pipeline's :func:`features` (manifold step done), and score the
    clustering against ``y_true`` (N,)."""
    start = time.perf_counter()
    labels = cluster(x, pipeline.algorithm, pipeline.k, pipeline.seed)
    return Result(pipeline, labels, cluster_scores(y_true, labels), time.perf_counter() - start)


# -- reading a clustering ----------------------------------------------------------------------

def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int, n_classes: int = NUM_CLASSES) -> np.ndarray:
    """Counts of shape (k, n_classes): row = cluster, column = true label."""
    counts = np.zeros((k, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_pred), np.asarray(y_true)), 1)
    return counts


def cluster_order(counts: np.ndarray) -> np.ndarray:
    """Clusters sorted by their majority label (then size): a confusion matrix with a clear diagonal.

    counts : (k, n_classes) from :func:`confusion`. Returns a permutation of range(k)."""
    majority = counts.argmax(1)
    return np.lexsort((-counts.sum(1), majority))


def project_2d(features: np.ndarray, method: str = "auto", max_points: int = TSNE_MAX_POINTS,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """A 2-D view of ``features`` (N, d): points (M, 2), their row indices (M,), and the method used.

    method: "auto" (the features themselves when d = 2, else PCA), "pca", or "tsne". t-SNE runs on
    a random subsample of ``max_points`` rows (its cost grows faster than N); PCA shows all rows.
    """
    n, d = features.shape
    if method == "auto":
        method = "native" if d == 2 else "pca"
    if method == "native" or d == 2:
        return features[:, :2].astype(np.float32), np.arange(n), "native"
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(features).astype(np.float32), np.arange(n), "pca"
    if method == "tsne":
        idx = np.arange(n)
        if n > max_points:
            idx = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
        x = features[idx]
        if x.shape[1] > 50:  # the usual t-SNE preprocessing: PCA to 50 first
            x = PCA(50, random_state=seed).fit_transform(x)
        perplexity = min(30.0, (len(idx) - 1) / 3)
        points = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
        return points.astype(np.float32), idx, "tsne"
    raise ValueError(f"unknown 2-D projection {method!r}")


def cluster_centres(codes: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean code of each cluster's members: (k, d); NaN rows for empty clusters.

    Taken in the model's code space whatever the pipeline clustered in (UMAP output cannot be
    decoded), so any clustering of AE/VAE codes has centres the decoder can draw."""
    centres = np.full((k, codes.shape[1]), np.nan, dtype=np.float32)
    for c in range(k):
        members = labels == c
        if members.any():
            centres[c] = codes[members].mean(0)
    return centres


@torch.no_grad()
def decode_centres(model: Autoencoder, centres: np.ndarray) -> torch.Tensor:
    """Decoded centres (k, 1, 28, 28) in [0, 1]; an empty cluster (NaN centre) decodes to black."""
    z = torch.from_numpy(np.nan_to_num(centres, nan=0.0)).float().to(model.device)
    images = model.eval().decode(z).cpu()
    images[torch.from_numpy(np.isnan(centres).any(1))] = 0.0
    return images


def decoded_centres(model: Autoencoder, images: torch.Tensor, labels: np.ndarray, k: int) -> torch.Tensor:
    """The decoder's image of each cluster's centre, the mean code of its members among the uint8
    ``images`` (N, 28, 28) clustered as ``labels`` (N,): (k, 1, 28, 28), whatever the pipeline
    clustered in (UMAP output cannot be decoded)."""
    return decode_centres(model, cluster_centres(code_features(model, images), labels, k))


def cluster_members(labels: np.ndarray, k: int, per_cluster: int, seed: int = 0) -> np.ndarray:
    """Up to ``per_cluster`` random member indices of each cluster: (k, per_cluster), -1 = none."""
    rng = np.random.default_rng(seed)
    out = np.full((k, per_cluster), -1, dtype=np.int64)
    for c in range(k):
        idx = np.flatnonzero(labels == c)
        if len(idx):
            pick = np.sort(rng.choice(idx, min(per_cluster, len(idx)), replace=False))
            out[c, :len(pick)] = pick
    return out
