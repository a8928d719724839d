"""Plain autoencoders: an MLP (784-512-256-latent, as in the lecture) and a convolutional one.

Both decoders output logits; ``decode`` applies the sigmoid to give per-pixel probabilities, and
the loss uses ``binary_cross_entropy_with_logits`` (log-sum-exp form: no log(0) at saturated pixels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SHAPE = (1, 28, 28)
MLP_HIDDEN = (512, 256)
CONV_CHANNELS = (16, 32)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def conv_encoder(out_features: int) -> nn.Sequential:
    c1, c2 = CONV_CHANNELS
    return nn.Sequential(
        nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),   # (B, 16, 14, 14)
        nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),  # (B, 32, 7, 7)
        nn.Flatten(),
        nn.Linear(c2 * 7 * 7, 256), nn.ReLU(),
        nn.Linear(256, out_features),
    )


def conv_decoder(latent_dim: int) -> nn.Sequential:
    """Mirror of the encoder; kernel 4, stride 2, padding 1 doubles the size with even overlap
    (no checkerboard: every output pixel receives the same number of contributions)."""
    c1, c2 = CONV_CHANNELS
    return nn.Sequential(
        nn.Linear(latent_dim, 256), nn.ReLU(),
        nn.Linear(256, c2 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (c2, 7, 7)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # (B, 16, 14, 14)
        nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),              # (B, 1, 28, 28) logits
    )


def bce_per_image(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over pixels: (B, 1, 28, 28) x 2 -> (B,)."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)


class Autoencoder(nn.Module):
    """Shared behaviour of every model: encode -> code, decode -> image, named loss terms."""

    is_vae = False

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] -> (B, latent_dim)."""
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> (B, 1, 28, 28) logits."""
        return self.decoder(z).view(-1, *IMAGE_SHAPE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> (B, 1, 28, 28) pixel probabilities."""
        return torch.sigmoid(self.decode_logits(z))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code used for plots and clustering: (B, latent_dim)."""
        return self.encode(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> reconstruction logits (B, 1, 28, 28)."""
        return self.decode_logits(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction as probabilities (a VAE decodes its mean)."""
        return self.decode(self.embed(x))

    def loss_terms(self, x: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-image terms, shape (B,) each; ``loss`` is what training minimises.
        ``generator`` seeds a VAE's sampling; a plain autoencoder ignores it."""
        recon = bce_per_image(self(x), target)
        return {"loss": recon, "recon": recon}

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Mean over the batch of each term: BCE summed over pixels, per image."""
        terms = self.loss_terms(x, x if target is None else target, generator)
        return {k: v.mean() for k, v in terms.items()}


class MLPAutoencoder(Autoencoder):
    def __init__(self, latent_dim: int, hidden: tuple[int, ...] = MLP_HIDDEN):
        super().__init__(latent_dim)
        self.encoder = nn.Sequential(nn.Flatten(), mlp([784, *hidden, latent_dim]))
        self.decoder = mlp([latent_dim, *reversed(hidden), 784])


class ConvAutoencoder(Autoencoder):
    def __init__(self, latent_dim: int):
        super().__init__(latent_dim)
        self.encoder = conv_encoder(latent_dim)
        self.decoder = conv_decoder(latent_dim)
