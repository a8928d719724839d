"""apcore.defaults: budgets in layers, the test override last, and which page shows which model."""

import pytest

from apcore import defaults
from apcore.config import ConfigError, ModelConfig


@pytest.fixture
def no_override(monkeypatch):
    monkeypatch.delenv("APCORE_EPOCHS", raising=False)
    monkeypatch.delenv("APCORE_TRAIN_LIMIT", raising=False)


def test_budget_layers(no_override, monkeypatch):
    plain = defaults.default_config("ae-mlp", latent_dim=5)
    assert (plain.epochs, plain.batch_size, plain.lr) == (3, 256, 2e-3)
    page = defaults.default_config("ae-mlp", {"epochs": 9, "batch_size": 64}, latent_dim=5)
    assert (page.epochs, page.batch_size, page.lr) == (9, 64, 2e-3)
    monkeypatch.setenv("APCORE_EPOCHS", "1")
    monkeypatch.setenv("APCORE_TRAIN_LIMIT", "500")
    page = defaults.default_config("ae-mlp", {"epochs": 9, "batch_size": 64}, latent_dim=5)
    assert (page.epochs, page.batch_size, page.train_limit) == (1, 64, 500)  # the override over the page's
    chosen = defaults.default_config("ae-mlp", {"epochs": 9}, latent_dim=5, epochs=3)
    assert (chosen.epochs, chosen.train_limit) == (3, 500)                  # a caller's own value over both


def test_the_mlp_vae_budget_follows_its_layers(no_override):
    two, twenty = defaults.default_config("vae-mlp", latent_dim=2), defaults.default_config("vae-mlp", latent_dim=20)
    assert (two.epochs, two.batch_size, two.lr) == (4, 256, 1e-2)         # 784-512-256-2
    assert (twenty.epochs, twenty.batch_size, twenty.lr) == (6, 512, 1.5e-2)  # 784-400-20
    assert defaults.default_config("vae-mlp") == two                       # a config's own default code size
    assert defaults.default_config("vae-mlp", latent_dim=3).epochs == 6
    assert defaults.default_config("vae-conv", latent_dim=2).epochs == 2   # other families: one budget
    page = defaults.default_config("vae-mlp", {"epochs": 9, "batch_size": 64}, latent_dim=2)
    assert (page.epochs, page.batch_size, page.lr) == (9, 64, 1e-2)        # a page's layer over it
    assert defaults.cluster_vae_config() == twenty


def test_override_is_last_on_every_page_model(monkeypatch):
    monkeypatch.setenv("APCORE_EPOCHS", "1")
    monkeypatch.setenv("APCORE_TRAIN_LIMIT", "300")
    configs = [c for cs in defaults.page_defaults().values() for c in cs]
    configs += [defaults.denoiser_config("ae-mlp", longer=True), defaults.anomaly_config("ae-conv", 8, (1, 2))]
    assert {(c.epochs, c.train_limit) for c in configs} == {(1, 300)}


def test_one_class_budget(no_override):
    one = defaults.anomaly_config("ae-mlp", 16, (3,))
    two = defaults.anomaly_config("ae-mlp", 16, (8, 3))
    assert one.normal_classes == (3,) and two.normal_classes == (3, 8)
    assert one.epochs == 36 and two.epochs == 18
    assert defaults.anomaly_config("ae-conv", 8, (0,)).epochs == 20


def test_the_conv_ae_trains_on_fewer_images_but_not_its_one_class_model(no_override):
    from apcore.data import load_dataset
    from apcore.train import training_images

    plain = defaults.default_config("ae-conv", latent_dim=5)
    assert (plain.epochs, plain.batch_size, plain.train_limit) == (1, 64, 48_000)
    mnist = load_dataset("mnist")
    assert len(training_images(plain, mnist)) == 48_000
    nine = defaults.anomaly_config("ae-conv", 16, tuple(range(9)))  # 54,051 images of the nine classes
    assert nine.train_limit == 0
    assert len(training_images(nine, mnist)) == int((mnist.train_labels != 9).sum()) > 48_000


def test_denoiser_longer_and_clustering_budgets(no_override):
    mlp = defaults.denoiser_config("ae-mlp")
    assert (mlp.latent_dim, mlp.noise, mlp.noise_level, mlp.epochs) == (32, "gaussian", 0.5, 3)
    assert defaults.denoiser_config("ae-fconv", "mask", 0.3, longer=True).epochs == 5
    ae = defaults.cluster_ae_config()
    assert (ae.latent_dim, ae.batch_size, ae.epochs, ae.lr) == (defaults.CLUSTER_LATENT, 384, 6, 7e-3)


def test_page_models_are_the_warmed_defaults():
    page = defaults.page_defaults()
    assert page["clustering"] == [defaults.cluster_ae_config(), defaults.cluster_vae_config()]
    assert defaults.cluster_vae_config() in page["vae"]  # one model for both pages: trained once
    assert page["anomaly"] == [defaults.anomaly_config("ae-mlp", 16, (0,))]
    warm = defaults.warm_list()
    assert len(warm) == len({c.key for c in warm}) == len({c.key for cs in page.values() for c in cs})


def like(family, **fields) -> ModelConfig:
    return ModelConfig(family=family, epochs=99, batch_size=7, **fields)  # a budget no page uses


@pytest.mark.parametrize("page", list(defaults.page_defaults()))
def test_every_page_default_is_its_own_model_like_itself(page):
    for config in defaults.page_defaults()[page]:
        assert page in defaults.pages_using(config)
        assert defaults.pages_using(config.replace(seed=3)) == defaults.pages_using(config)  # retrained
        fields = {f: getattr(config, f) for f in defaults.IDENTITY}
        assert defaults.model_like(like(config.family, **fields), page) == config


def test_model_like_picks_the_page_of_its_kind():
    anomaly = defaults.page_defaults()["anomaly"][0]
    assert defaults.model_like(like("ae-mlp", latent_dim=16, normal_classes=(0,))) == anomaly
    mlp_denoiser = defaults.page_defaults()["denoise"][0]
    assert defaults.model_like(like("ae-mlp", latent_dim=32, noise="gaussian", noise_level=0.5)) == mlp_denoiser
    assert defaults.model_like(like("ae-mlp", latent_dim=20)) == defaults.default_config("ae-mlp", latent_dim=20)
    assert defaults.model_like(like("ae-mlp", latent_dim=20), "clustering") == defaults.cluster_ae_config()
    # no page shows a denoising VAE: the family's budget
    assert defaults.model_like(like("vae-mlp", noise="mask", noise_level=0.5)) == \
        defaults.default_config("vae-mlp", noise="mask", noise_level=0.5)
    with pytest.raises(ConfigError, match="the clustering page shows no model like ae-conv"):
        defaults.model_like(like("ae-conv"), "clustering")


def test_pages_using():
    assert defaults.pages_using(defaults.cluster_vae_config()) == ["vae", "clustering"]
    assert defaults.pages_using(defaults.default_config("ae-mlp", latent_dim=2)) == ["autoencoder", "vae"]
    assert defaults.pages_using(defaults.default_config("ae-mlp", latent_dim=2, epochs=50)) == []
