"""AppTest of the Autoencoder page: trains by itself, latent slider, Retrain, selection."""

import json
import re

from tests.app.conftest import page_test, run_until_trained


def panel_text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def tab(at, label: str):
    """The page's tab called ``label``."""
    container = next(c for c in at.main.children.values() if c.type == "tab_container")
    return next(t for t in container.children.values() if t.label == label)


def elements(node):
    """Every element below ``node``, in page order."""
    for child in getattr(node, "children", {}).values():
        yield child
        yield from elements(child)


def views(at) -> dict:
    """What the tabs drew from the model: the bottleneck rows (label -> image), the latent
    scatter's points, and the decoder playground's slider ranges."""
    rows, label = {}, None
    for el in elements(tab(at, "Bottleneck: latent size")):
        if el.type == "markdown" and el.value.startswith("**"):
            label = el.value.strip("*")
        elif el.type == "image" and label:
            rows[label] = el.proto.imgs[0].url  # media files are named by their content
    scatter = next(el for el in elements(tab(at, "Latent space")) if el.type == "plotly_chart")
    points = [(t["x"], t["y"]) for t in json.loads(scatter.proto.spec)["data"]]
    ranges = [(el.label, el.min, el.max) for el in elements(tab(at, "Decoder playground")) if el.type == "slider"]
    return {"rows": rows, "points": points, "ranges": ranges}


def test_default_view_trains_and_shows_everything():
    at = run_until_trained(page_test("autoencoder"))
    assert not at.exception
    assert "ae-mlp, latent 2" in panel_text(at) and "test BCE" in panel_text(at)
    assert at.select_slider(key="ae_latent").value == 2
    assert at.button(key="ae_new_batch") is not None
    assert len(at.get("image")) >= 4  # fixed and random montages, original and reconstruction
    charts = at.get("plotly_chart")
    assert len(charts) >= 2  # bottleneck curve, latent scatter (+ plane)


def test_latent_change_and_retrain_reach_new_models():
    at = run_until_trained(page_test("autoencoder"))
    at.select_slider(key="ae_latent").set_value(5)
    at = run_until_trained(at)
    text = panel_text(at)
    assert "ae-mlp, latent 5" in text and "seed 0" in text
    # the slider marks trained sizes
    retrain = [b for b in at.button if b.label == "Retrain"][0]
    retrain.click()
    at = run_until_trained(at)
    assert "ae-mlp, latent 5" in panel_text(at) and "seed 1" in panel_text(at)
    assert not at.exception


def seed(at) -> int:
    return int(re.search(r"ae-mlp, latent 2, mnist\*\* · .* · seed (\d+)", panel_text(at)).group(1))


def test_retrain_redraws_every_view_from_the_new_model():
    at = run_until_trained(page_test("autoencoder"))
    before, old_seed = views(at), seed(at)
    assert {"Ground truth", "Latent 2"} <= set(before["rows"]) and len(before["ranges"]) == 2
    next(b for b in at.button if b.label == "Retrain").click()
    at = run_until_trained(at)
    assert seed(at) == old_seed + 1
    after = views(at)
    assert set(after["rows"]) == set(before["rows"])   # the retrained size keeps its row
    assert after["rows"]["Ground truth"] == before["rows"]["Ground truth"]
    assert after["rows"]["Latent 2"] != before["rows"]["Latent 2"]
    assert after["points"] != before["points"]
    assert after["ranges"] != before["ranges"]


def test_cnn_switch():
    at = run_until_trained(page_test("autoencoder"))
    at.button_group(key="ae_arch").set_value("conv")
    at = run_until_trained(at)
    assert "ae-conv, latent 2" in panel_text(at)


def test_invalid_link_value_falls_back_with_notice():
    at = page_test("autoencoder")
    at.query_params["latent"] = "999"
    at.query_params["arch"] = "transformer"
    at = run_until_trained(at)
    assert at.select_slider(key="ae_latent").value == 2
    assert "ae-mlp" in panel_text(at)
    notices = at.session_state["_ui_link_notices"]
    assert any("latent=999" in n for n in notices) and any("arch=transformer" in n for n in notices)


def test_link_value_is_used():
    at = page_test("autoencoder")
    at.query_params["latent"] = "3"
    at = run_until_trained(at)
    assert at.select_slider(key="ae_latent").value == 3
    assert "latent 3" in panel_text(at)
