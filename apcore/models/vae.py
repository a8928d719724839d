"""Variational autoencoders (Kingma & Welling, 2014): MLP and convolutional.

The encoder outputs the mean and log-variance of q(z|x); z = mu + sigma * eps (the
reparameterisation trick) keeps sampling differentiable; the loss is the negative ELBO,
binary cross-entropy summed over pixels plus beta times the KL divergence to N(0, I).
"""

from __future__ import annotations

import torch
from torch import nn

from .autoencoder import Autoencoder, bce_per_image, conv_decoder, conv_encoder, mlp


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per latent unit: (B, D) -> (B, D).

    Appendix B of Kingma & Welling (2014): KLD = -0.5 * sum(1 + log sigma^2 - mu^2 - sigma^2).
    """
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


class VAE(Autoencoder):
    is_vae = True

    def __init__(self, latent_dim: int, beta: float = 1.0):
        super().__init__(latent_dim)
        self.beta = beta

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, 28, 28) -> mu, logvar, each (B, latent_dim)."""
        mu, logvar = self.encoder(self.centred(x)).chunk(2, dim=1)
        return mu, logvar

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 1, 28, 28) -> logits of a sampled reconstruction (B, 1, 28, 28), mu, logvar.

        Samples z in evaluation too, as pytorch/examples does, so test losses compare with it;
        ``reconstruct`` is the deterministic (mean) reconstruction."""
        mu, logvar = self.encode(x)
        return self.decode_logits(self.reparameterize(mu, logvar, generator)), mu, logvar

    def loss_terms(self, x: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        logits, mu, logvar = self(x, generator)
        recon = bce_per_image(logits, target)
        kl = kl_per_dim(mu.float(), logvar.float()).sum(1)
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}

    def terms_and_reconstruction(self, x: torch.Tensor, target: torch.Tensor,
                                 generator: torch.Generator | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return self.loss_terms(x, target, generator), self.reconstruct(x)


# Hidden layers of the MLP VAE by code size. A code of more than 2 numbers: one hidden layer of 400,
# as pytorch/examples' vae (the reference figure in TARGETS.md): the lecture's 784-512-256 costs 1.7x
# the arithmetic and, measured on the 2-core CPU, reached only 114.7 in the 25 s in which 784-400
# reaches 105.4-105.6. A 2-D code (the latent grid, the continuity walk): 784-512-256, the course
# notebook's 2-D VAE; measured (bench/train_defaults.py budget, bf16): 784-400-2 reaches only 154,
# 784-512-256-2 reaches 144 (the notebook: 141 after 20 epochs). At today's budget (4 x 256, the
# MLPs' start from the data), 784-384-192-2 trains in ~0.85x the time to 143.9-144.9 over seeds
# 0-4, against 143.4-144.1: the notebook's layers are kept.
VAE_MLP_HIDDEN = (400,)
VAE_MLP_HIDDEN_2D = (512, 256)


def vae_mlp_hidden(latent_dim: int) -> tuple[int, ...]:
    """The MLP VAE's hidden layer sizes for a code of ``latent_dim`` numbers."""
    return VAE_MLP_HIDDEN_2D if latent_dim <= 2 else VAE_MLP_HIDDEN


class MLPVAE(VAE):
    def __init__(self, latent_dim: int, beta: float = 1.0, hidden: tuple[int, ...] | None = None):
        super().__init__(latent_dim, beta)
        hidden = hidden or vae_mlp_hidden(latent_dim)
        self.encoder = nn.Sequential(nn.Flatten(), mlp([784, *hidden, 2 * latent_dim]))
        self.decoder = mlp([latent_dim, *reversed(hidden), 784])


class ConvVAE(VAE):
    def __init__(self, latent_dim: int, beta: float = 1.0):
        super().__init__(latent_dim, beta)
        self.encoder = conv_encoder(2 * latent_dim)
        self.decoder = conv_decoder(latent_dim)
        self.use_channels_last()
