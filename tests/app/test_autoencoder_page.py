"""AppTest of the Autoencoder page: trains by itself, latent slider, Retrain, every tab, links."""

import json
import re

from tests.app.conftest import open_tab, page_test, run_until_trained

TABS = "ae_tab"  # the page's tabs: only the open one is computed


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


def images(node) -> list[str]:
    """The images below ``node``, by media file (named by its content)."""
    return [el.proto.imgs[0].url for el in elements(node) if el.type == "image"]


def views(at) -> dict:
    """What the tabs drew from the model: the bottleneck rows (label -> image), the latent
    scatter's points, and the decoder playground's slider ranges."""
    label = "Bottleneck: latent size"
    rows, row = {}, None
    for el in elements(tab(open_tab(at, TABS, label), label)):
        if el.type == "markdown" and el.value.startswith("**"):
            row = el.value.strip("*")
        elif el.type == "image" and row:
            rows[row] = el.proto.imgs[0].url
    label = "Latent space"
    scatter = next(el for el in elements(tab(open_tab(at, TABS, label), label)) if el.type == "plotly_chart")
    points = [(t["x"], t["y"]) for t in json.loads(scatter.proto.spec)["data"]]
    label = "Decoder playground"
    ranges = [(el.label, el.min, el.max) for el in elements(tab(open_tab(at, TABS, label), label)) if el.type == "slider"]
    return {"rows": rows, "points": points, "ranges": ranges}


def test_default_view_trains_and_shows_every_tab():
    at = run_until_trained(page_test("autoencoder"))
    assert "ae-mlp, latent 2" in panel_text(at) and "test BCE" in panel_text(at)
    assert at.select_slider(key="ae_latent").value == 2
    assert len(images(tab(at, "Reconstructions"))) == 4   # fixed and random rows, original and reconstruction
    assert not list(elements(tab(at, "Latent space")))     # closed tabs are not computed
    v = views(at)
    assert {"Ground truth", "Latent 2"} <= set(v["rows"])
    assert len(v["points"]) == 10 and [r[0] for r in v["ranges"]] == ["z1", "z2"]


def test_new_random_batch_draws_other_digits():
    at = run_until_trained(page_test("autoencoder"))
    fixed_before, random_before = images(tab(at, "Reconstructions"))[:2], images(tab(at, "Reconstructions"))[2:]
    at.button(key="ae_new_batch").click().run()
    shown = images(tab(at, "Reconstructions"))
    assert shown[:2] == fixed_before and len(shown) == 4
    assert set(shown[2:]).isdisjoint(random_before)


def trained_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Trained: "))


def test_latent_change_and_retrain_reach_new_models():
    at = run_until_trained(page_test("autoencoder"))
    assert "**5**" not in trained_caption(at)
    at.select_slider(key="ae_latent").set_value(5)
    at = run_until_trained(at)
    text = panel_text(at)
    assert "ae-mlp, latent 5" in text and "seed 0" in text
    assert "**2**" in trained_caption(at) and "**5**" in trained_caption(at)  # the slider marks trained sizes
    retrain = [b for b in at.button if b.label == "Retrain"][0]
    retrain.click()
    at = run_until_trained(at)
    assert "ae-mlp, latent 5" in panel_text(at) and "seed 1" in panel_text(at)


def test_another_pages_model_of_a_size_is_not_listed_as_trained():
    """The clustering page's AE (its own budget) at a size: not "trained" here, since picking that
    size would train the autoencoder page's own model; once that exists, it is."""
    import os

    from apcore.cache import ModelStore
    from apcore.defaults import cluster_ae_config, pages_using

    clustering = cluster_ae_config(latent_dim=23)
    assert pages_using(clustering) == ["clustering"]
    ModelStore(os.environ["APCORE_CHECKPOINT_DIR"]).get_or_train(clustering)
    at = run_until_trained(page_test("autoencoder"))
    assert "**23**" not in trained_caption(at)
    at.select_slider(key="ae_latent").set_value(23)
    at = run_until_trained(at)
    assert "ae-mlp, latent 23" in panel_text(at) and "**23**" in trained_caption(at)


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
    assert at.query_params["arch"] == "conv"


def test_invalid_link_values_fall_back():
    at = page_test("autoencoder")
    at.query_params["latent"] = "999"
    at.query_params["arch"] = "transformer"
    at = run_until_trained(at)
    assert at.select_slider(key="ae_latent").value == 2
    assert "ae-mlp, latent 2" in panel_text(at)
    assert at.query_params["latent"] == "2" and at.query_params["arch"] == "mlp"


def test_link_sets_the_latent_size_and_the_tab():
    at = page_test("autoencoder")
    at.query_params["latent"] = "3"
    at.query_params[TABS] = "Latent space"
    at = run_until_trained(at)
    assert at.select_slider(key="ae_latent").value == 3
    assert "latent 3" in panel_text(at)
    assert any(el.type == "plotly_chart" for el in elements(tab(at, "Latent space")))
    assert not list(elements(tab(at, "Reconstructions")))
