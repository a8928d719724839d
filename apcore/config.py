"""A model's identity: one frozen dataclass, hashed to name its checkpoint.

The canonical JSON of a :class:`ModelConfig` (sorted keys, no whitespace) hashed with SHA-256 is
the key of the in-memory cache and the file name in ``checkpoints/``. Python's ``hash()`` is never
used for anything on disk: it changes from one process to the next.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

FAMILIES = ("ae-mlp", "ae-conv", "ae-fconv", "vae-mlp", "vae-conv")
# The lecture's name for each family's architecture, as the pages label it.
ARCHITECTURES = {"ae-mlp": "MLP", "ae-conv": "CNN", "ae-fconv": "CNN", "vae-mlp": "MLP", "vae-conv": "CNN"}
DATASETS = ("mnist", "fashion-mnist")
NOISES = ("none", "gaussian", "salt-pepper", "mask")
MIN_LATENT, MAX_LATENT = 2, 64
NUM_CLASSES = 10


class ConfigError(ValueError):
    """A configuration that cannot describe a model; the message is fit for a user."""


class DataError(RuntimeError):
    """A data set that cannot be found or read; the message says which file and what to do."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything that decides what a trained model is.

    Parameters
    ----------
    family : {"ae-mlp", "ae-conv", "ae-fconv", "vae-mlp", "vae-conv"}
        ae-fconv is fully convolutional: its code is ``latent_dim`` feature maps of 7x7.
    latent_dim : int in [2, 64]
    dataset : {"mnist", "fashion-mnist"}
    noise, noise_level : input corruption for a denoising model ("none" for plain reconstruction).
        Gaussian: standard deviation; salt-and-pepper and mask: fraction of pixels hit. In [0, 1].
    normal_classes : classes a one-class (anomaly) model trains on; empty means all classes.
    beta : weight of the KL term (VAEs only; 1 is the ordinary ELBO).
    epochs, batch_size, lr, seed : training options.
    train_limit : train on the first N training images only (a budget of fewer images, or a tiny
        config for tests); 0 = all.
    """

    family: str = "ae-mlp"
    latent_dim: int = 2
    dataset: str = "mnist"
    noise: str = "none"
    noise_level: float = 0.0
    normal_classes: tuple[int, ...] = ()
    beta: float = 1.0
    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    train_limit: int = 0

    def __post_init__(self):
        # Normalise so that equal models have equal keys: (3, 1) and [1, 3] are the same classes.
        object.__setattr__(self, "normal_classes", tuple(sorted({int(c) for c in self.normal_classes})))
        for name in ("noise_level", "beta", "lr"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.noise == "none" or (self.noise in NOISES and self.noise_level == 0.0):  # one model, not four
            object.__setattr__(self, "noise", "none")
            object.__setattr__(self, "noise_level", 0.0)
        if not self.is_vae:
            object.__setattr__(self, "beta", 1.0)
        self.validate()

    @property
    def is_vae(self) -> bool:
        return self.family.startswith("vae")

    @property
    def is_conv(self) -> bool:
        return self.family.endswith("conv")

    @property
    def is_denoising(self) -> bool:
        return self.noise != "none" and self.noise_level > 0

    @property
    def is_one_class(self) -> bool:
        return 0 < len(self.normal_classes) < NUM_CLASSES

    def validate(self) -> None:
        """Raise :class:`ConfigError` with a one-line, user-facing message if anything is off."""
        if self.family not in FAMILIES:
            raise ConfigError(f"unknown model {self.family!r}; choose one of {', '.join(FAMILIES)}")
        if not isinstance(self.latent_dim, int) or not MIN_LATENT <= self.latent_dim <= MAX_LATENT:
            raise ConfigError(f"latent dimension must be an integer from {MIN_LATENT} to {MAX_LATENT}, got {self.latent_dim}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown data set {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.noise not in NOISES:
            raise ConfigError(f"unknown noise {self.noise!r}; choose one of {', '.join(NOISES)}")
        if not 0.0 <= self.noise_level <= 1.0:
            raise ConfigError(f"noise level must lie in [0, 1], got {self.noise_level:g}")
        bad = [c for c in self.normal_classes if not 0 <= c < NUM_CLASSES]
        if bad:
            raise ConfigError(f"unknown class {bad[0]}; classes are 0 to {NUM_CLASSES - 1}")
        if not 0.0 <= self.beta <= 100.0:
            raise ConfigError(f"beta must lie in [0, 100], got {self.beta:g}")
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= 500:
            raise ConfigError(f"epochs must be an integer from 1 to 500, got {self.epochs}")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= 60000:
            raise ConfigError(f"batch size must be an integer from 1 to 60000, got {self.batch_size}")
        if not 0.0 < self.lr <= 1.0:
            raise ConfigError(f"learning rate must lie in (0, 1], got {self.lr:g}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if not isinstance(self.train_limit, int) or self.train_limit < 0:
            raise ConfigError(f"train limit must be a non-negative integer, got {self.train_limit}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["normal_classes"] = list(self.normal_classes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown config fields: {', '.join(sorted(unknown))}")
        d = dict(d)
        if "normal_classes" in d:
            d["normal_classes"] = tuple(d["normal_classes"])
        return cls(**d)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces. Equal configs give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def key(self) -> str:
        """SHA-256 of the canonical JSON: names the checkpoint and keys the caches."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @property
    def view_key(self) -> str:
        """Key of the config without its seed: the "same model, retrained" family of checkpoints."""
        return self.replace(seed=0).key

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    @property
    def latent_label(self) -> str:
        """``latent 32``; for the fully convolutional model its code maps, ``latent 8x7x7``."""
        return f"latent {self.latent_dim}x7x7" if self.family == "ae-fconv" else f"latent {self.latent_dim}"

    def describe(self) -> str:
        """A short human label, e.g. ``vae-mlp, latent 20, mnist``."""
        parts = [self.family, self.latent_label, self.dataset]
        if self.is_denoising:
            parts.append(f"{self.noise} {self.noise_level:g}")
        if self.is_one_class:
            parts.append("normal " + ",".join(map(str, self.normal_classes)))
        if self.is_vae and self.beta != 1.0:
            parts.append(f"beta {self.beta:g}")
        return ", ".join(parts)
