"""Browser: the denoising page trains MLP and CNN, and moving the test-noise slider changes PSNR."""

from tests.e2e.conftest import metric_values, open_page, wait_for_app


def test_noise_slider_changes_psnr(page, app_url):
    open_page(page, app_url, "")  # by the navigation link: independent of the url path
    page.get_by_role("link", name="Denoising").first.click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stMetric]').length >= 5", timeout=400_000)
    wait_for_app(page)
    before = metric_values(page)
    assert "Noisy input: PSNR" in before and "CNN output: PSNR" in before and "MLP output: SSIM" in before
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Test noise level").get_by_role("slider")
    thumb.focus()
    for _ in range(4):
        thumb.press("ArrowLeft")   # 0.5 -> 0.3: less noise
    page.wait_for_function(
        "(v) => [...document.querySelectorAll('[data-testid=stMetricValue]')].map(e => e.innerText).join('|') !== v",
        arg="|".join(before.values()), timeout=30_000)
    wait_for_app(page)
    after = metric_values(page)
    psnr = lambda m: float(m["Noisy input: PSNR"].split()[0])  # noqa: E731
    assert psnr(after) > psnr(before)
    page.screenshot(path="/tmp/denoise_e2e.png", full_page=True)
