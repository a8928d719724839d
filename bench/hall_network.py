"""A student's first visit over a lecture hall's network: seconds and bytes per page, in Chromium
with its network throttled (Chrome DevTools' ``Network.emulateNetworkConditions``).

    python3 bench/hall_network.py --checkpoints /tmp/ckpt --baseline /tmp/before
    python3 bench/hall_network.py --mbit 10,40 --pages home,vae --rounds 2 --no-write

A warm server (``python -m apcore warm`` into ``--checkpoints`` first), as in class: the lecturer
has opened every page once on the server's own machine (unthrottled); then a student's browser
(a new context: nothing cached) opens each page's address over a link of ``--mbit`` megabit/s
down and ``--latency`` ms, timed from ``goto`` until the script has ended and the page's figures are
drawn (``bench.page_open``), with the bytes that crossed the link (the resources' ``transferSize``,
headers included, and the page's HTML document) and the server's CPU seconds for the visit.
``--baseline DIR`` serves another checkout (``git worktree add /tmp/before COMMIT``) beside this one;
visits alternate between the two, page by page, so both see the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser import cpu_seconds, launch, start_server, stop_server  # noqa: E402
from bench.common import cpu_name, write_table  # noqa: E402
from bench.page_open import PAGES, PRELOADED, clean_env, serving, timed_open, visit, wait_for_log, warm  # noqa: E402

STALL = 4  # a visit this many times the row's fastest is listed under problems
FRONTEND_COMPRESSED = "compressed Streamlit's frontend"  # the server's log once ui.compress.prime is done
TRANSFERRED_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const all = [nav, ...performance.getEntriesByType('resource')];
  return [all.reduce((s, e) => s + (e ? e.transferSize : 0), 0),
          all.reduce((s, e) => s + (e ? e.decodedBodySize : 0), 0)];
}"""


def payload_bytes(frame: dict) -> int:
    """A WebSocket frame's payload size (DevTools gives a binary frame, opcode 2, in base64)."""
    data = frame["payloadData"]
    return len(data) * 3 // 4 if frame["opcode"] == 2 else len(data.encode())


def student_visit(browser_, url: str, wanted: list, mbit: float, latency_ms: float, timeout_s: float,
                  server_pid: int) -> dict:
    """A new browser context on a throttled link opens ``url``: seconds, MB over the link, MB of
    files decoded, the server's CPU seconds, a problem or ""."""
    context = browser_.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    frames: list[int] = []   # the WebSocket's messages to the page (its figures' data), payload bytes
    cdp.on("Network.webSocketFrameReceived", lambda e: frames.append(payload_bytes(e["response"])))
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": latency_ms, "downloadThroughput": mbit * 1e6 / 8,
        "uploadThroughput": mbit * 1e6 / 8})
    cpu = cpu_seconds(server_pid)
    try:
        seconds, problem = timed_open(page, url, wanted, timeout_s)
        sent, decoded = (float("nan"),) * 2 if math.isnan(seconds) else page.evaluate(TRANSFERRED_JS)
    finally:
        context.close()
    return {"s": seconds, "mb": sent / 1e6, "decoded": decoded / 1e6, "ws": sum(frames) / 1e6,
            "cpu": cpu_seconds(server_pid) - cpu, "problem": problem}


