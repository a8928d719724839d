"""Browser: the denoising page trains MLP and CNN, and moving the test-noise slider changes PSNR."""

from tests.e2e.conftest import metric_values, move_slider_until_metrics_change, open_from_navigation


def test_noise_slider_changes_psnr(page, app_url):
    open_from_navigation(page, app_url, "Denoising",
                         "() => document.querySelectorAll('[data-testid=stMetric]').length >= 5")
    before = metric_values(page)
    assert "Noisy input: PSNR" in before and "CNN output: PSNR" in before and "MLP output: SSIM" in before
    after = move_slider_until_metrics_change(page, "Test noise level", "ArrowLeft", 4)  # 0.5 -> 0.3: less noise
    psnr = lambda m: float(m["Noisy input: PSNR"].split()[0])  # noqa: E731
    assert psnr(after) > psnr(before)
    page.screenshot(path="/tmp/denoise_e2e.png", full_page=True)
