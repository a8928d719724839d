"""A lecture hall on one server: a presenter and N following audience tabs in real Chromium.

    python3 bench/hall.py [--followers 12] [--moves 6]

Each follower is its own browser context (its own session), on a phone-sized or laptop-sized
screen. Models are trained first with tiny budgets (what is measured here is following, not
training). Measured in one run:

- follow lag: from the presenter's key press on the latent slider (or click on a page link) to
  each follower showing the presenter's new model (or page); median and worst over followers and
  moves;
- the presenter's own latency (key press -> the page shows the new model), with no followers and
  with N following: target <= 1.5x;
- the server's CPU: per follower and second while idle (the follow poll), and per follower per
  presenter move (the follower's rerun), from which the lag of a hall of 100 is read off;
- the server's resident memory after the run.

Targets (issue 11): median follow lag <= 2 s with 12 followers; presenter latency <= 1.5x idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser import ROOT, CpuMeter, launch, start_server, stop_server, wait_for_app  # noqa: E402
from bench.common import write_table  # noqa: E402

KEY = "bench-hall-key"
LATENTS = (2, 3, 4, 5)
BUDGET = {"APCORE_EPOCHS": "1", "APCORE_TRAIN_LIMIT": "2000"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pretrain(checkpoints: Path) -> None:
    """The autoencoder page's models at the sizes the presenter will move through."""
    import subprocess

    env = {**os.environ, **BUDGET, "APCORE_CHECKPOINT_DIR": str(checkpoints)}
    for d in LATENTS:
        subprocess.run([sys.executable, "-m", "apcore", "train", "ae-mlp", "--latent-dim", str(d), "--json"],
                       cwd=ROOT, env=env, check=True, capture_output=True)


def shown(latent: int) -> str:
    return f"ae-mlp, latent {latent}, mnist · test BCE"


def move(presenter, followers, latent: int, key: str) -> tuple[float, list[float]]:
    """Press ``key`` on the presenter's latent slider; (presenter s, follower lags s)."""
    thumb = presenter.locator('[data-testid="stSlider"]').filter(has_text="Latent size").get_by_role("slider")
    thumb.focus()
    start = time.perf_counter()
    thumb.press(key)
    presenter.get_by_text(shown(latent)).first.wait_for(timeout=60_000)
    own = time.perf_counter() - start
    lags = []
    for f in followers:
        f.get_by_text(shown(latent)).first.wait_for(timeout=60_000)
        lags.append(time.perf_counter() - start)
    return own, lags


def sweep(presenter, followers, moves: int) -> tuple[list[float], list[float]]:
    """Move the presenter's latent slider from the smallest size up and down ``moves`` times
    (an even number: it ends where it started)."""
    own, lags = [], []
    latent = LATENTS[0]
    half = min(moves // 2, len(LATENTS) - 1)
    cycle = [1] * half + [-1] * half
    for i in range(moves):
        going_up = cycle[i % len(cycle)] > 0
        latent += 1 if going_up else -1
        o, lag = move(presenter, followers, latent, "ArrowRight" if going_up else "ArrowLeft")
        own.append(o)
        lags += lag
        wait_for_app(presenter)
        time.sleep(0.5)
    return own, lags


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--followers", type=int, default=12)
    ap.add_argument("--moves", type=int, default=6)
    args = ap.parse_args()
    half = min(args.moves // 2, len(LATENTS) - 1) or 1
    args.moves = max(2 * half, args.moves - args.moves % (2 * half))  # whole up-and-down cycles
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-hall-"))
    pretrain(work / "checkpoints")
    env = {**os.environ, **BUDGET, "APCORE_CHECKPOINT_DIR": str(work / "checkpoints"), "APCORE_PRESENTER_KEY": KEY}
    server, url = start_server(env, work / "server.log")
    meter = CpuMeter({"server": lambda: [server.pid]})
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            presenter = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            presenter.set_default_timeout(120_000)
            presenter.goto(f"{url}/autoencoder?presenter={KEY}")
            presenter.get_by_text(shown(LATENTS[0])).first.wait_for()
            wait_for_app(presenter)
            assert KEY not in presenter.url

            # The presenter alone: its own latency, and the server's CPU per move.
            meter.start()
            idle_own, _ = sweep(presenter, [], args.moves)
            alone = meter.stop()

            sizes = [{"width": 390, "height": 844}, {"width": 1280, "height": 800}]
            followers = []
            for i in range(args.followers):
                page = browser.new_context(viewport=sizes[i % 2]).new_page()
                page.set_default_timeout(120_000)
                page.goto(url)
                followers.append(page)
            for f in followers:
                f.get_by_text(shown(LATENTS[0])).first.wait_for()
                wait_for_app(f)
            time.sleep(3)

            meter.start()
            time.sleep(10)
            polling = meter.stop()

            meter.start()
            hall_own, lags = sweep(presenter, followers, args.moves)
            moving = meter.stop()

            # A page change: the followers go where the presenter goes.
            start = time.perf_counter()
            presenter.get_by_role("link", name="Transposed convolution").first.click()
            page_lags = []
            for f in followers:
                f.get_by_text("Transposed convolution").first.wait_for()
                page_lags.append(time.perf_counter() - start)
            time.sleep(2)
            memory = rss_mb(server.pid)
            browser.close()
    finally:
        stop_server(server)

    n = args.followers
    per_move_alone = alone["server"] / args.moves
    per_move_hall = (moving["server"] - polling["server"] / polling["wall"] * moving["wall"]) / args.moves
    per_follower_rerun = max(per_move_hall - per_move_alone, 0.0) / n
    poll_per_follower = polling["server"] / polling["wall"] / n
    rows = [
        ["follow lag, slider move (s)", f"{statistics.median(lags):.2f}", f"{max(lags):.2f}", f"{len(lags)} (moves x followers)"],
        ["follow lag, page change (s)", f"{statistics.median(page_lags):.2f}", f"{max(page_lags):.2f}", f"{n}"],
        ["presenter latency, alone (s)", f"{statistics.median(idle_own):.2f}", f"{max(idle_own):.2f}", f"{args.moves}"],
        [f"presenter latency, {n} following (s)", f"{statistics.median(hall_own):.2f}", f"{max(hall_own):.2f}",
         f"{args.moves}; ratio {statistics.median(hall_own) / statistics.median(idle_own):.2f}"],
        ["server CPU per presenter move, alone (ms)", f"{per_move_alone * 1000:.0f}", "", ""],
        ["server CPU per follower rerun (ms)", f"{per_follower_rerun * 1000:.0f}", "", "(hall move - alone move) / followers"],
        ["server CPU of the follow poll (% of a core per follower)", f"{poll_per_follower * 100:.2f}", "", "idle hall, 10 s"],
        ["server memory after the run (MB)", f"{memory:.0f}", "", "resident"],
    ]
    hundred = 100 * per_follower_rerun + per_move_alone
    notes = (f"{n} followers, each a separate browser context (half at 390x844, half at 1280x800), on the same "
             f"2-core machine as the server: the browsers' own CPU competes with the server's, so the lags are an "
             f"upper bound for a hall whose students bring their own devices.\n\n"
             f"Read-off for a hall of 100: one presenter move costs the server about {hundred:.1f} s of CPU "
             f"(100 follower reruns + the presenter's), so the last of 100 followers would be about "
             f"{hundred:.1f} s behind on one core; the follow poll alone would take "
             f"{100 * poll_per_follower:.0%} of a core.")
    write_table("hall", f"Lecture hall: a presenter and {n} followers", ["what", "median", "worst", "n / note"], rows,
                notes)


if __name__ == "__main__":
    main()
