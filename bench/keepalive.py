"""Streamlit's scripts over one kept-alive connection, as a browser fetches a page's ~100 of them.

    python3 bench/keepalive.py [--baseline /tmp/before] [--files 40] [--rounds 3]

A served app (``streamlit run app.py``, left alone for ``--settle`` seconds: its start-up imports
and compresses first); then, as a browser does, requests for ``--files`` of Streamlit's scripts
(under 64 kB, gzip accepted), one after another over one kept-alive HTTP/1.1 connection, and the
same files over a new connection each: milliseconds from sending a request to the last byte of
its response. With Nagle's algorithm on (``ui.nodelay``), a kept-alive response's body waits for
the client's delayed acknowledgement of its headers: ~40 ms. ``--baseline DIR`` times another
checkout in turn (``git worktree add /tmp/before COMMIT``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.browser import ROOT, start_server, stop_server  # noqa: E402
from bench.common import cpu_name, write_table  # noqa: E402
from bench.page_open import clean_env, serving  # noqa: E402
from ui.compress import FRONTEND  # noqa: E402

STALL_MS = 40  # a delayed acknowledgement: Linux waits at least this long


def small_scripts(n: int, most: int = 64_000) -> list[str]:
    """``n`` of Streamlit's scripts under ``most`` bytes, evenly spread over their sizes (most of
    what a page fetches), by address (``/static/js/...``)."""
    files = sorted((f for f in FRONTEND.glob("static/js/*.js") if f.stat().st_size < most),
                   key=lambda f: (f.stat().st_size, f.name))
    picked = [files[int(i * (len(files) - 1) / max(n - 1, 1))] for i in range(min(n, len(files)))]
    return [f"/static/js/{f.name}" for f in picked]


def fetch(conn: http.client.HTTPConnection, path: str) -> float:
    """ms from sending a GET of ``path`` on ``conn`` until its whole response is read."""
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return (time.perf_counter() - start) * 1000


def times(url: str, paths: list[str]) -> tuple[list[float], list[float]]:
    """(ms per file over one kept-alive connection, its first left out; ms per file over a new
    connection each)."""
    host = url.removeprefix("http://")
    kept_alive = http.client.HTTPConnection(host)
    try:
        kept = [fetch(kept_alive, p) for p in paths][1:]
    finally:
        kept_alive.close()
    fresh = []
    for p in paths:
        conn = http.client.HTTPConnection(host)
        try:
            fresh.append(fetch(conn, p))
        finally:
            conn.close()
    return kept, fresh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="another checkout timed in turn with this one (before/after)")
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=20, help="seconds the server is left alone first")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    paths = small_scripts(args.files)
    sizes = [(FRONTEND / p.lstrip("/")).stat().st_size for p in paths]
    variants = {"before": args.baseline.resolve(), "after": ROOT} if args.baseline else {"this checkout": ROOT}
    kept: dict[str, list[float]] = {label: [] for label in variants}
    fresh: dict[str, list[float]] = {label: [] for label in variants}
    logs = Path(tempfile.mkdtemp(prefix="keepalive-"))
    env = clean_env(logs / "checkpoints")
    for r in range(args.rounds):
        for label, root in variants.items():
            with serving(root):
                proc, url = start_server(env, logs / f"server-{r}-{label.replace(' ', '-')}.log")
            try:
                time.sleep(args.settle)
                k, f = times(url, paths)
            finally:
                stop_server(proc)
            kept[label] += k
            fresh[label] += f
            print(f"# round {r + 1} {label}: kept-alive median {statistics.median(k):.1f} ms, "
                  f"new connections {statistics.median(f):.1f} ms", flush=True)

    def p90(v: list[float]) -> float:
        return sorted(v)[int(0.9 * (len(v) - 1))]

    rows = [[label, len(k), f"{statistics.median(k):.1f}", f"{p90(k):.1f}",
             f"{sum(t >= STALL_MS for t in k)} of {len(k)}", f"{statistics.median(fresh[label]):.1f}"]
            for label, k in kept.items()]
    notes = (f"CPU: {cpu_name()}, {os.cpu_count()} cores. Each round: a fresh server per checkout (in turn), "
             f"left alone {args.settle:.0f} s; {len(paths)} of Streamlit's scripts ({min(sizes):,}-{max(sizes):,} "
             f"bytes, median {statistics.median(sizes):,.0f}, gzip accepted: those over 1 kB come compressed) over "
             "one kept-alive connection (the first response left out: a new connection acknowledges at once), then "
             "over a new connection each; ms from the request sent to the response's last byte. >= 40 ms: a "
             "response held back until the client's delayed acknowledgement (Nagle's algorithm on: `ui.nodelay`)."
             + (f" before = {args.baseline}, after = this checkout." if args.baseline else ""))
    write_table("keepalive", "Streamlit's scripts over one kept-alive connection",
                ["checkout", "responses", "kept-alive ms (median)", "p90", ">= 40 ms", "new connection ms (median)"],
                rows, notes, write=not args.no_write)


if __name__ == "__main__":
    main()
