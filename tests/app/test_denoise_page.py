"""AppTest of the denoising page: two tiny models, the test-noise slider drives the numbers."""

import json

from tests.app.conftest import page_test, run_until_trained


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_denoise_page_trains_both_and_noise_slider_changes_numbers():
    at = run_until_trained(page_test("denoise"))
    m = _metrics(at)
    assert {"Noisy input: PSNR", "MLP output: PSNR", "CNN output: PSNR", "MLP output: SSIM", "CNN output: SSIM"} <= set(m)
    at.slider(key="test").set_value(0.2).run()
    assert not at.exception
    m2 = _metrics(at)
    assert float(m2["Noisy input: PSNR"].split()[0]) > float(m["Noisy input: PSNR"].split()[0])
    curve = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert [t["name"] for t in curve["data"]] == ["noisy input", "MLP output", "CNN output"]
    assert any(md.value == "**MLP output**" for md in at.markdown)


def test_denoise_page_other_noise_from_url():
    at = page_test("denoise")
    at.query_params["noise"] = "mask"
    at.query_params["train"] = "0.3"
    run_until_trained(at)
    assert at.radio(key="denoise_noise").value == "mask"
    assert at.slider(key="train").value == 0.3
    assert not at.exception
