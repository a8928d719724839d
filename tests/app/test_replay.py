"""AppTest of the Training replay tab (ui/replay.py) on the Autoencoder and VAE pages."""

import json

import pytest

from tests.app.conftest import open_tab, page_test, run_until_trained


def elements(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from elements(child)


@pytest.mark.parametrize("page, tabs, terms", [("autoencoder", "ae_tab", {"reconstruction (BCE)"}),
                                               ("vae", "vae_tab", {"reconstruction (BCE)", "KL divergence"})])
def test_replay_tab_animates_the_codes_of_a_fresh_model(page, tabs, terms):
    at = open_tab(run_until_trained(page_test(page)), tabs, "Training replay")
    charts = [json.loads(el.proto.spec) for el in elements(at.main) if el.type == "plotly_chart"]
    anim, loss = charts
    frames = anim["frames"]
    assert len(frames) >= 3 and all(len(f["data"]) == 10 for f in frames)          # a trace per digit
    assert anim["layout"]["sliders"][0]["steps"] and anim["layout"]["updatemenus"]  # slider, play button
    assert anim["layout"]["xaxis"]["range"] and anim["layout"]["yaxis"]["range"]    # the same axes throughout
    assert {t["name"] for t in loss["data"]} == terms
    assert any("average digit" in m.value for m in at.markdown)                   # an MLP's step 0, said
    assert sum(el.type == "image" for el in elements(at.main)) == 2                 # digits, reconstructions
    assert at.select_slider(key=f"{'ae' if page == 'autoencoder' else 'vae'}_replay_frame").value == len(frames) - 1


def test_a_model_without_snapshots_asks_for_a_retrain():
    from streamlit.testing.v1 import AppTest

    def page():
        from types import SimpleNamespace

        from ui import replay
        replay.show(SimpleNamespace(snapshots=None), [str(c) for c in range(10)], "ae", ["recon"])

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception and not at.get("plotly_chart")
    assert "trained before replays were recorded: press Retrain" in at.info[0].value
