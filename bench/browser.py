"""A served app and Debian's Chromium for the browser benchmarks and end-to-end tests.

Never ``playwright install``: Playwright drives the system's Chromium through ``executable_path``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], log_path: Path, port: int | None = None,
                 timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free local port with environment ``env``; (process, url) once
    ``/_stcore/health`` answers. Raises RuntimeError if it does not in ``timeout`` s."""
    port = port or free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s (log: {log_path})")


def stop_server(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds (Streamlit's shutdown took 3-8 s; its worker
    ends by itself within a second of the server)."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def launch(playwright):
    """Chromium, headless, as root, with no traffic beyond this machine."""
    if CHROMIUM is None:
        raise RuntimeError("Debian's chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_for_app(page, timeout_ms: int = 120_000) -> None:
    """Wait until a script run has finished and no skeleton remains."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)


# -- CPU time of processes, from /proc ----------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_matching(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if text in (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    out.append(int(d.name))
            except OSError:
                continue
    return out


class CpuMeter:
    """CPU seconds used by groups of processes between ``start()`` and ``stop()``.

    ``groups`` maps a name to a function returning the group's pids (asked at both ends, so
    processes that start in between are counted from zero)."""

    def __init__(self, groups: dict[str, callable]):
        self.groups = groups

    def _read(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self.t0, self.before = time.perf_counter(), self._read()

    def stop(self) -> dict[str, float]:
        """Name -> CPU seconds used, plus ``"wall"``."""
        after, wall = self._read(), time.perf_counter() - self.t0
        used = {name: sum(v - self.before[name].get(pid, 0.0) for pid, v in after[name].items())
                for name in self.groups}
        return {**used, "wall": wall}
