"""Browser: the clustering page draws its table; choosing another representation moves the marker."""

import os

os.environ.setdefault("APCORE_CLUSTER_LIMIT", "2000")  # read by the server the e2e fixture starts

from tests.e2e.conftest import open_page, wait_for_app  # noqa: E402
from ui.clustering import SCATTER_MARGIN  # noqa: E402


def table_text(page) -> str:
    page.wait_for_function(
        "() => { const t = document.querySelector('[data-testid=\"stTable\"]');"
        " return t && t.innerText.includes('VAE latent'); }", timeout=240_000)
    return page.locator('[data-testid="stTable"]').inner_text()


# The cluster scatter's margins as drawn [left, bottom] and as asked: Plotly's automargin widens them
# (and draws the 3,000 points again) only when the axis titles do not fit.
SCATTER_MARGINS = """() => { const el = [...document.querySelectorAll('.js-plotly-plot')]
    .find(el => (el._fullLayout.title.text || '').includes('Clusters —'));
  const f = el._fullLayout; return [f._size.l, f._size.b, f.margin.l, f.margin.b]; }"""


# The images of "What each cluster looks like" (one HTML element of data: addresses): [loaded and drawn, all].
ROW_IMAGES = """() => { const im = [...document.querySelectorAll('[data-testid="stHtml"] .cl-rows img')];
  const drawn = im.filter(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0);
  return [drawn.length, im.length]; }"""


def test_switching_representation_changes_the_table(page, app_url):
    open_page(page, app_url, "clustering")
    before = table_text(page)
    assert "▶ AE latent" in before and "Raw pixels" in before
    page.wait_for_function(f"() => ({ROW_IMAGES})()[0] === 20", timeout=60_000)  # 10 centres, 10 rows of members
    assert page.evaluate(ROW_IMAGES) == [20, 20]
    assert page.evaluate(SCATTER_MARGINS) == [SCATTER_MARGIN] * 4   # the titles fit: drawn once
    page.locator('[data-testid="stRadio"]').get_by_text("Raw pixels", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stTable\"]').innerText.includes('▶ Raw pixels')", timeout=120_000)
    wait_for_app(page)
    after = table_text(page)
    assert after != before and "▶ AE latent" not in after
    assert "rep=pixels" in page.url
    assert page.evaluate(ROW_IMAGES) == [0, 0]  # pixels: no decoder, no rows
    assert page.evaluate(SCATTER_MARGINS) == [SCATTER_MARGIN] * 4
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path="/tmp/clustering_e2e.png", full_page=True)
