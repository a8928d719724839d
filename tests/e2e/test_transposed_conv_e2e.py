"""Browser test of the transposed-convolution page: step through the animation with the slider and Play."""

from tests.e2e.conftest import open_page, wait_for_app

# Which input cell is highlighted (row-major index among the input grid's cells), and the step caption.
CURRENT = """() => {
  const cells = [...document.querySelectorAll("table[data-testid='tconv-input'] td")];
  return cells.findIndex(td => td.classList.contains('cur'));
}"""


def current_cell(page) -> int:
    return page.evaluate(CURRENT)


def step_text(page) -> str:
    return page.get_by_text("Step ", exact=False).filter(has_text=" of 4").first.inner_text()


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_step_through_the_animation(page, app_url):
    open_page(page, app_url, "transposed_conv")
    page.wait_for_selector("table[data-testid='tconv-input']")
    assert "Step 4 of 4" in step_text(page)
    assert current_cell(page) == 3                     # the last input cell, bottom right
    running = page.locator("table[data-testid='tconv-running'] td").all_inner_texts()
    assert running == ["0", "4", "1", "8", "16", "6", "4", "12", "9"]   # the slide's output

    # The step slider: Home goes to step 1, the right arrow one step on.
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Step").get_by_role("slider")
    thumb.focus()
    thumb.press("Home")
    page.wait_for_function(f"() => ({CURRENT})() === 0")
    wait_for_app(page)
    assert "Step 1 of 4" in step_text(page)
    thumb.press("ArrowRight")
    page.wait_for_function(f"() => ({CURRENT})() === 1")
    wait_for_app(page)
    assert "Step 2 of 4" in step_text(page)
    no_exception(page)

    # Play: the highlighted cell walks on by itself to the last one, then the button says Play again.
    page.get_by_role("button", name="Play").click()
    page.get_by_role("button", name="Pause").wait_for(timeout=30_000)
    seen = set()
    for _ in range(200):
        seen.add(current_cell(page))
        if 3 in seen and page.get_by_role("button", name="Play").count():
            break
        page.wait_for_timeout(100)
    assert {2, 3} <= seen, seen
    page.get_by_role("button", name="Play").wait_for(timeout=30_000)
    wait_for_app(page)
    assert "Step 4 of 4" in step_text(page)
    no_exception(page)

    # The stride slider is bound to the link: stride 2 spreads the output to 4 x 4, and the URL says so.
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Stride").get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowRight")
    page.wait_for_function("() => document.querySelectorAll(\"table[data-testid='tconv-running'] td\").length === 16")
    wait_for_app(page)
    assert "stride=2" in page.url
    no_exception(page)
