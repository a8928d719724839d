"""Which representation makes the test set cluster? Pixels, PCA, AE and VAE codes, then a clustering.

A pipeline is *representation -> optional manifold step -> algorithm*, scored against the true
labels with :func:`apcore.metrics.cluster_scores` (accuracy under the Hungarian matching, NMI, ARI).

- representations: raw pixels (784 features), PCA, the AE code, the VAE mean.
- manifold step: UMAP to 10 dimensions, ``min_dist=0`` before clustering — the N2D recipe
  (McConville et al., 2020, "N2D: (Not Too) Deep Clustering via Clustering the Local Manifold of an
  Autoencoded Embedding"), on a graph of 10 neighbours rather than N2D's 20 (:data:`UMAP_OPTIONS`).
  Plain k-means on a briefly trained AE code reaches ~0.6 accuracy on MNIST (``bench/clustering.py``);
  the 20-d code through UMAP ~0.95 (``bench/umap_options.py``).
- algorithms: k-means (:func:`apcore.metrics.kmeans_labels`) and a Gaussian mixture.

Everything is fitted on the images being clustered (the test set), as k-means is: no labels used.

What a first visit of the page must not wait for: UMAP's embedding of a model's codes and every
clustering are kept on disk beside the checkpoints (:func:`cached_umap`, :func:`cached_result`);
``python -m apcore warm`` and the training worker compute the page's default view ahead
(:func:`keep_page_view`). umap-learn and scikit-learn are imported where used (seconds each), and
numba keeps umap-learn's compiled functions on disk (:func:`keep_umap_compiled`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .cache import StoreClosedError, TrainedModel, atomic_write
from .config import NUM_CLASSES
from .data import Dataset, load_dataset, to_float
from .explore import Pca
from .metrics import cluster_scores, encode_images, kmeans_labels
from .models import Autoencoder
from .train import Cancelled

log = logging.getLogger(__name__)

REPRESENTATIONS = {"pixels": "Raw pixels", "pca": "PCA", "ae": "AE latent", "vae": "VAE latent (mean)"}
ALGORITHMS = {"kmeans": "k-means", "gmm": "Gaussian mixture"}
MANIFOLDS = {"none": "none", "umap": "UMAP (N2D)"}
# A full covariance per component costs d^2 parameters: fine for codes, singular and slow for 784
# pixels (the always-black border has zero variance). Above this many features: diagonal.
GMM_FULL_MAX_FEATURES = 64
# After UMAP, EM runs from this many k-means starts and keeps the likeliest. UMAP's embedding is
# tight blobs, and one run can merge two digits and split a third: on the embeddings of the
# clustering AE's codes (training seeds 0-2), one run: accuracy 0.964 / 0.962 / 0.819; the best of
# 2-5: seed 2 0.962 (0.1-0.3 s in all); the 20-d VAE's mean through UMAP: 0.822 -> 0.944. Not on
# codes or PCA, where the digits overlap: a likelier mixture was no better a clustering there
# (MNIST, PCA 10: 0.635 -> 0.596) and 5-7 s slower on the 20-d codes (bench/clustering.py). Five,
# not three, since UMAP runs 150 epochs (below): over UMAP seeds 0-4 at 150 epochs, the best of 3
# fell to 0.827 / 0.837 on two of the AE's embeddings and 0.802 on one of the VAE's (its seed 0, the
# page's); the best of 5: AE 0.959-0.962, VAE 0.948-0.951. At 250 epochs the best of 3 failed
# too, once in ten (VAE seed 4: 0.829; the best of 5 0.947). ~0.1 s more.
# Five single k-means starts still all fell in a merged basin about once in ten (the 20-d VAE's
# mean, training seeds 0-4 x UMAP seeds 0-1: 0.808 once), as each lands there about half the time;
# the likelihood itself ranks the clusters right (log-likelihood per point 16.65 for the digits
# against 16.34 merged). So EM also runs from the partition of the page's k-means row (its 10
# k-means++ runs), and the likelier of the two is kept: six such failures (0.808-0.842; five of
# clustering AEs of shorter budgets, one of the VAE) became 0.945-0.962, each above its k-means row;
# where k-means itself merged two digits (0.804), the restarts' likelier mixture (0.957) stays.
# 0.15-0.35 s more (the k-means and one EM run; Intel Xeon, 10,000 points). All of this on N2D's graph
# of 20 neighbours; on today's 10 (UMAP_OPTIONS, below) k-means itself merged none in 100 fits.
GMM_RESTARTS = 5
GMM_REG = 1e-4  # added to the covariances' diagonal (scikit-learn's reg_covar)
# N2D's settings (10 components, 20 neighbours, min_dist 0) with 150 epochs instead of umap-learn's
# 500 for 10,000 points: UMAP's time is its epochs (one thread: seeded). Measured on the clustering
# AE's codes (an older AE, AMD EPYC), k-means accuracy / NMI over five UMAP seeds: 500 epochs 0.921 /
# 0.863, 250: 0.921 / 0.862 in half the time (6.3 s against 11.9 s), 200: 0.920 / 0.861, 100: 0.919 /
# 0.861 (bench/umap_options.py). Today's models (training seed 0, Intel Xeon, UMAP seeds 0-4),
# 150 epochs against 250: the AE's codes k-means 0.9499-0.9515 / NMI 0.8985-0.9003 against
# 0.9505-0.9516 / 0.8989-0.9001, the 20-d VAE's mean 0.9423-0.9444 against 0.9434-0.9446, in 6.0 s
# against 9.3 s; 100 epochs: the mixture fell to 0.818 on one AE seed even from 3 starts.
# Then 10 neighbours instead of N2D's 20: fewer edges for the layout's epochs to visit. Measured (AMD
# EPYC, bench/results/umap_options.md: the page's AE and VAE at training seeds 0-9 x UMAP seeds 0-4,
# 50 fits each): the fit 2.60 s against 3.33 (0.78x); k-means after UMAP never under the floor (AE
# 0.944-0.952 / NMI 0.886-0.895, VAE 0.946-0.953 / 0.893-0.901), where 20 neighbours merged two
# digits in 10 of the 100 (0.797-0.806: the AE's training seed 8 with every UMAP seed, the VAE's
# seeds 4 and 7) and 15 in 6; 12 and 8 neighbours none either (10: the middle of that plateau). The
# mixture the same on every graph (0.952-0.953 mean).
UMAP_OPTIONS = dict(n_components=10, n_neighbors=10, min_dist=0.0, n_epochs=150)
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


@dataclasses.dataclass(frozen=True)
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
             checkpoints: str | Path | None = None, guard: Callable[[], bool] | None = None,
             should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """What ``pipeline`` clusters, (N, d): its representation of the uint8 ``images`` (N, 28, 28),
    then its manifold step. ``trained``: the model whose codes an AE/VAE pipeline takes. A UMAP
    embedding of a model's codes is kept under ``checkpoints`` (:func:`cached_umap`; None: not kept),
    named by that model's :func:`model_identity` (read back without encoding the images); ``guard`` as in
    :func:`apcore.cache.atomic_write`; ``should_stop`` as in :func:`umap_features`."""
    path = None
    if pipeline.manifold == "umap" and checkpoints is not None and trained is not None:
        path = embedding_path(checkpoints, model_identity(trained), len(images), pipeline.seed)
        if (kept := read_embedding(path, len(images))) is not None:
            return kept
    if pipeline.representation == "pixels":
        x = pixel_features(images)
    elif pipeline.representation == "pca":
        x = pca_features(images, pipeline.pca_components, pipeline.seed)
    elif trained is None:
        raise ValueError(f"the representation {pipeline.label()!r} needs its trained model")
    else:
        x = code_features(trained.model, images)
    if pipeline.manifold == "umap":
        x = cached_umap(x, path, pipeline.seed, guard, should_stop)
    return x


def pixel_features(images: torch.Tensor) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 array of shape (N, 784) in [0, 1]."""
    return to_float(images).reshape(len(images), -1).numpy()


