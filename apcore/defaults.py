"""Training budgets per family and the models the pages offer by default.

Budgets are measured on the 2-core CPU (``bench/train_defaults.py``): every page's default model
trains in about 20 s or less; the 20-d MLP VAE reaches a test loss <= 106 within its budget.
"""

from __future__ import annotations

import os

from .config import ModelConfig

# epochs, batch size, learning rate per family (cosine decay to zero over the epochs).
TRAINING = {
    "ae-mlp": {"epochs": 4, "batch_size": 256, "lr": 2e-3},
    "ae-conv": {"epochs": 2, "batch_size": 256, "lr": 3e-3},
    "ae-fconv": {"epochs": 3, "batch_size": 128, "lr": 5e-3},
    "vae-mlp": {"epochs": 7, "batch_size": 128, "lr": 3e-3},
    "vae-conv": {"epochs": 2, "batch_size": 256, "lr": 3e-3},
}

# Latent sizes the autoencoder page offers pre-trained (the slides contrast 2 and 5).
AE_LATENTS = (2, 5, 10, 20)
# The denoising page's two models: MLP with a 32-d code, fully convolutional with 8 maps of 7x7.
DENOISERS = {"ae-mlp": 32, "ae-fconv": 8}


def quick_budget() -> dict:
    """Overrides from ``APCORE_EPOCHS`` / ``APCORE_TRAIN_LIMIT`` (tiny models for tests and rehearsals)."""
    out = {}
    if os.environ.get("APCORE_EPOCHS"):
        out["epochs"] = int(os.environ["APCORE_EPOCHS"])
    if os.environ.get("APCORE_TRAIN_LIMIT"):
        out["train_limit"] = int(os.environ["APCORE_TRAIN_LIMIT"])
    return out


def default_config(family: str, **changes) -> ModelConfig:
    """``family`` with its default training budget; ``changes`` override any field."""
    return ModelConfig(family=family, **{**TRAINING.get(family, {}), **quick_budget(), **changes})


def page_defaults() -> dict[str, list[ModelConfig]]:
    """The configs each page shows without any widget moved (what ``python -m apcore warm`` trains)."""
    from .anomaly import one_class_config  # local imports: both modules import this one
    from .cluster import ae_config, vae_config

    return {
        "autoencoder": [default_config(f, latent_dim=d) for f in ("ae-mlp", "ae-conv") for d in AE_LATENTS],
        "vae": [default_config("vae-mlp", latent_dim=2), default_config("ae-mlp", latent_dim=2),
                default_config("vae-mlp", latent_dim=20)],
        "anomaly": [one_class_config("ae-mlp", latent_dim=16, normal_classes=(0,))],
        "denoise": [default_config(f, latent_dim=d, noise="gaussian", noise_level=0.5) for f, d in DENOISERS.items()],
        "clustering": [ae_config(), vae_config()],
    }


def warm_list() -> list[ModelConfig]:
    """Every page default once, in page order."""
    seen: dict[str, ModelConfig] = {}
    for configs in page_defaults().values():
        for c in configs:
            seen.setdefault(c.key, c)
    return list(seen.values())
