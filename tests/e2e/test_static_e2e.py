"""What the room's browsers fetch: Streamlit's frontend gzipped (``ui.compress``), the charts' code ahead
(``ui.prefetch``), nothing from other machines; and the pages still work."""

import time

from bench.page_open import PLOT
from tests.e2e.conftest import open_page, serve, stop_server, wait_for_app

# Every JavaScript file of the page from /static/: [name, bytes received, bytes after decoding].
SCRIPTS = """() => performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/static/') && e.name.endsWith('.js'))
  .map(e => [e.name.split('/').pop(), e.encodedBodySize, e.decodedBodySize])"""


def visit(browser, app_url: str) -> list:
    """A student's first visit (a new browser context: nothing cached) to the transposed-convolution
    page; its scripts once the slide's output is drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        open_page(page, app_url, "transposed_conv")
        running = page.locator("table[data-testid='tconv-running'] td").all_inner_texts()
        assert running == ["0", "4", "1", "8", "16", "6", "4", "12", "9"]   # the slide's output
        return page.evaluate(SCRIPTS)
    finally:
        context.close()


def test_after_the_lecturers_visit_the_room_gets_the_frontend_gzipped(browser, app_url):
    visit(browser, app_url)                            # the lecturer: the files are sent, then compressed
    deadline = time.time() + 30
    while True:
        scripts = [s for s in visit(browser, app_url) if s[2] >= 100_000]
        if all(received < decoded / 2 for _, received, decoded in scripts) or time.time() > deadline:
            break
        time.sleep(1)
    assert len(scripts) >= 2, scripts                  # Streamlit's main bundle and more: hundreds of kB each
    assert all(received < decoded / 2 for _, received, decoded in scripts), scripts


def switch_to_the_vae_chart(page) -> None:
    """Click the VAE page in the sidebar; wait until its loss chart is drawn (its models may train first)."""
    page.get_by_role("link", name="Variational autoencoder").first.click()
    page.wait_for_selector(PLOT, timeout=400_000)
    wait_for_app(page)


PLOTLY_REQUESTS = "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/PlotlyChart.')).length"


def test_the_overview_loads_the_charts_code_before_a_page_with_a_chart_asks(page, app_url):
    """``ui.prefetch``: the Overview draws no chart, yet its tab fetches Plotly's chunk once idle; the
    VAE page, switched to in the same tab, draws its loss chart without fetching it again."""
    open_page(page, app_url, "")
    page.wait_for_function(f"() => ({PLOTLY_REQUESTS})() === 1", timeout=30_000)
    switch_to_the_vae_chart(page)
    assert page.evaluate(PLOTLY_REQUESTS) == 1


# When the tab asked for Plotly's chunk, against its page's DOMContentLoaded and load (ms), or null.
PLOTLY_ASKED = """() => { const e = performance.getEntriesByType('resource').find(e => e.name.includes('/PlotlyChart.'));
  const nav = performance.getEntriesByType('navigation')[0];
  return e && nav.loadEventEnd ? [e.startTime, nav.domContentLoadedEventEnd, nav.loadEventEnd] : null; }"""


def test_a_chart_page_asks_for_plotly_as_it_starts_and_a_page_without_charts_only_once_idle(browser, app_url):
    """``app.CHART_PAGES`` (``ui.prefetch``): opened by its address, the VAE page's shell imports Plotly's
    chunk before the document has even finished loading, not when the script's first chart arrives; the
    transposed-convolution page, which draws none, leaves it to the idle prefetch after the page has loaded."""
    asked = {}
    for path in ("vae", "transposed_conv"):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(f"{app_url}/{path}")
            asked[path] = page.wait_for_function(PLOTLY_ASKED, timeout=60_000).json_value()
        finally:
            context.close()
    start, dom_loaded, _ = asked["vae"]
    assert start < dom_loaded, asked
    start, _, loaded = asked["transposed_conv"]
    assert start > loaded, asked


def test_the_pages_ask_nothing_of_any_other_machine(page, app_url):
    """A lecture hall's network may have no internet, and the room's browsers should not call out:
    every request of the Overview and of a page with charts goes to this server."""
    host = app_url.split("//", 1)[1]
    elsewhere = []
    page.on("request", lambda r: elsewhere.append(r.url) if r.url.split("//", 1)[-1].split("/", 1)[0] != host
            and not r.url.startswith(("data:", "blob:")) else None)
    open_page(page, app_url, "")
    switch_to_the_vae_chart(page)
    assert elsewhere == []


def test_a_fresh_servers_first_visit_by_a_pages_address_runs_the_app_once(browser, tmp_path_factory, checkpoints):
    """The server's start-up turns off Streamlit's legacy ``pages/`` mode (``ui.leave_pages_folder_mode``)
    before anyone connects: a lecture opened by a page's address runs ``app.py`` at once, with its
    navigation, not first the page alone and then again (``ui.require_app``)."""
    log = tmp_path_factory.mktemp("deep-link") / "streamlit.log"
    proc, url = serve(tmp_path_factory, checkpoints, log=log)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        open_page(page, url, "transposed_conv")
        links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        context.close()
    finally:
        stop_server(proc)
    assert any("Transposed convolution" in link for link in links), links  # app.py's titles, not file names
    assert "ran its page alone" not in log.read_text(), log.read_text()[-3000:]