def pca_features(images: torch.Tensor, n_components: int, seed: int = 0) -> np.ndarray:
    """Principal components of the pixels, fitted on ``images`` themselves: (N, n_components)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=n_components, random_state=seed).fit_transform(pixel_features(images))


def code_features(model: Autoencoder, images: torch.Tensor) -> np.ndarray:
    """The model's deterministic codes (the mean for a VAE): (N, latent_dim)."""
    return encode_images(model, images)


def umap_features(features: np.ndarray, seed: int = 0, should_stop: Callable[[], bool] | None = None,
                  **options) -> np.ndarray:
    """UMAP embedding of ``features`` (N, d) -> (N, 10) with N2D's settings unless overridden.

    Seeded, hence single-threaded (umap-learn ignores ``n_jobs`` with a ``random_state``). The
    neighbour graph is exact (:func:`nearest_neighbours`), not pynndescent's: its functions take the
    metric as an argument, so numba cannot keep them compiled and every process paid ~12 s of
    compilation; 10,000 codes take a fraction of a second exactly.

    ``should_stop``: asked before the fit and after each layout epoch (most of the time: ~30 ms an
    epoch for 10,000 codes); :class:`~apcore.train.Cancelled` is raised once it says so. umap-learn
    has no callback, but its epoch loop writes its progress bar (``tqdm_kwds``) to a file after
    every epoch, and that file asks (:class:`_AskBetweenEpochs`)."""
    try:
        import umap  # noqa: PLC0415 - heavy (numba); only when the manifold step is asked for
    except ImportError:
        raise RuntimeError("the UMAP step needs the package umap-learn (pip install umap-learn)") from None
    import warnings

    keep_umap_compiled()

    opts = {**UMAP_OPTIONS, **options}
    if should_stop is not None:
        if should_stop():
            raise Cancelled()
        opts["tqdm_kwds"] = {"disable": False, "file": _AskBetweenEpochs(should_stop), "mininterval": 0, "miniters": 1}
    knn = nearest_neighbours(features, opts["n_neighbors"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)  # no transform()
        return umap.UMAP(random_state=seed, precomputed_knn=knn, **opts).fit_transform(features).astype(np.float32)


class _AskBetweenEpochs:
    """A progress bar's output file that writes nothing and raises :class:`~apcore.train.Cancelled`
    once ``should_stop()`` says so: how :func:`umap_features` stops between layout epochs. Once
    only: the bar's closing line, written as the exception leaves the loop, passes."""

    def __init__(self, should_stop: Callable[[], bool]):
        self.should_stop, self.stopped = should_stop, False

    def write(self, text: str) -> None:
        if not self.stopped and self.should_stop():
            self.stopped = True
            raise Cancelled()

    def flush(self) -> None:
        pass


@torch.no_grad()
def nearest_neighbours(features: np.ndarray, k: int, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of each row of ``features`` (N, d) by Euclidean distance, the row
    itself first, as umap-learn's ``precomputed_knn`` takes them: indices (N, k) int64 and
    distances (N, k) float32, ascending. Exact: O(N^2 d) in float64, in batches of rows (10,000
    codes: ~0.5 s on 2 cores)."""
    x = torch.from_numpy(np.asarray(features, dtype=np.float64))
    k = min(k, len(x))
    sq = (x * x).sum(1)
    indices, distances = [], []
    for i in range(0, len(x), batch):
        rows = torch.arange(i, min(i + batch, len(x)))
        score = torch.addmm(sq[None], x[rows], x.T, alpha=-2)  # |x_j|^2 - 2 x_i.x_j: (b, N), |x_i|^2 added below
        score[torch.arange(len(rows)), rows] = -torch.inf     # itself first, even among duplicates
        top, idx = score.topk(k, largest=False)
        top[:, 0] = -sq[rows]
        indices.append(idx)
        distances.append((top + sq[rows, None]).clamp_(min=0).sqrt_())
    return torch.cat(indices).numpy(), torch.cat(distances).float().numpy()


@functools.cache
def keep_umap_compiled() -> int:
    """Let numba keep umap-learn's (and pynndescent's) compiled functions on disk; returns how many
    it now keeps.

    Both compile with ``numba.njit``, mostly without ``cache=True``: every process paid ~30 s of
    compilation on its first fit of 10,000 codes (measured: 31 s of a first fit, 5 s of the next).
    ``Dispatcher.enable_caching`` before the first call makes numba write each compiled function
    beside its source (``__pycache__``; else ``NUMBA_CACHE_DIR`` or the user's cache folder) and
    load it in the next process. Once per process, after ``import umap``."""
    import sys

    from numba.core.registry import CPUDispatcher

    count = 0
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("umap", "pynndescent") and module is not None:
            for f in list(vars(module).values()):
                if isinstance(f, CPUDispatcher) and not f.signatures and f.stats.cache_path is None:
                    f.enable_caching()  # not compiled yet (those with a signature are, at import)
                    count += 1
    return count


def model_identity(trained: TrainedModel) -> str:
    """What names a model's kept UMAP embeddings and clusterings: its config's key and when it was
    trained. The key alone is not enough: a checkpoint trained again under the same config (deleted
    and retrained, another precision, a newer trainer) has other codes."""
    return f"{trained.config.key}@{trained.created!r}"


def embedding_path(checkpoints: str | Path, model_key: str, n: int, seed: int = 0) -> Path:
    """Where :func:`cached_umap` keeps the UMAP embedding of a model's codes of ``n`` test images,
    in ``embeddings/`` under the checkpoint folder: the name hashes the model's key, n, the seed and
    the UMAP options (any change -> a new file)."""
    spec = json.dumps([model_key, n, seed, UMAP_OPTIONS], sort_keys=True).encode()
    return Path(checkpoints) / "embeddings" / f"umap-{hashlib.sha256(spec).hexdigest()[:32]}.npy"


def cached_umap(features: np.ndarray, path: str | Path | None, seed: int = 0,
                guard: Callable[[], bool] | None = None, should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """:func:`umap_features` of ``features`` (N, d), read from ``path`` when there, else computed and
    written there atomically (``guard`` False: not written; stopped by ``should_stop``: nothing
    written). A file that cannot be read or has the wrong shape is recomputed."""
    if path is not None:
        path = Path(path)
        if (kept := read_embedding(path, len(features))) is not None:
            return kept
    x = umap_features(features, seed, should_stop=should_stop)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda f: np.save(f, x, allow_pickle=False), guard)
        except (OSError, StoreClosedError) as exc:  # a read-only folder, an orphan worker: answer, keep nothing
            log.warning("could not keep the UMAP embedding in %s: %s", path, exc)
    return x


def prepare_umap() -> float:
    """Import umap-learn and load (or, the first time on a machine, compile) its numba functions
    with a tiny fit, so that the next fit pays for neither; returns the seconds it took (0 when
    umap-learn is missing). The training worker calls it once it is idle."""
    if not umap_available():
        return 0.0
    start = time.perf_counter()
    umap_features(np.random.default_rng(0).random((64, 4), dtype=np.float32), n_neighbors=5, n_epochs=5)
    return time.perf_counter() - start


def read_embedding(path: Path, n: int) -> np.ndarray | None:
    """The embedding of ``n`` points kept at ``path`` (n, 10) float32; None when absent, damaged or
    of another shape."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if x.shape == (n, UMAP_OPTIONS["n_components"]) and np.isfinite(x).all():
        return x.astype(np.float32, copy=False)
    return None


def umap_settings() -> str:
    """:data:`UMAP_OPTIONS` as a page or a table says them: ``10 dims, 10 neighbours, min_dist 0``."""
    o = UMAP_OPTIONS
    return f"{o['n_components']} dims, {o['n_neighbors']} neighbours, min_dist {o['min_dist']:g}"


def umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


# -- algorithms ------------------------------------------------------------------------------

def cluster(features: np.ndarray, algorithm: str = "kmeans", k: int = NUM_CLASSES, seed: int = 0,
            restarts: int = 1) -> np.ndarray:
    """Cluster ids of shape (N,) for ``features`` (N, d).

    kmeans: :func:`apcore.metrics.kmeans_labels` (k-means++, 10 restarts). gmm: a Gaussian mixture
    (EM from a k-means start), full covariances up to ``GMM_FULL_MAX_FEATURES`` features, diagonal
    above; with ``restarts`` > 1 the likeliest of that many runs from single k-means starts and one
    run from the partition the k-means row finds (:data:`GMM_RESTARTS`).
    """
    if algorithm == "kmeans":
        return kmeans_labels(features, k, seed)
    if algorithm == "gmm":
        from sklearn.mixture import GaussianMixture

        cov = "full" if features.shape[1] <= GMM_FULL_MAX_FEATURES else "diag"
        gmm = GaussianMixture(k, covariance_type=cov, reg_covar=GMM_REG, random_state=seed, n_init=restarts)
        if restarts == 1:
            return gmm.fit_predict(features)
        gmm.fit(features)
        start = kmeans_labels(features, k, seed)
        if np.bincount(start, minlength=k).min() > 1:  # every component has a covariance to start from
            other = GaussianMixture(k, covariance_type=cov, reg_covar=GMM_REG, random_state=seed,
                                    **gaussian_start(features, start, k, cov)).fit(features)
            gmm = max(gmm, other, key=lambda m: m.lower_bound_)
        return gmm.predict(features)
    raise ValueError(f"unknown algorithm {algorithm!r}")


def gaussian_start(features: np.ndarray, labels: np.ndarray, k: int, covariance_type: str = "full") -> dict:
    """A Gaussian mixture's starting point (scikit-learn's ``weights_init``, ``means_init``,
    ``precisions_init``) fitted to a partition of ``features`` (N, d) into ``labels`` (N,) in
    range(k), each cluster of at least two members: its share, mean and covariance (plus
    :data:`GMM_REG` on the diagonal, as EM adds); "full" or "diag" covariances."""
    x = np.asarray(features, dtype=np.float64)
    groups = [x[labels == c] for c in range(k)]
    means = np.stack([g.mean(0) for g in groups])
    if covariance_type == "diag":
        precisions = np.stack([1.0 / (g.var(0) + GMM_REG) for g in groups])
    else:
        eye = np.eye(x.shape[1])
        precisions = np.stack([np.linalg.inv(np.cov(g.T, bias=True).reshape(eye.shape) + GMM_REG * eye) for g in groups])
    return {"weights_init": np.array([len(g) for g in groups]) / len(x), "means_init": means,
            "precisions_init": precisions}


@dataclasses.dataclass
class Result:
    """One pipeline run on N images: ``labels`` (N,), scores, and the seconds it took."""

    pipeline: Pipeline
    labels: np.ndarray
    scores: dict[str, float]
    seconds: float


def restarts(pipeline: Pipeline) -> int:
    """How many EM runs ``pipeline``'s clustering keeps the best of (:data:`GMM_RESTARTS`)."""
    return GMM_RESTARTS if pipeline.algorithm == "gmm" and pipeline.manifold == "umap" else 1


def run(pipeline: Pipeline, x: np.ndarray, y_true: np.ndarray) -> Result:
    """Cluster ``x`` (N, d), the pipeline's :func:`features` (manifold step done), and score the
    clustering against ``y_true`` (N,)."""
    start = time.perf_counter()
    labels = cluster(x, pipeline.algorithm, pipeline.k, pipeline.seed, restarts(pipeline))
    return Result(pipeline, labels, cluster_scores(y_true, labels), time.perf_counter() - start)


# -- results kept on disk ----------------------------------------------------------------------
# A page's first visit on a fresh server must not cluster: the table's rows, once computed (by
# ``python -m apcore warm``, by the training worker for a new model, or by a page), are read back.

SCORE_KEYS = ("cluster_acc", "cluster_nmi", "cluster_ari")
# The clustering page before any widget moves: what warm and the worker compute ahead.
PAGE_VIEW = dict(algorithm="kmeans", k=NUM_CLASSES, pca_components=10, umap=True)


def result_path(checkpoints: str | Path, pipeline: Pipeline, dataset: str, n: int, model_key: str | None) -> Path:
    """Where :func:`cached_result` keeps ``pipeline``'s clustering of the first ``n`` test images of
    ``dataset`` (``model_key``: the model whose codes it clusters, None for pixels and PCA), in
    ``clusterings/`` under the checkpoint folder; any change to what the result depends on (UMAP's
    options and the mixture's restarts included) names another file."""
    umap = UMAP_OPTIONS if pipeline.manifold == "umap" else None
    runs = [restarts(pipeline), "k-means partition"] if restarts(pipeline) > 1 else []  # the others keep their names
    spec = json.dumps([dataclasses.asdict(pipeline), dataset, n, model_key, umap, *runs], sort_keys=True).encode()
    return Path(checkpoints) / "clusterings" / f"{pipeline.representation}-{hashlib.sha256(spec).hexdigest()[:32]}.npz"


def cached_result(pipeline: Pipeline, y_true: np.ndarray, path: str | Path | None,
                  compute_features: Callable[[], np.ndarray], guard: Callable[[], bool] | None = None) -> Result:
    """:func:`run` of ``pipeline`` on ``compute_features()`` against ``y_true`` (N,), read from ``path``
    when there (no features computed, nothing imported), else computed and written there atomically
    (``guard`` False: not written). ``seconds``: what the features (UMAP too, if computed then) and
    the clustering took when the result was computed. A damaged or mismatched file is recomputed."""
    if path is not None:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                labels, scores, seconds = f["labels"].astype(np.int64), f["scores"], float(f["seconds"])
            if labels.shape == y_true.shape and scores.shape == (len(SCORE_KEYS),) and labels.max() < pipeline.k:
                return Result(pipeline, labels, dict(zip(SCORE_KEYS, map(float, scores))), seconds)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # absent or damaged: compute it again
    start = time.perf_counter()
    x = compute_features()
    res = run(pipeline, x, y_true)
    res.seconds = time.perf_counter() - start
    if path is not None:
        blob = dict(labels=res.labels.astype(np.int16), scores=np.array([res.scores[k] for k in SCORE_KEYS]),
                    seconds=np.float64(res.seconds))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda f: np.savez(f, **blob), guard)
        except (OSError, StoreClosedError) as exc:
            log.warning("could not keep the clustering in %s: %s", path, exc)
    return res


def keep_page_view(checkpoints: str | Path, dataset: str, models: dict[str, TrainedModel], shared: bool = True,
                   guard: Callable[[], bool] | None = None, should_stop: Callable[[], bool] | None = None) -> list[Result]:
    """Compute and keep under ``checkpoints`` what the clustering page shows before any widget moves
    (:data:`PAGE_VIEW`) for ``models`` ({"ae": ..., "vae": ...}, either may be absent): the table's
    rows of their codes, with and without UMAP (the embeddings kept too), and with ``shared`` the
    pixel and PCA rows. Whatever is kept already is only read. Returns the rows in table order.
    ``should_stop``: asked before each row and between UMAP's epochs (:func:`umap_features`), raises
    :class:`~apcore.train.Cancelled` once it says so; the rows kept by then stay kept."""
    images, y = test_split(load_dataset(dataset))
    rows = []
    for p in comparison(models=list(models), **{**PAGE_VIEW, "umap": PAGE_VIEW["umap"] and umap_available()}):
        if shared or p.needs_model:
            if should_stop is not None and should_stop():
                raise Cancelled()
            trained = models.get(p.representation)
            path = result_path(checkpoints, p, dataset, len(y), model_identity(trained) if trained else None)
            compute = functools.partial(features, p, images, trained, checkpoints, guard, should_stop)
            rows.append(cached_result(p, y, path, compute, guard))
    return rows


def keep_model_view(checkpoints: str | Path, trained: TrainedModel, guard: Callable[[], bool] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> list[Result]:
    """:func:`keep_page_view` of one model alone (a VAE's mean, else an AE's code): its rows, with and
    without UMAP, on its config's data set."""
    representation = "vae" if trained.config.is_vae else "ae"
    return keep_page_view(checkpoints, trained.config.dataset, {representation: trained}, shared=False,
                          guard=guard, should_stop=should_stop)


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
        return pca_2d(features), np.arange(n), "pca"
    if method == "tsne":
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

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


def pca_2d(features: np.ndarray) -> np.ndarray:
    """The scores on the first two principal components of ``features`` (N, d), d >= 2: (N, 2) float32.

    What scikit-learn's ``PCA(2).fit_transform`` gives, without importing it (:class:`explore.Pca`)."""
    if features.ndim != 2 or features.shape[1] < 2:
        raise ValueError(f"a 2-D PCA needs at least 2 features, got shape {features.shape}")
    return Pca.fit(features, 2).transform(features)


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
