"""What the Autoencoder and VAE pages compute with a trained model: codes, projections, decodings.

Inputs and outputs are CPU tensors / NumPy arrays; the model may live on any device.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch

from .config import ModelConfig
from .data import Dataset, to_float
from .metrics import encode_images
from .models import Autoencoder, kl_per_dim


@dataclass(frozen=True)
class Pca:
    """Principal axes of some points: ``mean`` (d,) and ``axes`` (n, d), largest variance first.

    What scikit-learn's ``PCA(n).fit`` finds (its covariance solver; each axis signed so that its
    largest loading is positive; equal within float32 rounding), without importing scikit-learn
    (~1.5 s on a page's first visit)."""

    mean: np.ndarray
    axes: np.ndarray

    @classmethod
    def fit(cls, points: np.ndarray, n: int = 2) -> "Pca":
        if points.ndim != 2 or not 1 <= n <= points.shape[1]:
            raise ValueError(f"a {n}-axis PCA needs at least {n} features, got shape {points.shape}")
        x = points.astype(np.float64)
        mean = x.mean(0)
        x -= mean
        _, vectors = np.linalg.eigh(x.T @ x)         # ascending eigenvalues: (d, d)
        axes = vectors[:, ::-1][:, :n].T             # (n, d), largest variance first
        axes *= np.sign(axes[np.arange(n), np.abs(axes).argmax(1)])[:, None]
        return cls(mean.astype(np.float32), axes.astype(np.float32))

    def transform(self, points: np.ndarray) -> np.ndarray:
        """Scores on the axes: (N, d) -> (N, n) float32."""
        return ((points.astype(np.float64) - self.mean) @ self.axes.T.astype(np.float64)).astype(np.float32)


def first_of_each_class(labels: torch.Tensor, classes: int = 10) -> np.ndarray:
    """Index of the first test image of each class: a fixed, recognisable row of digits."""
    labels = labels.numpy()
    return np.array([int(np.flatnonzero(labels == c)[0]) for c in range(classes) if (labels == c).any()])


def random_indices(n_total: int, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(n_total, size=n, replace=False)


@torch.no_grad()
def reconstruct(model: Autoencoder, images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) or float (N, 1, 28, 28) -> deterministic reconstructions (N, 1, 28, 28) on the CPU."""
    return model.reconstruct(to_float(images.to(model.device))).cpu()


@torch.no_grad()
def decode(model: Autoencoder, z: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Latent points (N, latent_dim) -> images (N, 1, 28, 28) on the CPU."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(-1, model.latent_dim)
    return model.decode(z.to(model.device)).cpu()


def codes(model: Autoencoder, data: Dataset) -> np.ndarray:
    """Deterministic codes of the whole test set (the mean for a VAE): (10000, latent_dim)."""
    return encode_images(model, data.test_images)


def bottleneck_models(summaries: list[dict], config: ModelConfig) -> list[tuple[ModelConfig, float]]:
    """The cached models that differ from ``config`` only in latent size and seed, the newest per
    size (what ``ModelStore.latest`` shows for that size), with their test BCE, sorted by size:
    the bottleneck curve and its rows of reconstructions come from exactly these models."""
    fixed = {k: v for k, v in config.to_dict().items() if k not in ("latent_dim", "seed")}
    newest: dict[int, tuple[ModelConfig, float]] = {}
    for s in summaries:  # newest first
        c = s["config"]
        if all(c.get(k) == v for k, v in fixed.items()) and c["latent_dim"] not in newest:
            newest[c["latent_dim"]] = (ModelConfig.from_dict(c), s["metrics"]["test_recon"])
    return [newest[d] for d in sorted(newest)]


@torch.no_grad()
def latent_grid(model: Autoencoder, n: int = 15, span: float | None = None) -> torch.Tensor:
    """Decode an n x n grid over a 2-D latent space: (n * n, 1, 28, 28), row-major, z2 decreasing
    down the rows. For a VAE the grid follows the prior's quantiles (5 % to 95 %), as in Kingma &
    Welling's figure; for an AE it spans [-span, span]."""
    if model.latent_dim != 2:
        raise ValueError("the latent grid needs a 2-D latent space")
    if span is None:
        axis = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n)])  # scipy.stats: ~1 s to import
    else:
        axis = np.linspace(-span, span, n)
    zz = np.array([[x, y] for y in axis[::-1] for x in axis], dtype=np.float32)
    return decode(model, zz)


@torch.no_grad()
def interpolate(model: Autoencoder, a: torch.Tensor, b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decode the straight line between the codes of images ``a`` and ``b`` (each uint8 (28, 28), or
    float in [0, 1] (1, 28, 28): a drawn or uploaded digit; :func:`apcore.data.to_float` takes both)."""
    x = to_float(torch.stack([a, b])).to(model.device)
    za, zb = model.embed(x)
    t = torch.linspace(0, 1, steps, device=za.device)[:, None]
    return model.decode((1 - t) * za + t * zb).cpu()


def prior_samples(latent_dim: int, n: int, seed: int) -> np.ndarray:
    """n points from N(0, I) in ``latent_dim`` dimensions, reproducible by ``seed``."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


@torch.no_grad()
def reparameterisation(model: Autoencoder, image: torch.Tensor, n: int = 8, seed: int = 0) -> dict:
    """The trick made visible for one image (uint8 (28, 28)): mu, sigma, n samples
    z = mu + sigma * eps and their decodings, plus the decoding of mu itself."""
    x = to_float(image[None]).to(model.device)
    mu, logvar = model.encode(x)
    sigma = torch.exp(0.5 * logvar)
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn((n, model.latent_dim), generator=gen).to(mu.device)
    z = mu + sigma * eps
    return {"mu": mu[0].cpu().numpy(), "sigma": sigma[0].cpu().numpy(), "eps": eps.cpu().numpy(),
            "z": z.cpu().numpy(), "decoded": model.decode(z).cpu(), "decoded_mu": model.decode(mu).cpu()}


@torch.no_grad()
def kl_by_dimension(model: Autoencoder, data: Dataset, n: int = 2000) -> np.ndarray:
    """Mean KL(q(z|x) || N(0, 1)) per latent unit over n test images: (latent_dim,). Units near 0
    are unused ("posterior collapse"): the decoder ignores them."""
    x = to_float(data.test_images[:n]).to(model.device)
    mu, logvar = model.encode(x)
    return kl_per_dim(mu, logvar).mean(0).cpu().numpy()
