"""Opening each page of a warm server in a real browser: first visit of a fresh server, then again.

    python3 bench/page_open.py                            # trains the defaults into a temporary folder first
    python3 bench/page_open.py --checkpoints /tmp/ckpt     # reuse (and complete) a folder: no retraining
    python3 bench/page_open.py --pages clustering,autoencoder --rounds 2 --no-write

"Warm" as before a lecture: every page default trained and its derived artefacts computed
(``python -m apcore warm``, run here first; with ``--checkpoints`` it only adds what is missing).
For each page a FRESH server process (``bench.browser.start_server``) is started and, once it
answers ``/_stcore/health``, Debian's Chromium opens the page's address directly:

- first visit: from ``page.goto`` until the script has finished (``stApp`` not running, no
  skeleton) and the page's main figures are drawn and visible (:data:`PAGES`: Plotly plots, images,
  tables; Streamlit draws a Plotly chart hidden first, before it knows its column's width);
- second visit: a new tab (a new session) on the same server, timed the same way;
- first visit, server up: another fresh server left alone for ``--settle`` seconds (as a lecturer
  starts it before the lecture: its start-up, ``ui.resources.serving``, loads what the pages need),
  then the page opened in a new browser (nothing cached);
- after the Overview: on another fresh server, the Overview opened first (as a lecturer starts),
  the server's background preload (``ui.resources.preload``) let finish, then the page opened;
- switched to in the tab: once per round, a fresh server, the Overview, the preload, then every
  page in turn by its link in the sidebar, in one tab (how a lecturer moves through the lecture),
  twice over: from the click until the page's title and figures are drawn and visible.

``--rounds N`` repeats the whole sweep and reports the median of each cell. ``--baseline DIR``
times another checkout too (``git worktree add /tmp/before COMMIT``), page by page in turn with
this one, so that before/after are compared within one run on a shared machine. Target (issue
14): every first visit within 2 s on the 2-core CPU. The load average is reported beside the times.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import browser  # noqa: E402
from bench.browser import CHROMIUM, ROOT, launch, start_server, stop_server  # noqa: E402
from bench.common import chosen, cpu_name, write_table  # noqa: E402

# page -> (address, [(CSS selector, how many must be there)]): the figures that make the page.
PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg'
IMAGE = '[data-testid="stImage"] img'
# The clustering page's rows of digits: one HTML element of <img>s (st.image in older checkouts, as a baseline).
CLUSTER_ROWS = f'{IMAGE}, [data-testid="stHtml"] .cl-rows img'
# A Vega-Lite chart drawn (its canvas or SVG); the clustering page's two (Plotly in older checkouts).
VEGA = '[data-testid="stVegaLiteChart"] .marks'
PAGES = {
    "home": ("", [('[data-testid="stPageLink"]', 6)]),
    "autoencoder": ("autoencoder", [(IMAGE, 2)]),
    "transposed_conv": ("transposed_conv", [('[data-testid="stHtml"]', 1)]),
    "vae": ("vae", [(PLOT, 1)]),
    "anomaly": ("anomaly", [(PLOT, 3), (IMAGE, 1)]),
    "denoise": ("denoise", [(IMAGE, 1), (PLOT, 1)]),
    "clustering": ("clustering", [(f"{PLOT}, {VEGA}", 2), ('[data-testid="stTable"]', 1), (CLUSTER_ROWS, 2)]),
}
# The server's log line once its preload has loaded the data and page defaults (both versions' wording).
PRELOADED = "page defaults in"
READY_JS = """(wanted) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const shown = (sel) => [...document.querySelectorAll(sel)].filter(e => getComputedStyle(e).visibility === 'visible');
  return wanted.every(([sel, n]) => shown(sel).length >= n);
}"""
# Ready after a click in the sidebar: the page's own title drawn (not the previous page's), then as above.
SWITCH_JS = ("([title, wanted]) => [...document.querySelectorAll('h1')].some(h => h.textContent.startsWith(title))"
             f" && ({READY_JS})(wanted)")


def chosen_pages(spec: str) -> list[str]:
    """``--pages``' comma-separated names, checked against :data:`PAGES` (else the command exits)."""
    return chosen(spec, PAGES, "pages")


