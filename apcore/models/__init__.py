"""Model families by name; ``build`` turns a config into a fresh, untrained model."""

from ..config import ModelConfig
from .autoencoder import Autoencoder, ConvAutoencoder, FullyConvAutoencoder, MLPAutoencoder
from .vae import VAE, ConvVAE, MLPVAE, kl_per_dim

__all__ = ["Autoencoder", "ConvAutoencoder", "FullyConvAutoencoder", "MLPAutoencoder", "VAE", "ConvVAE", "MLPVAE",
           "kl_per_dim", "build"]


def build(config: ModelConfig) -> Autoencoder:
    """A freshly initialised model for ``config`` (on the CPU; the caller moves it)."""
    if config.family == "ae-mlp":
        return MLPAutoencoder(config.latent_dim)
    if config.family == "ae-conv":
        return ConvAutoencoder(config.latent_dim)
    if config.family == "ae-fconv":
        return FullyConvAutoencoder(config.latent_dim)
    if config.family == "vae-mlp":
        return MLPVAE(config.latent_dim, config.beta)
    return ConvVAE(config.latent_dim, config.beta)
