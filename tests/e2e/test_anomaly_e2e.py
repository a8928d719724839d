"""Browser: the anomaly page trains its tiny model, and moving the threshold changes the numbers."""

from tests.e2e.conftest import metric_values, open_page, wait_for_app


def test_threshold_slider_changes_metrics(page, app_url):
    open_page(page, app_url, "")  # by the navigation link: independent of the url path
    page.get_by_role("link", name="Anomaly detection").first.click()
    page.wait_for_selector('[data-testid="stMetric"]', timeout=400_000)
    wait_for_app(page)
    before = metric_values(page)
    assert {"Precision", "Recall", "F1"} <= set(before)
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Threshold").get_by_role("slider")
    thumb.focus()
    for _ in range(25):
        thumb.press("ArrowRight")
    page.wait_for_function(
        "(v) => [...document.querySelectorAll('[data-testid=stMetricValue]')].map(e => e.innerText).join('|') !== v",
        arg="|".join(before.values()), timeout=30_000)
    wait_for_app(page)
    after = metric_values(page)
    assert after != before
    assert float(after["Recall"]) <= float(before["Recall"])  # a higher threshold flags fewer
    assert page.locator(".js-plotly-plot").count() >= 4
    page.screenshot(path="/tmp/anomaly_e2e.png", full_page=True)
