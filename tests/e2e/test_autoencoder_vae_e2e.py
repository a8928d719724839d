"""Browser: the Autoencoder page trains, the latent slider and Retrain reach new models; the VAE page renders."""

import re

from tests.e2e.conftest import open_page, wait_for_app

PANEL_READY = re.compile(r"ae-mlp, latent (\d+), mnist · test BCE")


def wait_for_text(page, pattern: str, timeout_ms: int = 180_000) -> None:
    page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout_ms)


def test_autoencoder_slider_and_retrain(page, app_url):
    open_page(page, app_url, "autoencoder")
    wait_for_text(page, r"ae-mlp, latent 2, mnist · test BCE")
    wait_for_app(page)
    assert page.get_by_text("Reconstruction from 2 numbers").count() == 1

    # Move the latent slider one step right: 2 -> 3, a model not trained yet.
    thumb = page.get_by_role("slider").first
    thumb.focus()
    thumb.press("ArrowRight")
    wait_for_text(page, r"ae-mlp, latent 3, mnist · test BCE")
    wait_for_app(page)
    page.get_by_text("Reconstruction from 3 numbers").first.wait_for()
    assert "latent=3" in page.url

    # Retrain: progress appears, then the retrained model (seed 1) replaces the cached one.
    page.get_by_role("button", name="Retrain").first.click()
    page.get_by_text(re.compile(r"^(Training · epoch|Waiting for the trainer)")).first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stProgress"]').count() >= 1
    wait_for_text(page, r"latent 3, mnist · test BCE .* seed 1")
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_vae_page_renders(page, app_url):
    open_page(page, app_url, "vae?latent=2")
    wait_for_text(page, r"VAE · vae-mlp, latent 2, mnist · test loss")
    wait_for_text(page, r"AE for comparison · ae-mlp, latent 2, mnist · test BCE")
    wait_for_app(page)
    page.get_by_role("tab", name="Latent grid").click()
    page.get_by_text("the grid follows the prior").first.wait_for()
    page.get_by_role("tab", name="Completeness").click()
    page.get_by_text("VAE decoder").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