def lecturer_opens_every_page(browser_, url: str, pages: list[str], timeout_s: float) -> None:
    """Every page once, unthrottled, as the lecturer does before class (each page's files sent once)."""
    context = browser_.new_context(viewport={"width": 1400, "height": 1000})
    try:
        for name in pages:
            path, wanted = PAGES[name]
            visit(context, f"{url}/{path}", wanted, timeout_s)
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=Path, help="a warm folder (completed with `apcore warm` first)")
    parser.add_argument("--baseline", type=Path, help="another checkout to serve beside this one")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--mbit", default="10,40", help="the student's link, megabit/s down (comma-separated)")
    parser.add_argument("--latency", type=float, default=20.0, help="round-trip latency added, ms")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    pages = args.pages.split(",")
    links = [float(m) for m in args.mbit.split(",")]
    here = Path(__file__).resolve().parent.parent
    roots = {"after": here} | ({"before": args.baseline.resolve()} if args.baseline else {})
    with contextlib.ExitStack() as stack:
        ckdir = args.checkpoints or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = clean_env(ckdir)
        print(f"warm: {warm(env, logs / 'warm.log'):.1f} s", flush=True)
        servers = {}
        for name, root in roots.items():
            with serving(root):
                proc, url = start_server(env, logs / f"{name}.log")
            stack.callback(stop_server, proc)
            servers[name] = (proc, url)
        pw = stack.enter_context(sync_playwright())
        browser_ = launch(pw)
        for name, (_, url) in servers.items():
            lecturer_opens_every_page(browser_, url, pages, args.timeout)
        for name, root in roots.items():   # each server's start-up (and preload) done: a lecture's steady state
            wait_for_log(logs / f"{name}.log", PRELOADED, args.timeout)
            compress = root / "ui" / "compress.py"
            if compress.exists() and "def prime" in compress.read_text():
                wait_for_log(logs / f"{name}.log", FRONTEND_COMPRESSED, args.timeout)
        time.sleep(1)
        results: dict[tuple, list[dict]] = {}
        for _ in range(args.rounds):
            for mbit in links:
                for page in pages:
                    for name, (proc, url) in servers.items():
                        path, wanted = PAGES[page]
                        r = student_visit(browser_, f"{url}/{path}", wanted, mbit, args.latency, args.timeout,
                                          proc.pid)
                        results.setdefault((mbit, page, name), []).append(r)
                        print(f"{mbit:g} Mbit/s {page:16s} {name:6s} {r['s']:6.2f} s {r['mb']:6.2f} MB (files "
                              f"{r['decoded']:.2f} MB, WebSocket {r['ws']:.2f} MB) server CPU {r['cpu']:.2f} s "
                              f"{r['problem']}", flush=True)
    write(results, links, pages, list(roots), args)


def write(results: dict, links: list[float], pages: list[str], names: list[str], args) -> None:
    def med(mbit, page, name, key):
        values = [r[key] for r in results[(mbit, page, name)]]
        return statistics.median(values)

    header = ["link Mbit/s", "page"]
    for key, label in (("s", "s"), ("mb", "MB of files over the link"), ("cpu", "server CPU s")):
        header += [f"{label} {n}" for n in names] + ([f"{label} after / before"] if len(names) == 2 else [])
    header += ["WebSocket MB", "problems"]
    rows = []
    for mbit in links:
        for page in pages:
            row = [f"{mbit:g}", page]
            for key in ("s", "mb", "cpu"):
                values = [med(mbit, page, n, key) for n in names]
                row += [f"{v:.2f}" for v in values]
                if len(names) == 2:
                    row.append(f"{values[0] / values[1]:.2f}" if values[1] else "")
            row.append(f"{med(mbit, page, names[0], 'ws'):.2f}")
            problems = sorted({r["problem"] for n in names for r in results[(mbit, page, n)] if r["problem"]})
            fastest = min(r["s"] for n in names for r in results[(mbit, page, n)])
            for n in names:   # a visit far slower than the row's fastest: shown, not hidden in a median
                stalls = [f"{r['s']:.1f} s" for r in results[(mbit, page, n)] if r["s"] > STALL * fastest]
                problems += [f"{n}: visits of {', '.join(stalls)}"] if stalls else []
            row.append("; ".join(problems))
            rows.append(row)
    notes = (f"CPU: {cpu_name()}, 2 cores; server, browser and the throttled link all on this machine. A warm "
             f"server (every default and derived artefact on disk); the lecturer opened every page once, "
             f"unthrottled; then each page opened by a student: a new Chromium context (empty cache) with its "
             f"network throttled to the link's rate down and up and {args.latency:g} ms latency (DevTools' "
             f"Network.emulateNetworkConditions), timed from goto until the script ended and the page's figures "
             f"were drawn. MB of files over the link: the document's and every resource's transferSize (headers "
             f"included); WebSocket MB: the messages' payload to the page (the figures' data, {names[0]}; also "
             f"throttled, not in the files' MB). Server CPU: the server process's user + system seconds during "
             f"the visit. Median of {args.rounds} round(s) (a visit over {STALL}x the row's fastest is listed under "
             f"problems); visits alternate between the checkouts page by page. "
             f"after = this checkout" + (f", before = {args.baseline}" if args.baseline else "") + ".")
    write_table("hall_network", "A student's first visit over the lecture hall's network", header, rows, notes,
                write=not args.no_write)


if __name__ == "__main__":
    main()
