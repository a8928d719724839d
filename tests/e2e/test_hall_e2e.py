"""Browser: a lecture hall. The presenter signs in by link, moves through every page, a slider and
a tab; a follower on a phone-sized screen shows the same; the audience cannot train."""

import re
import time

from tests.e2e.conftest import HALL_KEY, wait_for_app

# Sidebar link -> the page's title (what the follower must show).
PAGES = [("Autoencoder", "Autoencoder: the latent space"), ("Variational autoencoder", "Variational autoencoder"),
         ("Anomaly detection", "Anomaly detection"), ("Denoising", "Denoising"),
         ("Transposed convolution", "Transposed convolution"), ("Clustering", "Clustering")]
SLIDERS = "() => [...document.querySelectorAll('[data-testid=\"stMain\"] [role=\"slider\"]')].map(s => s.getAttribute('aria-valuenow'))"
OPEN_TAB = "() => [...document.querySelectorAll('[data-testid=\"stMain\"] [role=\"tab\"][aria-selected=\"true\"]')].map(t => t.innerText)"


def settle(page):
    wait_for_app(page, 300_000)


def same(follower, presenter, js: str, timeout_ms: int = 30_000) -> None:
    """Wait until the follower's ``js`` reads what the presenter's does."""
    want = presenter.evaluate(js)
    follower.wait_for_function(f"(want) => JSON.stringify(({js})()) === JSON.stringify(want)", arg=want,
                               timeout=timeout_ms)


def panel_seed(page) -> int:
    """The seed of the model the training panel shows ("... trained in 3 s on CPU · seed 4")."""
    return int(re.search(r"trained in .*· seed (\d+)", page.get_by_text("trained in").first.inner_text()).group(1))


def test_follow_the_lecturer_through_every_page(new_tab, hall_url):
    presenter = new_tab("presenter", timeout_ms=300_000)
    follower = new_tab("follower", 390, 844, timeout_ms=300_000)  # a phone
    presenter.goto(f"{hall_url}/?presenter={HALL_KEY}")
    settle(presenter)
    assert HALL_KEY not in presenter.url
    presenter.get_by_text("Presenting").first.wait_for()
    follower.goto(hall_url)
    settle(follower)
    presenter.get_by_text(re.compile(r"Presenting · 1 following")).first.wait_for(timeout=15_000)

    for link, title in PAGES:
        presenter.get_by_role("link", name=link).first.click()
        presenter.get_by_role("heading", name=re.compile(title)).first.wait_for()
        settle(presenter)
        # 150 s: the follower's rerun waits its turn on a 2-core machine loaded by the whole suite (a
        # 30 s wait for the VAE page failed once so, a 60 s one for the autoencoder page once in
        # CI); the lag itself is bench/hall.py's to measure. On a failure new_tab keeps both tabs.
        follower.get_by_role("heading", name=re.compile(title)).first.wait_for(timeout=150_000)
        settle(follower)

        sliders = presenter.locator('[data-testid="stMain"] [role="slider"]')
        if sliders.count():
            sliders.first.focus()
            sliders.first.press("ArrowRight")
            settle(presenter)
            same(follower, presenter, SLIDERS)
            settle(follower)
        tabs = presenter.locator('[data-testid="stMain"] [role="tab"]')
        if tabs.count() > 1:
            tabs.nth(1).click()
            settle(presenter)
            same(follower, presenter, OPEN_TAB)
        assert follower.locator('[data-testid="stException"]').count() == 0, link

    # The follower explores on its own: the lecturer's next move no longer reaches it.
    follower.get_by_role("button", name="Explore on my own").click()
    settle(follower)
    follower.get_by_role("button", name="Back to the lecturer").wait_for()
    presenter.get_by_role("link", name="Autoencoder").first.click()
    settle(presenter)
    follower.wait_for_timeout(2500)
    assert follower.get_by_role("heading", name=re.compile("Clustering")).count() == 1
    follower.get_by_role("button", name="Back to the lecturer").click()
    follower.get_by_role("heading", name=re.compile("Autoencoder: the latent space")).first.wait_for(timeout=60_000)

    # The audience's Retrain is disabled, with the reason.
    settle(follower)
    retrain = follower.get_by_role("button", name="Retrain").first
    assert retrain.is_disabled()

    # The lecturer's Retrain reaches the room untouched: the follower's page shows the new model.
    settle(presenter)
    before = panel_seed(presenter)
    presenter.get_by_role("button", name="Retrain").first.click()
    deadline = time.monotonic() + 120
    while (after := panel_seed(presenter)) == before:
        assert time.monotonic() < deadline, "the lecturer's Retrain did not finish in 120 s"
        presenter.wait_for_timeout(250)
    follower.get_by_text(f"seed {after}").first.wait_for(timeout=30_000)
