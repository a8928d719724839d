"""Browser: the Training replay tab on the Autoencoder and VAE pages, MLP and CNN: the animation has
a frame per snapshot on fixed axes, Play moves the codes, the slider below shows that snapshot's
digits and loss."""

import json

import pytest

from tests.e2e.conftest import open_page, wait_for_app

# The replay animation: the open tab's first Plotly chart that carries frames.
ANIMATION = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .find(p => p._transitionData && p._transitionData._frames && p._transitionData._frames.length)"""
STATE = f"""() => {{
  const p = ({ANIMATION})();
  return p ? JSON.stringify({{frames: p._transitionData._frames.length,
                              active: p.layout.sliders[0].active,
                              codes: p._fullData.map(t => [Array.from(t.x), Array.from(t.y)]),
                              xrange: p.layout.xaxis.range, yrange: p.layout.yaxis.range}}) : null;
}}"""


@pytest.mark.parametrize("path, tab, terms", [
    ("autoencoder?arch=mlp&latent=2", "ae_tab", 1),
    ("autoencoder?arch=cnn&latent=2", "ae_tab", 1),
    ("vae?arch=mlp&latent=2", "vae_tab", 2),
    ("vae?arch=cnn&latent=2", "vae_tab", 2),
])
def test_replay_plays_the_training(page, app_url, path, tab, terms):
    open_page(page, app_url, f"{path}&{tab}=Training+replay")
    page.wait_for_function(f"() => ({STATE})() !== null", timeout=400_000)  # the model may train first
    wait_for_app(page)
    before = json.loads(page.evaluate(STATE))
    assert before["frames"] >= 3                                    # a frame per snapshot, step 0 included
    assert before["xrange"] and before["yrange"]                    # fixed axes for every frame

    assert before["active"] == 0                                     # it opens on the untrained model
    assert sum(len(x) for x, _ in before["codes"]) >= 100            # the test codes, as points
    page.locator(".updatemenu-button").first.click()                 # Play
    page.wait_for_function(f"() => JSON.parse(({STATE})()).active === {before['frames'] - 1}", timeout=30_000)
    after = json.loads(page.evaluate(STATE))
    assert after["codes"] != before["codes"]                         # the codes moved: they settled
    assert after["xrange"] == before["xrange"] and after["yrange"] == before["yrange"]  # the axes held still

    # Under the animation: the chosen snapshot's digits and reconstructions, and the loss so far.
    charts = page.locator(".js-plotly-plot")
    assert charts.count() >= 2
    loss_traces = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].at(-1).data.length")
    assert loss_traces >= terms
    assert page.locator('[data-testid="stImage"] img').count() >= 2
    wait_for_app(page)
