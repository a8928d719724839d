"""The first Retrain of a fresh server, as a lecture starts: the page open, the lecturer talking.

    python3 bench/first_retrain.py                                  # trains the defaults first
    python3 bench/first_retrain.py --checkpoints /tmp/ckpt --baseline /tmp/before --rounds 2
    python3 bench/first_retrain.py --checkpoints /tmp/ckpt --page clustering   # the AE, then its UMAP view

A fresh server on a copy of a warm checkpoint folder (``python -m apcore warm``), a page opened in
Chromium (``--page``, an address: by default the autoencoder page's 5-d MLP code; ``clustering``: its
AE, ready once the model and its UMAP view are computed), :data:`IDLE_S` of the lecturer talking (the worker idle:
since issue 14 it warms its trainer up then, ``apcore.worker.warm_up``), then Retrain pressed:
seconds from the press of the page's first Retrain until the page shows the new model with every
figure drawn, and the training time its panel reports. ``--baseline DIR`` times another checkout in turn with this one
(``git worktree add /tmp/before COMMIT``), round by round, on the same machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser import CHROMIUM, ROOT, launch, start_server, stop_server, wait_for_app  # noqa: E402
from bench.common import cpu_name, write_table  # noqa: E402
from bench.page_open import clean_env, serving, warm  # noqa: E402
from bench.retrain import panel_seconds  # noqa: E402

PAGES = {"autoencoder?latent=5": "the autoencoder page (5-d MLP code)",
         "clustering": "the clustering page (its AE, then the AE's UMAP view and clusterings)"}
IDLE_S = 25.0  # the worker warms up after apcore.worker.PREPARE_AFTER_S (15 s) of idleness


def first_retrain(pw, checkpoints: Path, log_dir: Path, address: str) -> tuple[float, float]:
    """(seconds from pressing the first Retrain of the page at ``address`` to the new model drawn,
    the panel's training seconds) on a fresh server over a private copy of ``checkpoints``."""
    folder = Path(tempfile.mkdtemp(prefix="first-retrain-", dir=log_dir))
    shutil.copytree(checkpoints, folder, dirs_exist_ok=True)
    browser = launch(pw)
    proc, url = start_server(clean_env(folder), folder / "server.log")
    try:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(300_000)
        page.goto(f"{url}/{address}")
        page.get_by_text("seed 0").first.wait_for()
        wait_for_app(page)
        time.sleep(IDLE_S)
        start = time.perf_counter()
        page.get_by_role("button", name="Retrain").first.click()
        page.get_by_text("seed 1").first.wait_for()
        wait_for_app(page)
        return time.perf_counter() - start, panel_seconds(page)
    finally:
        stop_server(proc)
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", type=Path, help="warm checkpoint folder to copy (default: trained here first)")
    ap.add_argument("--baseline", type=Path, help="another checkout timed in turn with this one (before/after)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--page", default=next(iter(PAGES)), choices=list(PAGES), help="the page's address")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if CHROMIUM is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    log_dir = Path(tempfile.mkdtemp(prefix="first-retrain-logs-"))
    checkpoints = args.checkpoints or log_dir / "warm"
    if args.checkpoints is None:
        warm(clean_env(checkpoints), log_dir / "warm.log")
    variants = {"before": args.baseline.resolve(), "after": ROOT} if args.baseline else {"": ROOT}
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    with sync_playwright() as pw:
        for r in range(args.rounds):
            for label, root in variants.items():
                with serving(root):
                    runs[label].append(first_retrain(pw, checkpoints, log_dir, args.page))
                wall, trained = runs[label][-1]
                print(f"# round {r + 1} {label}: first Retrain {wall:.2f} s (panel: trained in {trained:.0f} s)",
                      flush=True)
    rows = [[label or "this checkout", len(runs[label]), f"{statistics.median(w for w, _ in runs[label]):.2f}",
             " / ".join(f"{w:.2f}" for w, _ in runs[label]), " / ".join(f"{t:.0f}" for _, t in runs[label])]
            for label in variants]
    if args.baseline:
        ratio = statistics.median(w for w, _ in runs["after"]) / statistics.median(w for w, _ in runs["before"])
        rows.append(["after / before", "", f"{ratio:.2f}", "", ""])
    notes = (f"CPU: {cpu_name()}. Each round: a fresh server on a copy of the warm checkpoints, {PAGES[args.page]} "
             f"opened in Chromium, {IDLE_S:.0f} s idle, Retrain pressed; seconds until the new model "
             "(seed 1) and every figure are drawn; panel: the training seconds the page reports (whole seconds)"
             + (f"; before = {args.baseline}, in turn with after = this checkout" if args.baseline else "") + ".")
    name = "first_retrain" if args.page == next(iter(PAGES)) else f"first_retrain_{args.page}"
    write_table(name, f"The first Retrain of a fresh server: {PAGES[args.page]}",
                ["checkout", "runs", "wall s (median)", "each run s", "panel: trained in s"], rows, notes,
                write=not args.no_write)


if __name__ == "__main__":
    main()
