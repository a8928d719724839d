"""A Retrain watched in a real browser against the same training from the command line.

    python3 bench/retrain.py [--tabs 8] [--repeats 2] [--presses 9]   # presses: idle ones

As a lecturer does it: a served app (full budgets, a fresh checkpoint folder), Debian's Chromium,
the Autoencoder page at latent 5 (``ae-mlp``, its default budget). Measured in one run:

- the command line: ``python -m apcore train ae-mlp --latent-dim 5 --seed N`` as a whole process
  (import, data, training, evaluation, save);
- Retrain watched by 1 tab and by ``--tabs`` tabs (separate browser contexts, so separate
  sessions; each presses Retrain and joins the one job): wall time from the press to the new
  model's figures on the page (the panel shows the new seed and the run has finished); the
  CPU of the server process, the worker and the browser over that time;
- the presenter's slider latency (key press in the Decoder playground -> the new decoded digit
  on screen), idle and while a Retrain runs: first with every tab still open (and watching), then
  with the presenter's tab alone (a room's browsers run on the students' devices, not here);
- a lecture hall: a server with a presenter key, the lecturer's tab and ``--tabs`` - 1 audience
  tabs following it; the lecturer presses Retrain, the room watches without touching anything
  (the same wall time and CPU, and when the last audience tab shows the new model).

Targets (issue 10): Retrain / command line <= 1.15 with 1 tab, <= 1.3 with 8; the server under
~10 % of one core while 8 tabs watch; slider latency while training <= 2x idle.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser import CHROMIUM, ROOT, CpuMeter, launch, pids_matching, start_server, stop_server, wait_for_app  # noqa: E402
from bench.common import write_table  # noqa: E402

FAMILY, LATENT = "ae-mlp", 5
HALL_KEY = "bench-presenter-key"
BUSY_PRESSES = 60  # at most, while a training runs (~25 in a 15 s training): a median of few is noise
PAGE = f"autoencoder?latent={LATENT}"
# Records, from the next key press, the ms until an image on the page changes, the training panel's
# live images (captioned with their epoch, or the loss) left out: on the Decoder playground, the
# decoded digit. Resolves to null if nothing changed within 10 s (the key moved nothing).
LATENCY_JS = """() => {
  const srcs = () => [...document.querySelectorAll('[data-testid="stImage"]')]
    .filter(el => !/epoch|Training loss/.test(el.textContent)).map(el => el.querySelector('img')?.src).join('|');
  const before = srcs();
  window.__latency = new Promise(resolve => {
    document.addEventListener('keydown', () => {
      const t0 = performance.now();
      const obs = new MutationObserver(() => {
        if (srcs() !== before) { obs.disconnect(); resolve(performance.now() - t0); }
      });
      obs.observe(document.body, {subtree: true, attributes: true, childList: true});
      setTimeout(() => { obs.disconnect(); resolve(null); }, 10000);  // the key moved nothing
    }, {once: true, capture: true});
  });
}"""


def clean_env(**changes) -> dict[str, str]:
    """This process's environment without the test budgets, plus ``changes``."""
    env = {k: v for k, v in os.environ.items() if k not in ("APCORE_EPOCHS", "APCORE_TRAIN_LIMIT")}
    return {**env, **changes}


