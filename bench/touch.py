"""Click-to-image time of touching the latent space, in real Chromium (issue 12: within a second).

    python3 bench/touch.py [--clicks 10]

Serves the app, trains the models with tiny budgets (what is measured is the page, not
training: the networks are the page defaults' size), then clicks ``--clicks`` points spread over

- the Autoencoder page's decoder playground plane (latent 2): the click sets the sliders;
- the VAE page's latent grid (a cell) and its plane (between the cells).

For each click, in the page: from the mouse press inside the component's frame to the decoded
digit's new image being decoded and ready to paint (``img.decode()``), and to the plane picture
with the moved star loaded in its frame. Also the plane picture's size as sent per click.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser import launch, start_server, stop_server, wait_for_app  # noqa: E402
from bench.common import write_table  # noqa: E402
from ui.plane import Plane  # noqa: E402

BUDGET = {"APCORE_EPOCHS": "1", "APCORE_TRAIN_LIMIT": "6000"}
FRAME = 'iframe[title="streamlit_image_coordinates.streamlit_image_coordinates"]'

# Before a click on the frame number ``index``: resolve window.__touch with
# [ms to the new captioned digit decoded, ms to that frame's picture loaded again (null if it
# does not change), bytes of its new src]. ``prefix``: the caption of the digit that changes.
ARM = """([index, prefix]) => {
  const frame = document.querySelectorAll('%s')[index];
  const doc = frame.contentDocument, picture = doc.getElementById('image');
  const digit = () => [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .filter(c => c.innerText.startsWith(prefix))
    .map(c => { let n = c; while (n && !n.querySelector('img')) n = n.parentElement; return n.querySelector('img'); })[0];
  const before = digit() ? digit().src : null, pictureBefore = picture.src;
  window.__touch = new Promise(resolve => {
    setTimeout(() => resolve([null, null, 0]), 10000);   // nothing new shown: counted as a miss
    doc.addEventListener('mousedown', () => {
      const t0 = performance.now();
      let shown = null, loaded = null;
      const done = () => { if (shown !== null && loaded !== null) resolve([shown, loaded, picture.src.length * 3 / 4]); };
      picture.addEventListener('load', () => { loaded = performance.now() - t0; done(); }, {once: true});
      if (frame.dataset.still === '1') loaded = -1;
      const obs = new MutationObserver(() => {
        const img = digit();
        if (img && img.src !== before) {
          obs.disconnect();
          img.decode().catch(() => null).then(() => { shown = performance.now() - t0; done(); });
        }
      });
      obs.observe(document.body, {subtree: true, attributes: true, childList: true});
    }, {once: true, capture: true});
  });
}""" % FRAME


def lscpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return "unknown CPU"


def box_of(page, index: int) -> dict:
    img = page.frame_locator(FRAME).nth(index).locator("#image")
    img.scroll_into_view_if_needed()
    return img.bounding_box()


def clicks(page, index: int, prefix: str, points, still: bool = False) -> list[tuple[float, float, float]]:
    """Click each (u, v) (fractions of the frame's picture); per click (ms to the digit, ms to the
    picture reloaded or -1 when the picture stays, bytes of the picture)."""
    page.evaluate(f"() => document.querySelectorAll('{FRAME}')[{index}].dataset.still = '{int(still)}'")
    out = []
    for u, v in points:
        box = box_of(page, index)
        page.evaluate(ARM, [index, prefix])
        page.mouse.click(box["x"] + u * box["width"], box["y"] + v * box["height"])
        out.append(tuple(page.evaluate("window.__touch")))
        wait_for_app(page)
        time.sleep(0.3)
    return out


def spread(n: int, lo: float = 0.15, hi: float = 0.8) -> list[tuple[float, float]]:
    """n points alternating between far corners of the plane's plot area, each a new pixel, as
    fractions of the whole picture (margins included)."""
    g = Plane((0.0, 1.0), (0.0, 1.0))
    plot = [((lo if i % 2 == 0 else hi) + 0.01 * i, (lo if i % 4 < 2 else hi) - 0.01 * i) for i in range(n)]
    return [((g.left + u * g.plot_width) / g.width, (g.top + v * g.plot_height) / g.height) for u, v in plot]


def row(view: str, results) -> list:
    shown = [r[0] for r in results if r[0] is not None]
    loaded = [r[1] for r in results if r[1] is not None and r[1] >= 0]
    size = statistics.median(r[2] for r in results) / 1024
    missed = len(results) - len(shown)
    return [view, len(results) if not missed else f"{len(results)} ({missed} missed)",
            f"{statistics.median(shown):.0f}", f"{max(shown):.0f}",
            f"{statistics.median(loaded):.0f}" if loaded else "(unchanged)", f"{size:.0f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clicks", type=int, default=10)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-touch-"))
    env = {k: v for k, v in os.environ.items() if k != "APCORE_PRESENTER_KEY"}
    env.update(BUDGET, APCORE_CHECKPOINT_DIR=str(work / "checkpoints"))
    proc, url = start_server(env, work / "streamlit.log")
    rows = []
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(600_000)
            page.goto(f"{url}/autoencoder?ae_tab=Decoder+playground")
            page.get_by_text("Click anywhere on the plane").wait_for()
            wait_for_app(page)
            clicks(page, 0, "z = (", spread(2))                       # warm: first decode, first picture
            rows.append(row("Autoencoder playground: plane click -> decoded digit, sliders set",
                            clicks(page, 0, "z = (", spread(args.clicks))))
            page.goto(f"{url}/vae?latent=2&vae_tab=Latent+grid")
            page.wait_for_function(f"() => document.querySelectorAll('{FRAME}').length === 3")
            wait_for_app(page)
            cells = [(0.05 + 0.9 * ((i * 7) % 15) / 15, 0.05 + 0.9 * ((i * 4) % 15) / 15) for i in range(args.clicks + 2)]
            clicks(page, 0, "VAE grid", cells[:2], still=True)
            rows.append(row("VAE latent grid: cell click -> its digit large", clicks(page, 0, "VAE grid", cells[2:], still=True)))
            clicks(page, 2, "z = (", spread(2))
            rows.append(row("VAE plane: click -> decoded digit", clicks(page, 2, "z = (", spread(args.clicks))))
            browser.close()
    finally:
        stop_server(proc)
    load = os.getloadavg()[0]
    write_table(
        "touch", "Click-to-image time: touching the latent space in Chromium",
        ["view", "clicks", "click -> digit, median ms", "max ms", "click -> plane with star, median ms", "picture KB"],
        rows,
        notes=(f"CPU (lscpu): {lscpu_model()}, {os.cpu_count()} cores, shared with other work "
               f"(1-minute load average {load:.1f} at the end). Server and headless Chromium on the same machine. "
               "Times from the mouse press in the component's frame to the new digit decoded for painting "
               "(and to the plane picture, re-sent with the moved star, loaded). Target: within a second."))


if __name__ == "__main__":
    main()
