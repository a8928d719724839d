"""Script-run time of a slider move with cached models (target <= 150 ms, TARGETS.md).

Runs pages in Streamlit's AppTest, trains the models they need once (small budgets: the timing is
of the page, not of training), then moves one slider between two values many times and reports
the median and 90th percentile of the whole script run.
AppTest's own overhead is included, so the figures are an upper bound on the server's.

    python3 bench/rerun.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APCORE_EPOCHS", "1")
os.environ["APCORE_CHECKPOINT_DIR"] = tempfile.mkdtemp(prefix="rerun-bench-")

from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.common import write_table  # noqa: E402
from ui.resources import registry  # noqa: E402

REPEATS = 20


def settle(at: AppTest) -> AppTest:
    at.run()
    while registry().active():
        time.sleep(0.2)
    return at.run()


def widget(at: AppTest, key: str):
    """The slider or select-slider whose key starts with ``key`` (some keys carry the model's key)."""
    for w in list(at.select_slider) + list(at.slider):
        if w.key and w.key.startswith(key):
            return w
    raise LookupError(key)


def time_moves(page: str, key: str, values) -> tuple[list[float], tuple]:
    """Script-run seconds of ``REPEATS`` moves between two values, and the values. ``values``: a pair,
    or a function of the widget giving one (choices that exist only once the page has run)."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=600)
    settle(at)
    if callable(values):
        values = values(widget(at, key))
    for v in values:  # train what each value needs once, and warm every per-model cache
        widget(at, key).set_value(v)
        settle(at)
    times = []
    for i in range(REPEATS):
        widget(at, key).set_value(values[i % 2])
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return times, values


def quartiles(w) -> tuple[float, float]:
    """Two threshold choices of a select-slider, a quarter and three quarters along. Its options are
    the labels its format_func wrote; AppTest maps a number back to the option with that label."""
    return float(w.options[len(w.options) // 4]), float(w.options[3 * len(w.options) // 4])


def main() -> None:
    rows = []
    for page, key, values in (("autoencoder", "ae_latent", (2, 5)), ("vae", "vae_latent", (2, 5)),
                              ("denoise", "test", (0.3, 0.7)),
                              ("anomaly", "anomaly_threshold_", quartiles)):
        t, values = time_moves(page, key, values)
        t = sorted(t)
        rows.append([page, f"{key.rstrip('_')}: {values[0]:g} <-> {values[1]:g}", REPEATS, f"{statistics.median(t) * 1000:.0f}",
                     f"{t[int(0.9 * len(t)) - 1] * 1000:.0f}", f"{t[-1] * 1000:.0f}"])
    write_table("rerun", "Slider move with cached models: whole script run",
                ["page", "slider: values", "moves", "median ms", "p90 ms", "max ms"], rows,
                "Target: <= 150 ms per script run. Includes AppTest's own overhead.")


if __name__ == "__main__":
    main()
