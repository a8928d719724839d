"""A training that gives a core back while another process wants it (the app's worker).

On the 2-core machine a training's two torch threads meet at a barrier many times a step. When
another process takes one of the cores (the lecturer's browser, a screen recorder, a second
training), one thread waits for the other, spinning or sleeping, and the step slows down far more
than the lost core explains. With one thread there is no barrier to wait at. Measured on an Intel
Xeon (AMX, 2 cores, a VM), a step of the MLP AE at batch 256 (``GOMP_SPINCOUNT`` 5,000,
:mod:`apcore`; niced as the worker is), against a process that keeps one core busy: 20 ms with
two threads, 9.3 ms with one; alone, 7.1 ms with two and 8.2 ms with one.

So while the other processes together use at least half a core, the training runs one thread
fewer (never under one), and takes the thread back once they use under a quarter. Measured from
``/proc/stat`` (every core's busy time) less this process's own CPU time, every
:data:`EVERY_S`. Linux only; elsewhere, and unless :func:`share_with_others` was called, nothing
changes.

The price: one and two threads do not add up a step's numbers in the same order, so a training
that switched is not bit-for-bit the one an undisturbed process trains from the same seed. Hence
only the worker asks for it; the command line and ``python -m apcore warm`` keep a fixed count.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable

import torch

EVERY_S = 0.5
WANT = 0.5   # the other processes' cores at which a thread is given back
FREE = 0.25  # ... and under which it is taken again

_sharing = False


def share_with_others(on: bool = True) -> None:
    """Whether the trainings of this process give a core back when others want it (process-wide:
    the worker calls it once)."""
    global _sharing
    _sharing = on


def busy_seconds(path: str = "/proc/stat") -> float | None:
    """CPU seconds every core of this machine has been busy since boot; None where unknown."""
    try:
        with open(path) as f:
            fields = f.readline().split()
        ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    if len(ticks) < 5:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds this process has used, every thread of it."""
    return time.process_time()


def threads_for(others: float, current: int, most: int, cores: int) -> int:
    """Torch threads for a training now at ``current`` (at most ``most``) while other processes
    use ``others`` of this machine's ``cores``: one core given back per core they want, from
    half a core on; taken back once their use falls a quarter of a core below that."""
    down = max(1, min(most, math.ceil(cores - others - WANT)))
    if down < current:
        return down
    up = max(1, min(most, math.ceil(cores - others - (1 - FREE))))
    return max(current, up)


class CoreShare:
    """Called once per optimiser step (:meth:`step`); adjusts ``torch.set_num_threads`` when its
    reading of the other processes' CPU use says so. A context manager: the thread count is
    restored on exit. Does nothing unless :func:`share_with_others` was called (or ``on``)."""

    def __init__(self, on: bool | None = None, busy: Callable[[], float | None] | None = None,
                 own: Callable[[], float] | None = None, clock: Callable[[], float] | None = None):
        self.busy = busy or busy_seconds
        self.own = own or own_seconds
        self.clock = clock or time.monotonic
        self.on = _sharing if on is None else on
        self.most = self.threads = torch.get_num_threads()
        self.cores = os.cpu_count() or 1
        self.switches = 0
        self._last: tuple[float, float, float] | None = None

    def __enter__(self) -> CoreShare:
        if self.on and self.most > 1:
            self._last = self._read()
        return self

    def __exit__(self, *exc) -> None:
        if self.threads != self.most:
            torch.set_num_threads(self.most)
        self.threads = self.most

    def _read(self) -> tuple[float, float, float] | None:
        busy = self.busy()
        return None if busy is None else (self.clock(), busy, self.own())

    def step(self) -> None:
        if self._last is None or self.clock() - self._last[0] < EVERY_S:
            return
        now = self._read()
        if now is None:
            self._last = None
            return
        (t0, busy0, own0), (t1, busy1, own1) = self._last, now
        self._last = now
        others = max(0.0, (busy1 - busy0) - (own1 - own0)) / max(t1 - t0, 1e-9)
        threads = threads_for(others, self.threads, self.most, self.cores)
        if threads != self.threads:
            torch.set_num_threads(threads)
            self.threads = threads
            self.switches += 1
