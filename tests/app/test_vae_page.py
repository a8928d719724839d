"""AppTest of the VAE page: VAE and comparison AE train, every panel renders."""

from tests.app.conftest import page_test, run_until_trained


def test_vae_page_renders_all_panels():
    at = run_until_trained(page_test("vae"))
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "VAE · vae-mlp, latent 2" in text and "AE for comparison · ae-mlp, latent 2" in text
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Test loss per image", "Reconstruction (BCE)", "KL divergence"]
    loss, recon, kl = (float(m.value) for m in at.metric[:3])
    assert abs(loss - (recon + kl)) < 0.15
    assert len(at.get("plotly_chart")) >= 3  # loss terms, mu/sigma, KL per dimension
    assert len(at.get("image")) >= 6  # prior samples, grids, interpolation, completeness, reparam
    assert at.select_slider(key="vae_beta").value == 1.0


def test_beta_and_latent_make_new_models():
    at = run_until_trained(page_test("vae"))
    at.select_slider(key="vae_beta").set_value(4.0)
    at.select_slider(key="vae_latent").set_value(3)
    at = run_until_trained(at)
    text = " ".join(m.value for m in at.markdown)
    assert "vae-mlp, latent 3, mnist, beta 4" in text
    assert any("latent grid needs a 2-D latent space" in i.value for i in at.info)
    assert not at.exception