def clean_env(checkpoints: Path) -> dict[str, str]:
    """The environment of a lecture's server: page budgets, everyone presents, this folder."""
    drop = ("APCORE_EPOCHS", "APCORE_TRAIN_LIMIT", "APCORE_CLUSTER_LIMIT", "APCORE_PRESENTER_KEY")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "APCORE_CHECKPOINT_DIR": str(checkpoints)}


def warm(env: dict[str, str], log: Path, root: Path = ROOT) -> float:
    """``python -m apcore warm`` of the checkout ``root`` into the folder; its wall seconds (near 0
    when all is there)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        subprocess.run([sys.executable, "-m", "apcore", "warm"], cwd=root, env=env, stdout=out,
                       stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start


def page_title(root: Path, name: str) -> str:
    """The ``st.title`` of page ``name`` in the checkout ``root`` (its file under ``pages/``)."""
    return re.search(r'st\.title\("([^"]+)"', (root / "pages" / f"{name}.py").read_text()).group(1)


def switch_times(pw, env: dict[str, str], pages: list[str], root: Path, log: Path, timeout_s: float,
                 preload_wait_s: float, after_s: float | None = None) -> dict[str, list[float]]:
    """A fresh server, the Overview in one tab, its preload let finish (or, with ``after_s``,
    ``after_s`` seconds from the Overview drawn, whatever the server is doing then), then each page
    by its sidebar link, twice over: page -> [seconds the first time, the second time] (NaN: not
    ready in time)."""
    out: dict[str, list[float]] = {name: [] for name in pages}
    browser_ = launch(pw)
    proc, url = start_server(env, log)
    try:
        tab = browser_.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        tab.goto(url, wait_until="commit")
        tab.wait_for_function(READY_JS, arg=PAGES["home"][1], polling=50, timeout=timeout_s * 1000)
        if after_s is None:
            wait_for_log(log, PRELOADED, preload_wait_s)
        else:
            time.sleep(after_s)
        for name in pages * 2:
            path, wanted = PAGES[name]
            nav = '[data-testid="stSidebarNav"] a'
            link = tab.locator(f'{nav}[href$="/{path}"]') if path else tab.locator(nav).first
            start = time.perf_counter()
            try:
                link.click()
                title = page_title(root, name)
                tab.wait_for_function(SWITCH_JS, arg=[title, wanted], polling=50, timeout=timeout_s * 1000)
                out[name].append(time.perf_counter() - start)
            except Exception:  # noqa: BLE001 - a page that never gets ready is a result
                out[name].append(float("nan"))
    finally:
        stop_server(proc)
        browser_.close()
    return out


def has_preload(root: Path) -> bool:
    """Whether the checkout's server preloads in the background (``ui.resources.preload``)."""
    resources = root / "ui" / "resources.py"
    return resources.exists() and "def preload" in resources.read_text()


@contextlib.contextmanager
def serving(root: Path):
    """``bench.browser.start_server`` runs the app of the checkout ``root`` meanwhile."""
    before, browser.ROOT = browser.ROOT, root
    try:
        yield
    finally:
        browser.ROOT = before


def visit(context, url: str, wanted: list, timeout_s: float) -> tuple[float, str]:
    """Open ``url`` in a new tab: (seconds until the script ended with ``wanted`` drawn, problem or "")."""
    page = context.new_page()
    try:
        return timed_open(page, url, wanted, timeout_s)
    finally:
        page.close()


def timed_open(page, url: str, wanted: list, timeout_s: float) -> tuple[float, str]:
    """Open ``url`` in the tab ``page``: (seconds until the script ended with ``wanted`` drawn,
    problem or "")."""
    try:
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_function(READY_JS, arg=wanted, polling=50, timeout=timeout_s * 1000)
        seconds = time.perf_counter() - start
        return seconds, "exception on the page" if page.query_selector('[data-testid="stException"]') else ""
    except Exception as exc:  # noqa: BLE001 - a page that never gets ready is a result, not a crash
        return float("nan"), f"not ready: {type(exc).__name__}"


