"""apcore.explore: what the Autoencoder and VAE pages compute from a model."""

import numpy as np
import pytest
import torch

from apcore import explore, models
from apcore.config import ModelConfig
from apcore.data import load_dataset, to_float
from apcore.models import kl_per_dim


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist")


def vae(latent=2):
    torch.manual_seed(0)
    return models.build(ModelConfig(family="vae-mlp", latent_dim=latent)).eval()


def test_first_of_each_class(data):
    idx = explore.first_of_each_class(data.test_labels)
    assert data.test_labels[idx].tolist() == list(range(10))
    for c, i in enumerate(idx):  # the first, not just any
        assert (data.test_labels[:i] != c).all()


def test_latent_grid_follows_prior_quantiles():
    model = vae()
    grid = explore.latent_grid(model, n=5)
    assert grid.shape == (25, 1, 28, 28)
    # top-left cell decodes (z1 lowest, z2 highest): the prior's 5 % and 95 % quantiles
    expected = model.decode(torch.tensor([[-1.6448536, 1.6448536]]))
    torch.testing.assert_close(grid[0:1], expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError):
        explore.latent_grid(vae(3))


def test_interpolation_ends_at_the_two_reconstructions(data):
    model = vae()
    a, b = data.test_images[0], data.test_images[1]
    line = explore.interpolate(model, a, b, steps=6)
    assert line.shape == (6, 1, 28, 28)
    rec = explore.reconstruct(model, torch.stack([a, b]))
    torch.testing.assert_close(line[[0, -1]], rec, atol=1e-5, rtol=1e-4)


def test_reparameterisation_is_mu_plus_sigma_eps(data):
    model = vae(4)
    rep = explore.reparameterisation(model, data.test_images[3], n=5, seed=1)
    np.testing.assert_allclose(rep["z"], rep["mu"] + rep["sigma"] * rep["eps"], rtol=1e-5, atol=1e-6)
    assert rep["decoded"].shape == (5, 1, 28, 28)
    again = explore.reparameterisation(model, data.test_images[3], n=5, seed=1)
    np.testing.assert_array_equal(rep["z"], again["z"])


def test_kl_by_dimension_matches_the_loss_term(data):
    model = vae(6)
    kl = explore.kl_by_dimension(model, data, n=100)
    mu, logvar = model.encode(to_float(data.test_images[:100]))
    np.testing.assert_allclose(kl, kl_per_dim(mu, logvar).mean(0).detach().numpy(), rtol=1e-5)
    assert kl.shape == (6,) and (kl >= 0).all()


def test_prior_samples_reproducible():
    a, b = explore.prior_samples(8, 4, seed=3), explore.prior_samples(8, 4, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 8) and not np.array_equal(a, explore.prior_samples(8, 4, seed=4))


def test_bottleneck_models_are_the_newest_matching_model_per_size():
    base = ModelConfig(family="ae-mlp", latent_dim=2)
    def summary(config, recon):
        return {"config": config.to_dict(), "metrics": {"test_recon": recon}}
    retrained = base.replace(latent_dim=5, seed=1)
    summaries = [  # newest first, as ModelStore.summaries() gives them
        summary(retrained, 100.0),
        summary(base.replace(latent_dim=5), 120.0),
        summary(base, 150.0),
        summary(base.replace(family="ae-conv", latent_dim=3), 90.0),   # other family
        summary(base.replace(latent_dim=8, epochs=9), 80.0),           # other budget
    ]
    assert explore.bottleneck_models(summaries, base) == [(base, 150.0), (retrained, 100.0)]


@pytest.mark.parametrize("n, d, axes", [(2000, 20, 12), (2000, 64, 12), (500, 3, 2), (300, 5, 5)])
def test_pca_is_scikit_learns(n, d, axes):
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(d)
    x = (rng.normal(size=(n, d)) * np.geomspace(3, 0.1, d) + 2.0).astype(np.float32)  # clear spectrum
    ours, theirs = explore.Pca.fit(x, axes), PCA(axes).fit(x)
    np.testing.assert_allclose(ours.mean, theirs.mean_, atol=1e-5)
    np.testing.assert_allclose(ours.axes, theirs.components_, atol=1e-4)
    expected = theirs.transform(x)
    np.testing.assert_allclose(ours.transform(x), expected, atol=1e-4 * np.abs(expected).max())
    with pytest.raises(ValueError):
        explore.Pca.fit(x, d + 1)
