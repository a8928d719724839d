"""Fuzzed links on every page: the page renders, with a notice at most, never an exception.

    python3 bench/fuzz_links.py [--per-page 200] [--seed 0]

The room will try: negative, huge, NaN, unicode, 10,000-character, repeated and unknown query
parameters, on every page, as an audience session (a presenter key is set, so no link can start a
training either). Each page first runs once with no parameters to learn the names it binds; then
each case sets some of those names (and some unknown ones) to hostile values. AppTest runs the
page script in this process, so a case is a whole rerun, ~0.1-1 s. The test suite runs a sample
(``tests/app/test_fuzz_links.py``); this script runs the full set and writes a table.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("home", "autoencoder", "transposed_conv", "vae", "anomaly", "denoise", "clustering")
HOSTILE = ["-1", "0", "1", "2", "-999999999999", "99999999999999999999999", "1e309", "-1e309", "nan", "NaN",
           "inf", "-inf", "0.5", "1.5", "", " ", "true", "false", "None", "null", "[]", "{}", "2,3", "1,,2",
           ",", "0x10", "½", "٣", "日本語", "🙂", "<script>alert(1)</script>", "'; DROP TABLE x; --", "../../etc/passwd",
           "%00", "\x00", "\n", "a" * 10_000, "9" * 10_000, "1" * 400, "mnist", "fashion-mnist", "ae-mlp", "tsne",
           "Latent space", "gaussian", "salt-pepper"]
# Bound by Streamlit (bind="query-params"): absent from the URL at their defaults, so a plain run
# does not reveal them; every page gets them (on the others they are unknown parameters).
BOUND = ["pca", "train", "test", "stride", "padding", "outpad", "dilation", "ae_tab", "vae_tab", "tconv_tab"]
UNKNOWN = ["foo", "presenter", "page", "__proto__", "x" * 300, "latent[]", "ümlaut", "dataset2"]


def fuzz_cases(names: list[str], n: int, seed: int = 0) -> list[dict[str, str | list[str]]]:
    """``n`` query strings (param -> value, or a list of values for a repeated parameter) over the
    page's own ``names`` and some unknown ones, deterministic for a seed."""
    rng = random.Random(seed)
    pool = sorted(set(names) | set(BOUND)) + UNKNOWN
    cases = []
    for _ in range(n):
        case: dict[str, str | list[str]] = {}
        for name in rng.sample(pool, k=min(len(pool), rng.randint(1, 4))):
            if rng.random() < 0.15:
                case[name] = [rng.choice(HOSTILE) for _ in range(rng.randint(2, 3))]  # ?a=1&a=2
            else:
                case[name] = rng.choice(HOSTILE)
        cases.append(case)
    return cases


def page_test(page: str, timeout: float = 120):
    """The page's script alone; the overview through ``app.py`` (its links need the navigation)."""
    from streamlit.testing.v1 import AppTest

    script = ROOT / "app.py" if page == "home" else ROOT / "pages" / f"{page}.py"
    return AppTest.from_file(str(script), default_timeout=timeout)


def bound_names(page: str, train: bool = True) -> list[str]:
    """The query parameters a page writes after a plain run: the names it reads from links.
    ``train``: run as the lecturer (no key), so that the page's default models are trained first
    and every widget is reached; else as whoever the environment makes this session."""
    from ui.resources import registry

    key = os.environ.pop("APCORE_PRESENTER_KEY", None) if train else None
    try:
        at = page_test(page)
        at.run()
        deadline = time.time() + 300
        while registry().active() and time.time() < deadline:
            time.sleep(0.2)
        at.run()
    finally:
        if key is not None:
            os.environ["APCORE_PRESENTER_KEY"] = key
    return sorted(at.query_params.keys())


def run_case(page: str, case: dict) -> str | None:
    """None if the page rendered; else what went wrong."""
    at = page_test(page)
    for name, value in case.items():
        at.query_params[name] = value
    try:
        at.run()
    except Exception as exc:  # the harness itself choked (a timeout, say)
        return f"{type(exc).__name__}: {exc}"[:300]
    if at.exception:
        return "; ".join(e.message for e in at.exception)[:300]
    if not at.title:
        return "no title rendered"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-page", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("APCORE_PRESENTER_KEY", "bench-fuzz-key")   # every run is audience
    # Tiny models in a folder of their own (links are what is tested here, not models).
    os.environ.setdefault("APCORE_EPOCHS", "1")
    os.environ.setdefault("APCORE_TRAIN_LIMIT", "1000")
    os.environ.setdefault("APCORE_CLUSTER_LIMIT", "1000")
    os.environ.setdefault("APCORE_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="bench-fuzz-"))
    sys.path.insert(0, str(ROOT))
    from bench.common import write_table

    rows, failures = [], []
    for page in PAGES:
        names = bound_names(page)
        start = time.perf_counter()
        bad = []
        for i, case in enumerate(fuzz_cases(names, args.per_page, args.seed)):
            problem = run_case(page, case)
            if problem:
                bad.append((case, problem))
        seconds = time.perf_counter() - start
        rows.append([page, ", ".join(names) or "(none)", args.per_page, len(bad), f"{seconds / args.per_page:.2f}"])
        failures += [(page, c, p) for c, p in bad]
        print(rows[-1], flush=True)
    notes = "\n".join(f"- {page}: `{case}` -> {problem}" for page, case, problem in failures[:20]) or "No failures."
    write_table("fuzz_links", "Fuzzed links per page (audience session)",
                ["page", "bound parameters", "cases", "failures", "s per case"], rows, notes)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
