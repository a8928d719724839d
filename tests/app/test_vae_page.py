"""AppTest of the VAE page: VAE and comparison AE train, every panel renders, links."""

from apcore.defaults import default_config
from tests.app.conftest import open_tab, page_test, run_until_trained

TABS = "vae_tab"  # the page's tabs: only the open one is computed
# tab -> what it draws: (plotly charts, images)
DRAWN = {"Loss terms": (1, 0), "Samples from the prior": (0, 1), "Latent grid": (0, 2), "Continuity": (0, 2),
         "Completeness": (0, 2), "Reparameterisation": (1, 2), "KL per dimension": (1, 0)}


def text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_vae_page_renders_all_panels():
    at = run_until_trained(page_test("vae"))
    assert "VAE · vae-mlp, latent 2" in text(at) and "AE for comparison · ae-mlp, latent 2" in text(at)
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Test loss per image", "Reconstruction (BCE)", "KL divergence"]
    loss, recon, kl = (float(m.value) for m in at.metric[:3])
    assert abs(loss - (recon + kl)) < 0.15
    assert at.select_slider(key="vae_beta").value == 1.0
    for label, (charts, images) in DRAWN.items():
        open_tab(at, TABS, label)
        assert (len(at.get("plotly_chart")), len(at.get("image"))) == (charts, images), label


def test_beta_and_latent_make_new_models():
    at = run_until_trained(page_test("vae"))
    at.select_slider(key="vae_beta").set_value(4.0)
    at.select_slider(key="vae_latent").set_value(3)
    at = run_until_trained(at)
    assert "vae-mlp, latent 3, mnist, beta 4" in text(at)
    assert at.query_params["beta"] == "4" and at.query_params["latent"] == "3"
    open_tab(at, TABS, "Latent grid")
    assert any("latent grid needs a 2-D latent space" in i.value for i in at.info)


def test_the_slides_link_opens_its_model():
    from ui.resources import registry

    at = page_test("vae")
    at.query_params.update({"latent": "2", "beta": "4"})   # /vae?latent=2&beta=4, as on the slides
    at.run()
    assert at.select_slider(key="vae_latent").value == 2 and at.select_slider(key="vae_beta").value == 4.0
    assert "VAE · vae-mlp, latent 2, mnist, beta 4**" in text(at)  # its panel (training or trained)
    config = default_config("vae-mlp", latent_dim=2, beta=4.0)
    if job := registry().get(config):
        job.cancel()  # no other test needs this model