def wait_for_log(log: Path, text: str, timeout_s: float) -> float:
    """Seconds until ``text`` appears in the server's log (NaN if it does not within ``timeout_s``)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if text in log.read_text(errors="replace"):
            return time.perf_counter() - start
        time.sleep(0.1)
    return float("nan")


def open_page(pw, env: dict[str, str], name: str, log_dir: Path, timeout_s: float, preload_wait_s: float,
              settle_s: float) -> dict:
    """One page of a fresh server: first and second visit; another fresh server left alone for
    ``settle_s`` seconds: first visit; a third: after the Overview."""
    path, wanted = PAGES[name]
    browser = launch(pw)
    try:
        t0 = time.perf_counter()
        proc, url = start_server(env, log_dir / f"server-{name}.log")
        health = time.perf_counter() - t0
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            load = os.getloadavg()[0]
            first, p1 = visit(context, f"{url}/{path}", wanted, timeout_s)
            second, p2 = visit(context, f"{url}/{path}", wanted, timeout_s)
        finally:
            stop_server(proc)
        proc, url = start_server(env, log_dir / f"server-{name}-settled.log")
        try:
            time.sleep(settle_s)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            settled, p4 = visit(context, f"{url}/{path}", wanted, timeout_s)
        finally:
            stop_server(proc)
        log = log_dir / f"server-{name}-after-home.log"
        proc, url = start_server(env, log)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            visit(context, url, PAGES["home"][1], timeout_s)
            preload = wait_for_log(log, PRELOADED, preload_wait_s)
            after_home, p3 = visit(context, f"{url}/{path}", wanted, timeout_s)
        finally:
            stop_server(proc)
        return {"page": name, "health": health, "first": first, "second": second, "settled": settled,
                "after_home": after_home, "preload": preload, "load": load,
                "problem": "; ".join(filter(None, [p1, p2, p4, p3]))}
    finally:
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", type=Path, help="checkpoint folder to reuse (default: a new temporary one)")
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--rounds", type=int, default=1, help="sweeps over the pages; medians are reported")
    ap.add_argument("--baseline", type=Path, help="another checkout timed in turn with this one (before/after)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds a page may take")
    ap.add_argument("--preload-wait", type=float, default=60,
                    help="most seconds to wait for the server's preload after the Overview (none in an app without one)")
    ap.add_argument("--settle", type=float, default=15,
                    help="seconds a fresh server is left alone before the 'first visit, server up' column's visit")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if CHROMIUM is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    pages = chosen_pages(args.pages)
    checkpoints = args.checkpoints or Path(tempfile.mkdtemp(prefix="page-open-"))
    log_dir = Path(tempfile.mkdtemp(prefix="page-open-logs-"))
    env = clean_env(checkpoints)
    variants = {"before": args.baseline.resolve(), "after": ROOT} if args.baseline else {"": ROOT}
    warm_s = {}
    for label, root in variants.items():
        warm_s[label] = warm(env, log_dir / f"warm{label}.log", root)
        print(f"# warm {label}: {warm_s[label]:.1f} s into {checkpoints} (log {log_dir / f'warm{label}.log'})", flush=True)

    runs: dict[tuple[str, str], list[dict]] = {(label, p): [] for label in variants for p in pages}
    with sync_playwright() as pw:
        for r in range(args.rounds):
            for label, root in variants.items():
                with serving(root):
                    switched = switch_times(pw, env, pages, root, log_dir / f"server-switch{label}.log", args.timeout,
                                            args.preload_wait if has_preload(root) else 0)
                for name, (once, again) in switched.items():
                    runs[label, name].append({"switch": once, "switch_again": again})
                print(f"# round {r + 1} {label} switched to in one tab: "
                      + ", ".join(f"{n} {a:.2f} / {b:.2f} s" for n, (a, b) in switched.items()), flush=True)
            for name in pages:
                for label, root in variants.items():
                    preload_wait = args.preload_wait if has_preload(root) else 0
                    (log_dir / label).mkdir(exist_ok=True)
                    with serving(root):
                        row = open_page(pw, env, name, log_dir / label, args.timeout, preload_wait, args.settle)
                    runs[label, name].append(row)
                    print(f"# round {r + 1} {label} {name}: server {row['health']:.1f} s, first {row['first']:.2f} s, "
                          f"second {row['second']:.2f} s, server up {row['settled']:.2f} s, after the Overview {row['after_home']:.2f} s "
                          f"(preload waited {row['preload']:.1f} s), load {row['load']:.2f} {row['problem']}", flush=True)

    def med(label, name, key):
        return statistics.median(r[key] for r in runs[label, name] if key in r)

    def problems(name):
        return "; ".join(sorted({f"{label} {r['problem']}".strip() for label in variants for r in runs[label, name]
                                 if r.get("problem")}))

    if args.baseline:
        header = ["page", "first visit s before", "after", "after / before", "server up: first visit s before",
                  "after", "after / before", "second visit s before", "after",
                  "after the Overview s before", "after", "switched to in the tab s before", "after", "load",
                  "first <= 2 s", "server up: first <= 2 s", "problems"]
        rows = [[name, f"{med('before', name, 'first'):.2f}", f"{med('after', name, 'first'):.2f}",
                 f"{med('after', name, 'first') / med('before', name, 'first'):.2f}",
                 f"{med('before', name, 'settled'):.2f}", f"{med('after', name, 'settled'):.2f}",
                 f"{med('after', name, 'settled') / med('before', name, 'settled'):.2f}",
                 f"{med('before', name, 'second'):.2f}", f"{med('after', name, 'second'):.2f}",
                 f"{med('before', name, 'after_home'):.2f}", f"{med('after', name, 'after_home'):.2f}",
                 f"{med('before', name, 'switch'):.2f}", f"{med('after', name, 'switch'):.2f}",
                 f"{med('after', name, 'load'):.2f}", "yes" if med("after", name, "first") <= 2.0 else "**no**",
                 "yes" if med("after", name, "settled") <= 2.0 else "**no**", problems(name)] for name in pages]
    else:
        header = ["page", "first visit s", "server up: first visit s", "second visit s", "after the Overview s",
                  "switched to in the tab s", "again s", "server start s", "load", "first <= 2 s",
                  "server up: first <= 2 s", "problems"]
        rows = [[name, f"{med('', name, 'first'):.2f}", f"{med('', name, 'settled'):.2f}", f"{med('', name, 'second'):.2f}",
                 f"{med('', name, 'after_home'):.2f}", f"{med('', name, 'switch'):.2f}",
                 f"{med('', name, 'switch_again'):.2f}", f"{med('', name, 'health'):.1f}", f"{med('', name, 'load'):.2f}",
                 "yes" if med("", name, "first") <= 2.0 else "**no**",
                 "yes" if med("", name, "settled") <= 2.0 else "**no**", problems(name)] for name in pages]
    notes = (f"CPU: {cpu_name()}, {os.cpu_count()} cores. A fresh server per page (models and derived artefacts on "
             f"disk: `python -m apcore warm`), Chromium opening the page's address: seconds from `goto` until the "
             "script has finished and the page's figures are drawn and visible (not a chart Streamlit has drawn "
             "hidden); second visit: a new tab on the same server; "
             f"server up: another fresh server left alone for {args.settle:.0f} s (its start-up loads what the pages "
             "need), then the page in a new browser context (nothing cached); "
             "after the Overview: another fresh server, the Overview opened first and the server's background "
             f"preload finished, then the page; switched to in the tab: on a further fresh server, after the Overview "
             "and its preload, every page in turn by its sidebar link in one tab (as a lecturer moves through the "
             "lecture), from the click until its title and figures are drawn; again: the second time round. "
             f"Median of {args.rounds} round(s)"
             + (f"; before = {args.baseline}, timed page by page in turn with after = this checkout" if args.baseline else "")
             + ". Load: 1-minute load average when the first visit started (shared 2-core machine: other work was "
             "running). Target: first visit <= 2 s.")
    write_table("page_open", "Opening a page of a warm server in Chromium", header, rows, notes, write=not args.no_write)


if __name__ == "__main__":
    main()