def cli_train(checkpoints: Path, seed: int) -> tuple[float, float]:
    """(whole-process wall s, train s) of the command line training the page's config afresh."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "apcore", "train", FAMILY, "--latent-dim", str(LATENT),
                          "--seed", str(seed), "--json"], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=clean_env(APCORE_CHECKPOINT_DIR=str(checkpoints)))
    wall = time.perf_counter() - start
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert not result["cached"], result
    return wall, result["train_seconds"]


def panel_seconds(page) -> float:
    text = page.get_by_text("trained in").first.inner_text()
    return float(text.split("trained in ")[1].split(" s")[0])


def retrain(pages, seed: int) -> float:
    """Press Retrain in every tab (the first is the presenter's); seconds until the presenter's
    page shows the model of ``seed`` with every figure drawn."""
    start = time.perf_counter()
    for p in pages:
        p.get_by_role("button", name="Retrain").first.click()
    pages[0].get_by_text(f"seed {seed}").first.wait_for(timeout=600_000)
    wait_for_app(pages[0])
    return time.perf_counter() - start


def slider_latencies(page, presses: int, during=None) -> list[float]:
    """ms from a key press on the first Decoder-playground slider to the new decoded digit."""
    page.get_by_role("tab", name="Decoder playground").click()
    wait_for_app(page)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="z1").get_by_role("slider")
    page.evaluate(LATENCY_JS)
    slider.press("Home")  # from a known end: every press below moves it (not timed)
    # Its digit drawn first: else the next press could supersede this rerun before it draws, the
    # digit would come back to the one the next press's latency starts from, and that press would
    # count only when some other image changed (seen: one press "answered" at the training's end).
    page.evaluate("window.__latency")
    wait_for_app(page)
    out, key = [], "End"
    for _ in range(presses):
        if during is not None and not during():
            break
        thumb = page.locator('[data-testid="stSlider"]').filter(has_text="z1").get_by_role("slider")
        page.evaluate(LATENCY_JS)
        thumb.press(key)
        key = "Home" if key == "End" else "End"
        latency = page.evaluate("window.__latency")
        if latency is not None:  # None: the slider was at that end already (not a press to count)
            out.append(latency)
        wait_for_app(page)
        time.sleep(0.3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tabs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--presses", type=int, default=9)
    args = ap.parse_args()
    if CHROMIUM is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-retrain-"))
    seed = 100
    cli = []
    for _ in range(args.repeats):
        seed += 1
        cli.append(cli_train(work / "cli", seed))
        print(f"command line: {cli[-1][0]:.1f} s wall, {cli[-1][1]:.1f} s training", flush=True)
    cli_wall = statistics.median(w for w, _ in cli)

    server, url = start_server(clean_env(APCORE_CHECKPOINT_DIR=str(work / "app")), work / "server.log")
    meter = CpuMeter({"server": lambda: [server.pid], "worker": lambda: pids_matching("apcore.worker"),
                      "browser": lambda: pids_matching("chromium")})
    rows, latency_rows, hall_rows = [], [], []
    seen_seed = 0
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            def new_tab(query: str = ""):
                p = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                p.set_default_timeout(600_000)
                p.goto(f"{url}/{PAGE}{query}")
                return p

            pages = [new_tab()]
            pages[0].get_by_text("seed 0").first.wait_for()  # the page trains its model on the first visit
            wait_for_app(pages[0])

            for tabs in (1, args.tabs):
                while len(pages) < tabs:  # the other tabs open only for their own runs: they cost CPU
                    pages.append(new_tab())
                    wait_for_app(pages[-1])
                for _ in range(args.repeats):
                    seen_seed += 1
                    time.sleep(2)  # let the browser settle
                    meter.start()
                    wall = retrain(pages[:tabs], seen_seed)
                    cpu = meter.stop()
                    train_s = panel_seconds(pages[0])
                    rows.append((tabs, wall, train_s, cpu))
                    print(f"{tabs} tab(s): {wall:.1f} s to the new figures (training {train_s:.1f} s); "
                          + ", ".join(f"{k} {v / cpu['wall']:.0%}" for k, v in cpu.items() if k != "wall"), flush=True)

            presenter = pages[0]
            for watchers in (len(pages), 1):  # the room's tabs open on this machine, then the presenter alone
                for p in pages[watchers:]:
                    p.context.close()
                idle = slider_latencies(presenter, args.presses)
                seen_seed += 1
                presenter.get_by_role("button", name="Retrain").first.click()
                # The progress line, or the new model if the training ended before a tick drew it (a
                # 4-s training on a fast machine: the lecturer's tab waits for the end without drawing).
                started = presenter.get_by_text("Training · epoch")
                started.or_(presenter.get_by_text(f"seed {seen_seed}")).first.wait_for()
                # As many as the training lasts: until the new model shows (the progress line's text
                # is briefly absent while its fragment redraws, which ended the presses early).
                busy = slider_latencies(presenter, BUSY_PRESSES,
                                        during=lambda: presenter.get_by_text(f"seed {seen_seed}").count() == 0)
                presenter.get_by_text(f"seed {seen_seed}").first.wait_for()
                wait_for_app(presenter)
                latency_rows.append((watchers, idle, busy))
                print(f"slider with {watchers} tab(s) open: idle {statistics.median(idle):.0f} ms, "
                      f"training {statistics.median(busy) if busy else float('nan'):.0f} ms", flush=True)
            presenter.context.close()
            stop_server(server)
            # The lecture hall: the same models, a server with a presenter key.
            server, url = start_server(clean_env(APCORE_CHECKPOINT_DIR=str(work / "app"), APCORE_PRESENTER_KEY=HALL_KEY),
                                       work / "server-hall.log")
            room = [new_tab(f"&presenter={HALL_KEY}")]
            wait_for_app(room[0])
            while len(room) < args.tabs:
                room.append(new_tab())
                wait_for_app(room[-1])
            for _ in range(args.repeats):
                seen_seed += 1
                time.sleep(2)
                meter.start()
                wall = retrain(room[:1], seen_seed)
                cpu = meter.stop()
                for p in room[1:]:
                    p.get_by_text(f"seed {seen_seed}").first.wait_for(timeout=120_000)
                room_wall = time.perf_counter() - meter.t0
                hall_rows.append((len(room), wall, panel_seconds(room[0]), cpu, room_wall))
                print(f"hall of {len(room)} tabs: {wall:.1f} s to the lecturer's new figures, {room_wall:.1f} s until "
                      "every tab shows the new model", flush=True)
            browser.close()
    finally:
        stop_server(server)

    table = [["command line (whole process)", args.repeats, f"{cli_wall:.1f}", "1.00",
              f"{statistics.median(t for _, t in cli):.1f}", "", "", ""]]
    def row(label: str, runs: list[tuple]) -> list:
        """(tabs, wall, train s, cpu, ...) runs -> a table row of medians."""
        wall = statistics.median(r[1] for r in runs)
        share = [f"{statistics.median(r[3][k] / r[3]['wall'] for r in runs):.0%}" for k in ("server", "worker", "browser")]
        return [label, len(runs), f"{wall:.1f}", f"{wall / cli_wall:.2f}", f"{statistics.median(r[2] for r in runs):.1f}",
                *share]

    for tabs in (1, args.tabs):
        table.append(row(f"Retrain watched by {tabs} tab{'s' if tabs > 1 else ''}", [r for r in rows if r[0] == tabs]))
    if hall_rows:
        table.append(row(f"Retrain in a lecture hall: the lecturer's tab and {hall_rows[0][0] - 1} following", hall_rows))
    latency = []
    for watchers, idle, busy in latency_rows:
        idle_ms = statistics.median(idle)
        busy_ms = statistics.median(busy) if busy else float("nan")
        latency.append(f"with {watchers} tab{'s' if watchers > 1 else ''} open (all watching the training): idle "
                       f"**{idle_ms:.0f} ms**, while a Retrain trains **{busy_ms:.0f} ms** ({busy_ms / idle_ms:.2f}x; "
                       f"{len(idle)} / {len(busy)} presses)")
    notes = ("Presenter's slider latency (key press -> new decoded digit on screen, median): "
             + "; ".join(latency) + ". With the room's tabs on this machine their browsers take the cores "
             "the lecturer's own tab needs; in a lecture hall they run on the students' devices.\n\n"
             "Wall s: from pressing Retrain to the presenter's page showing the new model (Retrain rows), or the "
             "whole `python -m apcore train` process (import, data, training, evaluation, save). "
             + (f"Lecture hall: every audience tab showed the new model "
                f"{statistics.median(r[4] for r in hall_rows):.1f} s after the press (median); "
                "the audience cannot press Retrain, it follows the lecturer's. " if hall_rows else "")
             + "CPU columns: "
             "percent of one core over the Retrain's wall time (the browser shares this machine's cores). "
             f"Config: {FAMILY}, latent {LATENT}, the page's default budget.")
    write_table("retrain", "Retrain in the browser vs the command line",
                ["what", "runs", "wall s (median)", "ratio to CLI", "train s", "server CPU", "worker CPU",
                 "browser CPU"], table, notes)


if __name__ == "__main__":
    main()
