"""apcore.config: validation, normalisation, canonical JSON and the SHA-256 key."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apcore.config import FAMILIES, ConfigError, ModelConfig

ROOT = Path(__file__).resolve().parent.parent

# Pinned so that an accidental change of the key scheme (field names, defaults, JSON form, hash)
# is caught: every checkpoint on disk is named by it.
VAE20 = dict(family="vae-mlp", latent_dim=20)
VAE20_JSON = ('{"batch_size":128,"beta":1.0,"dataset":"mnist","epochs":5,"family":"vae-mlp",'
              '"latent_dim":20,"lr":0.002,"noise":"none","noise_level":0.0,"normal_classes":[],'
              '"seed":0,"train_limit":0}')
VAE20_KEY = "750d86143bc3c2c5ca8f5558b12b7ee79aeafacbcfaa5f913932687bd61f1c0e"


@pytest.mark.parametrize("changes, fragment", [
    ({"latent_dim": 0}, "latent dimension"),
    ({"latent_dim": 1}, "latent dimension"),
    ({"latent_dim": 65}, "latent dimension"),
    ({"latent_dim": 2.5}, "latent dimension"),
    ({"family": "gan"}, "unknown model"),
    ({"dataset": "cifar"}, "unknown data set"),
    ({"noise": "pink"}, "unknown noise"),
    ({"noise": "gaussian", "noise_level": 7}, "noise level"),
    ({"noise": "mask", "noise_level": -0.1}, "noise level"),
    ({"noise": "gaussian", "noise_level": float("nan")}, "noise level"),
    ({"normal_classes": (11,)}, "unknown class 11"),
    ({"normal_classes": (-1, 3)}, "unknown class -1"),
    ({"family": "vae-mlp", "beta": -1}, "beta"),
    ({"family": "vae-mlp", "beta": 1000}, "beta"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch size"),
    ({"lr": 0}, "learning rate"),
    ({"lr": 2.0}, "learning rate"),
    ({"seed": -1}, "seed"),
    ({"train_limit": -5}, "train limit"),
])
def test_invalid_configs_raise_one_line_config_error(changes, fragment):
    with pytest.raises(ConfigError) as info:
        ModelConfig(**changes)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_config_error_is_a_value_error():
    # The CLI maps ValueError to exit status 2; ConfigError must be one.
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("latent_dim", [2, 64])
def test_valid_bounds_accepted(family, latent_dim):
    c = ModelConfig(family=family, latent_dim=latent_dim)
    assert c.latent_dim == latent_dim
    assert c.is_vae == family.startswith("vae")
    assert c.is_conv == family.endswith("conv")


def test_canonical_json_is_sorted_and_compact():
    c = ModelConfig(**VAE20)
    text = c.to_json()
    assert text == VAE20_JSON
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert " " not in text


def test_key_is_sha256_of_canonical_json_and_pinned():
    c = ModelConfig(**VAE20)
    assert c.key == hashlib.sha256(c.to_json().encode()).hexdigest()
    assert c.key == VAE20_KEY


def test_key_stable_across_processes():
    # Python's hash() of a str changes per process (PYTHONHASHSEED); the key must not.
    code = ("from apcore.config import ModelConfig; "
            "print(ModelConfig(family='vae-conv', latent_dim=7, normal_classes=(3, 1), noise='mask', "
            "noise_level=0.25, beta=2).key)")
    expected = ModelConfig(family="vae-conv", latent_dim=7, normal_classes=(1, 3), noise="mask",
                           noise_level=0.25, beta=2.0).key
    keys = set()
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=120)
        assert out.returncode == 0, out.stderr
        keys.add(out.stdout.strip())
    assert keys == {expected}


def test_normal_classes_normalised_order_and_duplicates():
    a = ModelConfig(normal_classes=(3, 1, 3))
    b = ModelConfig(normal_classes=[1, 3])
    assert a.normal_classes == (1, 3)
    assert a == b and a.key == b.key
    assert a.is_one_class
    assert not ModelConfig(normal_classes=tuple(range(10))).is_one_class
    assert not ModelConfig().is_one_class


def test_numbers_normalised_to_float():
    assert ModelConfig(family="vae-mlp", beta=2).key == ModelConfig(family="vae-mlp", beta=2.0).key
    assert ModelConfig(lr=1).lr == 1.0 and isinstance(ModelConfig(lr=1).lr, float)


def test_irrelevant_options_normalised_away():
    # A plain autoencoder has no KL term: beta does not change the model.
    assert ModelConfig(family="ae-mlp", beta=4).key == ModelConfig(family="ae-mlp").key
    assert ModelConfig(family="vae-mlp", beta=4).key != ModelConfig(family="vae-mlp").key
    # Without noise, a noise level means nothing.
    assert ModelConfig(noise="none", noise_level=0.5).noise_level == 0.0


def test_task_properties():
    assert ModelConfig(noise="gaussian", noise_level=0.3).is_denoising
    assert not ModelConfig(noise="gaussian", noise_level=0.0).is_denoising
    assert not ModelConfig().is_denoising


def test_every_field_changes_the_key():
    base = ModelConfig(family="vae-mlp")
    changes = dict(family="vae-conv", latent_dim=3, dataset="fashion-mnist", noise_level=0.2,
                   normal_classes=(1,), beta=2.0, epochs=6, batch_size=64, lr=1e-3, seed=1, train_limit=9)
    keys = {base.key} | {base.replace(**{k: v}, noise="mask").key if k == "noise_level" else base.replace(**{k: v}).key
                         for k, v in changes.items()}
    assert len(keys) == len(changes) + 1
    masked = base.replace(noise="mask", noise_level=0.2)
    assert masked.key != masked.replace(noise_level=0.3).key
    assert masked.key != masked.replace(noise="gaussian").key


def test_no_corruption_is_one_model():
    """Noise of level 0 trains the same model as no noise: one key, one checkpoint."""
    plain = ModelConfig()
    for noise in ("gaussian", "salt-pepper", "mask"):
        c = ModelConfig(noise=noise, noise_level=0.0)
        assert (c.noise, c.key) == ("none", plain.key)


def test_view_key_ignores_seed_only():
    a = ModelConfig(family="ae-conv", latent_dim=5, seed=0)
    b = a.replace(seed=7)
    assert a.key != b.key
    assert a.view_key == b.view_key == a.key
    assert a.replace(latent_dim=6).view_key != a.view_key


def test_frozen():
    c = ModelConfig()
    with pytest.raises(Exception):
        c.latent_dim = 3  # type: ignore[misc]


def test_dict_round_trip_and_unknown_fields():
    c = ModelConfig(family="vae-conv", latent_dim=9, normal_classes=(2, 0), noise="salt-pepper",
                    noise_level=0.2, beta=0.5, seed=3)
    d = json.loads(c.to_json())
    assert ModelConfig.from_dict(d) == c
    assert ModelConfig.from_dict(d).key == c.key
    with pytest.raises(ConfigError, match="unknown config fields: colour"):
        ModelConfig.from_dict({**d, "colour": "red"})


def test_replace_validates():
    with pytest.raises(ConfigError):
        ModelConfig().replace(latent_dim=100)


def test_describe():
    text = ModelConfig(family="vae-mlp", latent_dim=20, noise="gaussian", noise_level=0.5,
                       normal_classes=(0,), beta=2).describe()
    assert text == "vae-mlp, latent 20, mnist, gaussian 0.5, normal 0, beta 2"


configs = st.builds(
    ModelConfig,
    family=st.sampled_from(FAMILIES),
    latent_dim=st.integers(2, 64),
    dataset=st.sampled_from(["mnist", "fashion-mnist"]),
    noise=st.sampled_from(["none", "gaussian", "salt-pepper", "mask"]),
    noise_level=st.floats(0, 1, allow_subnormal=False),  # trainers elsewhere in the run flush denormals
    normal_classes=st.lists(st.integers(0, 9), max_size=12),
    beta=st.floats(0, 100, allow_subnormal=False),
    seed=st.integers(0, 2**31),
)


@settings(max_examples=100, deadline=None)
@given(configs)
def test_round_trip_property(c):
    again = ModelConfig.from_dict(json.loads(c.to_json()))
    assert again == c
    assert again.to_json() == c.to_json()
    assert again.key == c.key
