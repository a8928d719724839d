"""Two Retrains in a row on the VAE page, in a real browser: the second against the same Retrain alone.

    python3 bench/back_to_back.py [--checkpoints DIR] [--rounds 3] [--baseline DIR]

A lecturer compares latent sizes: Retrain of the 2-D VAE, and as soon as its figures are drawn,
the 20-d one. Each MLP VAE is also a model of the clustering page, so after announcing it the
worker keeps that page's view of it (UMAP of its codes, ~6 s on the 2-core CPU); the second
Retrain must not wait for the first one's view (issue 14, ``apcore.worker.serve_one``).

Per round, on a fresh server over a copy of a warm checkpoint folder (``python -m apcore warm``,
made first if ``--checkpoints`` is not given): Debian's Chromium opens ``vae?arch=mlp&latent=20``,
waits for the worker's idle warm-up, then times from the press to the new seed drawn (the script
finished): the 20-d Retrain alone; after a pause (the worker idle again), the 2-D Retrain, then at
once (a new address: the page's latent) the 20-d one. ``--baseline DIR``: another checkout timed in
turn, round by round (before/after).
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

IDLE_S = 25.0    # the worker's warm-up waits 15 s idle (apcore.worker.PREPARE_AFTER_S), then ~4 s
SETTLE_S = 15.0  # after the first Retrain: its clustering view kept, the worker idle


def retrain(page, url: str, latent: int, seed: int, timeout_s: float) -> float:
    """Open the VAE page at ``latent``, press Retrain: seconds until ``seed N`` is drawn."""
    page.goto(f"{url}/vae?arch=mlp&latent={latent}")
    page.get_by_text(f"vae-mlp, latent {latent}, mnist").first.wait_for(timeout=timeout_s * 1000)
    wait_for_app(page)
    start = time.perf_counter()
    page.get_by_role("button", name="Retrain").first.click()
    page.get_by_text(f"seed {seed}").first.wait_for(timeout=timeout_s * 1000)
    wait_for_app(page)
    return time.perf_counter() - start


def one_round(pw, checkpoints: Path, log: Path, timeout_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="back-to-back-") as tmp:
        folder = Path(tmp) / "checkpoints"
        shutil.copytree(checkpoints, folder)
        proc, url = start_server(clean_env(folder), log)
        try:
            browser = launch(pw)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{url}/vae?arch=mlp&latent=20")
                wait_for_app(page)
                time.sleep(IDLE_S)
                alone = retrain(page, url, 20, 1, timeout_s)
                time.sleep(SETTLE_S)
                first = retrain(page, url, 2, 1, timeout_s)
                drawn = time.perf_counter()
                second = retrain(page, url, 20, 2, timeout_s)
                gap = time.perf_counter() - drawn - second
                problem = "an exception on the page" if page.query_selector('[data-testid="stException"]') else ""
            finally:
                browser.close()
        finally:
            stop_server(proc)
    return {"alone": alone, "first": first, "second": second, "gap": gap, "problem": problem}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", type=Path, help="a warm checkpoint folder (copied per server; default: made now)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", type=Path, help="another checkout timed in turn with this one (before/after)")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    args = ap.parse_args()
    if CHROMIUM is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    log_dir = Path(tempfile.mkdtemp(prefix="back-to-back-logs-"))
    checkpoints = args.checkpoints or Path(tempfile.mkdtemp(prefix="back-to-back-warm-"))
    if args.checkpoints is None:
        print(f"# warm: {warm(clean_env(checkpoints), log_dir / 'warm.log'):.1f} s into {checkpoints}", flush=True)
    variants = {"before": args.baseline.resolve(), "after": ROOT} if args.baseline else {"this checkout": ROOT}
    runs: dict[str, list[dict]] = {label: [] for label in variants}
    with sync_playwright() as pw:
        for r in range(args.rounds):
            for label, root in (variants.items() if r % 2 == 0 else reversed(variants.items())):
                with serving(root):
                    row = one_round(pw, checkpoints, log_dir / f"server-{label.replace(' ', '-')}-{r}.log", args.timeout)
                runs[label].append(row)
                print(f"# round {r + 1} {label}: 20-d alone {row['alone']:.1f} s; 2-D {row['first']:.1f} s, then 20-d "
                      f"pressed {row['gap']:.1f} s after it was drawn: {row['second']:.1f} s {row['problem']}", flush=True)

    def med(label, key):
        return statistics.median(r[key] for r in runs[label])

    header = ["checkout", "20-d Retrain alone s", "2-D Retrain s", "20-d Retrain right after s",
              "right after / alone (per round)", "pressed s after the 2-D was drawn", "problems"]
    rows = [[label, f"{med(label, 'alone'):.1f}", f"{med(label, 'first'):.1f}", f"{med(label, 'second'):.1f}",
             " / ".join(f"{r['second'] / r['alone']:.2f}" for r in runs[label]), f"{med(label, 'gap'):.1f}",
             "; ".join(sorted({r["problem"] for r in runs[label] if r["problem"]}))] for label in variants]
    notes = (f"CPU: {cpu_name()}. Medians of {args.rounds} round(s), a fresh server per round over a copy of "
             "a warm checkpoint folder; seconds from the press until the new seed is drawn and the script has "
             "finished. Each MLP VAE is also a model of the clustering page: after announcing it, the worker keeps "
             "that page's view of it (~6 s)."
             + (f" before = {args.baseline}, after = this checkout, alternating round by round." if args.baseline else ""))
    write_table("back_to_back", "Two Retrains in a row on the VAE page (Chromium)", header, rows, notes,
                write=not args.no_write)


if __name__ == "__main__":
    main()
