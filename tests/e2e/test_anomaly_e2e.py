"""Browser: the anomaly page trains its tiny model, and moving the threshold changes the numbers."""

from tests.e2e.conftest import metric_values, move_slider_until_metrics_change, open_from_navigation


def test_threshold_slider_changes_metrics(page, app_url):
    open_from_navigation(page, app_url, "Anomaly detection", "() => document.querySelector('[data-testid=stMetric]')")
    before = metric_values(page)
    assert {"Precision", "Recall", "F1"} <= set(before)
    after = move_slider_until_metrics_change(page, "Threshold", "ArrowRight", 25)
    assert after != before
    assert float(after["Recall"]) <= float(before["Recall"])  # a higher threshold flags fewer
    assert page.locator(".js-plotly-plot").count() >= 4
    page.screenshot(path="/tmp/anomaly_e2e.png", full_page=True)
