"""Browser: the clustering page draws its table and charts; a point tells its true label, a legend
click picks out a cluster; choosing another representation moves the marker."""

import os
import re

os.environ.setdefault("APCORE_CLUSTER_LIMIT", "2000")  # read by the server the e2e fixture starts

from tests.e2e.conftest import open_page, wait_for_app  # noqa: E402


def table_text(page) -> str:
    page.wait_for_function(
        "() => { const t = document.querySelector('[data-testid=\"stTable\"]');"
        " return t && t.innerText.includes('VAE latent'); }", timeout=240_000)
    return page.locator('[data-testid="stTable"]').inner_text()


# The scatter's coloured pixels (a cluster's colour, not the grey grid, text or white), in page
# coordinates, every other pixel: the plotted points, and at the right the legend's symbols.
COLOURED = """() => { const c = document.querySelector('[data-testid="stVegaLiteChart"] canvas');
  const r = c.getBoundingClientRect(), k = c.width / r.width, out = [];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let y = 0; y < c.height; y += 2) for (let x = 0; x < c.width; x += 2) {
    const i = (y * c.width + x) * 4;
    const rgb = [d[i], d[i + 1], d[i + 2]];
    if (Math.max(...rgb) - Math.min(...rgb) > 80) out.push([r.left + x / k, r.top + y / k]);
  }
  return out; }"""
# The confusion matrix's numbers (drawn as SVG text).
HEATMAP_NUMBERS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] .mark-text.role-mark text')]
  .map(t => Number(t.textContent.replace(',', '')))"""


def images_clustered(page) -> int:
    """How many test images the page clusters, as its caption says."""
    return int(re.search(r"On the ([\d,]+) test images", page.inner_text("body")).group(1).replace(",", ""))


def points_and_legend(page) -> tuple[list, list]:
    """The coloured pixels of the scatter's plot and of its legend's symbols (a column at the right)."""
    page.locator('[data-testid="stVegaLiteChart"]').first.scroll_into_view_if_needed()
    pixels = page.evaluate(COLOURED)
    right = max(x for x, _ in pixels)
    legend = [(x, y) for x, y in pixels if x > right - 14]
    return [(x, y) for x, y in pixels if x < min(x for x, _ in legend) - 20], legend


def empty_spot(points: list) -> tuple[float, float]:
    """A spot among the points, 8 px from any: a double-click there is on the plot, not on a point."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    grid = [(min(xs) + (max(xs) - min(xs)) * i / 20, min(ys) + (max(ys) - min(ys)) * j / 20)
            for i in range(1, 20) for j in range(1, 20)]
    return next((u, v) for u, v in grid if all(abs(u - x) > 8 or abs(v - y) > 8 for x, y in points))


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
    assert sum(page.evaluate(HEATMAP_NUMBERS)) == images_clustered(page) >= 1000  # every test image counted once

    points, legend = points_and_legend(page)
    assert len(points) > 200 and len(legend) > 10 * 5  # ten clusters' symbols
    x, y = points[len(points) // 2]
    page.mouse.move(x, y)  # a point: its true label
    tip = page.locator("#vg-tooltip-element.visible")
    tip.wait_for(timeout=10_000)
    assert "true label" in tip.inner_text() and "test image" in tip.inner_text()
    first = min(legend, key=lambda p: p[1])
    page.mouse.click(*first)  # one cluster picked out: the others fade
    page.wait_for_function(f"() => ({COLOURED})().length < {len(points) + len(legend)} * 0.6", timeout=10_000)
    faded, _ = points_and_legend(page)
    page.mouse.dblclick(*empty_spot(points))  # all again
    page.wait_for_function(f"() => ({COLOURED})().length > {len(points) + len(legend)} * 0.9", timeout=10_000)
    assert 0 < len(faded) < len(points) * 0.6

    page.locator('[data-testid="stRadio"]').get_by_text("Raw pixels", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stTable\"]').innerText.includes('▶ Raw pixels')", timeout=120_000)
    wait_for_app(page)
    after = table_text(page)
    assert after != before and "▶ AE latent" not in after
    assert "rep=pixels" in page.url
    assert page.evaluate(ROW_IMAGES) == [0, 0]  # pixels: no decoder, no rows
    assert sum(page.evaluate(HEATMAP_NUMBERS)) == images_clustered(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path="/tmp/clustering_e2e.png", full_page=True)
