"""A lecturer's first clicks after the Overview, at a fixed moment: two checkouts in turn.

    python3 bench/switch_after.py --checkpoints /tmp/warm --baseline /tmp/before --after 2.4,5
    python3 bench/switch_after.py --checkpoints /tmp/warm --baseline /tmp/before --after 2.4 --rounds 2 --no-write

``bench/page_open.py``'s "switched to in the tab" starts its clicks once the server's preload has
finished, so a change that moves the preload moves the clicks too, and the two checkouts are
compared at different moments of the server's and the browser's first seconds. Here the clicks
start ``--after`` seconds from the Overview drawn, the same for both checkouts: a fresh server per
round and checkout, the Overview in one tab, then each page by its sidebar link
(``bench.page_open.switch_times``). Reported: the first switch to each page, median and slowest
of the rounds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser import CHROMIUM, ROOT  # noqa: E402
from bench.common import cpu_name, write_table  # noqa: E402
from bench.page_open import chosen_pages, clean_env, serving, switch_times, warm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", type=Path, required=True, help="a warm checkpoint folder (python -m apcore warm)")
    ap.add_argument("--baseline", type=Path, required=True, help="the other checkout (git worktree add DIR COMMIT)")
    ap.add_argument("--after", default="2.4,5",
                    help="seconds from the Overview drawn to the first click, comma-separated")
    ap.add_argument("--pages", default="autoencoder,vae,anomaly,denoise,clustering")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if CHROMIUM is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    pages = chosen_pages(args.pages)
    env = clean_env(args.checkpoints)
    variants = {"before": args.baseline.resolve(), "after": ROOT}
    for root in variants.values():
        warm(env, Path("/dev/null"), root)   # only adds what the folder lacks
    afters = [float(a) for a in args.after.split(",")]
    times = {(a, label, p): [] for a in afters for label in variants for p in pages}
    with sync_playwright() as pw:
        for r in range(args.rounds):
            for a in afters:
                for label, root in variants.items():
                    with serving(root):
                        out = switch_times(pw, env, pages, root, Path("/dev/null"), args.timeout, 0, after_s=a)
                    for p, (first, _) in out.items():
                        times[a, label, p].append(first)
                    print(f"# round {r + 1}, {a:g} s after the Overview, {label}: "
                          + ", ".join(f"{p} {v[0]:.2f}" for p, v in out.items()), flush=True)

    def cell(a, label, p):
        v = [x for x in times[a, label, p] if not math.isnan(x)]
        missed = len(times[a, label, p]) - len(v)
        text = f"{statistics.median(v):.2f} / {max(v):.2f}" if v else "-"
        return text + (f" ({missed} not ready)" if missed else "")

    header = ["first click after the Overview", "page", "before: median / slowest s", "after: median / slowest s"]
    rows = [[f"{a:g} s", p, cell(a, "before", p), cell(a, "after", p)] for a in afters for p in pages]
    notes = (f"CPU: {cpu_name()}. {args.rounds} rounds; per round and checkout a fresh server, the Overview in one "
             "tab, then, from the given moment, each page by its sidebar link, in one tab: seconds from the click "
             "until its title and figures are drawn and visible (bench/page_open.py's SWITCH_JS), the first time "
             f"each. before = {args.baseline}, after = this checkout.")
    write_table("switch_after", "Switching pages at a fixed moment after the Overview", header, rows, notes,
                write=not args.no_write)


if __name__ == "__main__":
    main()
