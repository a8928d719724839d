"""apcore.cores: a training gives a core back while other processes want one, and takes it back."""

import pytest
import torch

from apcore import cores
from apcore.cores import CoreShare, busy_seconds, threads_for


@pytest.mark.parametrize("others, current, expected", [
    (0.0, 2, 2), (0.49, 2, 2), (0.5, 2, 1), (0.9, 2, 1), (1.8, 2, 1),  # down from half a core on
    (0.3, 1, 1), (0.25, 1, 1), (0.24, 1, 2), (0.0, 1, 2),               # up only under a quarter
])
def test_two_cores(others, current, expected):
    assert threads_for(others, current, most=2, cores=2) == expected


def test_more_cores_give_back_one_per_core_wanted_and_never_exceed_the_callers_count():
    assert [threads_for(o, 8, most=8, cores=8) for o in (0.0, 0.5, 1.4, 2.6, 7.9)] == [8, 7, 7, 5, 1]
    assert threads_for(0.0, 1, most=4, cores=8) == 4  # the caller's 4 threads on 8 cores: never more
    assert threads_for(3.0, 4, most=4, cores=8) == 4  # 5 cores still free for 4 threads


def test_busy_seconds_reads_the_machines_busy_ticks(tmp_path, monkeypatch):
    monkeypatch.setattr(cores.os, "sysconf", lambda name: 100)
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice: idle and iowait are not busy
    stat.write_text("cpu  100 20 30 5000 400 5 6 7 50 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    assert busy_seconds(str(stat)) == pytest.approx((100 + 20 + 30 + 5 + 6 + 7) / 100)
    stat.write_text("garbage\n")
    assert busy_seconds(str(stat)) is None
    assert busy_seconds(str(tmp_path / "missing")) is None


class Machine:
    """A fake machine: a clock, every core's busy seconds, this process's CPU seconds."""

    def __init__(self):
        self.t = self.busy = self.own = 0.0

    def run(self, seconds: float, own_cores: float, other_cores: float) -> None:
        self.t += seconds
        self.own += own_cores * seconds
        self.busy += (own_cores + other_cores) * seconds

    def share(self, on=True) -> CoreShare:
        return CoreShare(on=on, busy=lambda: self.busy, own=lambda: self.own, clock=lambda: self.t)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("two_threads")
def test_a_busy_neighbour_takes_a_thread_which_comes_back_when_it_stops(monkeypatch):
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 2)
    m = Machine()
    with m.share() as share:
        m.run(0.6, own_cores=2.0, other_cores=0.1)
        share.step()
        assert torch.get_num_threads() == 2
        m.run(0.2, own_cores=1.0, other_cores=1.0)
        share.step()  # under EVERY_S since the last reading: nothing read yet
        assert torch.get_num_threads() == 2
        m.run(0.4, own_cores=1.2, other_cores=0.8)
        share.step()
        assert torch.get_num_threads() == 1 and share.threads == 1
        m.run(0.6, own_cores=1.0, other_cores=0.3)  # quieter, but not quiet
        share.step()
        assert torch.get_num_threads() == 1
        m.run(0.6, own_cores=1.0, other_cores=0.05)
        share.step()
        assert torch.get_num_threads() == 2 and share.switches == 2
        m.run(0.6, own_cores=1.0, other_cores=1.0)
        share.step()
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2  # restored on exit


@pytest.mark.usefixtures("two_threads")
def test_without_sharing_or_a_reading_nothing_changes(monkeypatch):
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 2)
    m = Machine()
    with m.share(on=False) as share:
        m.run(1.0, own_cores=1.0, other_cores=1.0)
        share.step()
    assert torch.get_num_threads() == 2 and share.switches == 0
    blind = CoreShare(on=True, busy=lambda: None, own=lambda: m.own, clock=lambda: m.t)
    with blind:
        m.run(1.0, own_cores=1.0, other_cores=1.0)
        blind.step()
    assert torch.get_num_threads() == 2 and blind.switches == 0


@pytest.mark.usefixtures("two_threads")
def test_sharing_is_off_unless_the_process_asks(monkeypatch):
    monkeypatch.setattr(cores, "_sharing", False)  # as a fresh process has it (restored after)
    assert CoreShare().on is False
    cores.share_with_others()
    assert CoreShare().on is True


@pytest.mark.usefixtures("two_threads")
def test_fit_gives_the_thread_back_and_restores_it(monkeypatch):
    """A training that saw a busy neighbour ends with the thread count it started with, and its
    model learned (the switch happens between optimiser steps)."""
    from apcore import models, train
    from apcore.config import ModelConfig
    from apcore.data import load_dataset

    seen = []
    real_set = torch.set_num_threads
    monkeypatch.setattr(cores.torch, "set_num_threads", lambda n: (seen.append(n), real_set(n)))
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cores, "EVERY_S", 0.0)
    ticks = iter(range(10**6))
    monkeypatch.setattr(cores, "_sharing", True)
    monkeypatch.setattr(cores, "busy_seconds", lambda: 2.0 * next(ticks))  # both cores busy ...
    monkeypatch.setattr(cores, "own_seconds", lambda: 0.0)                # ... and none of it ours
    config = ModelConfig(family="ae-mlp", train_limit=256, epochs=2, batch_size=64)
    torch.manual_seed(0)
    model = models.build(config)
    history = train.fit(model, config, load_dataset("mnist"), torch.device("cpu"))
    assert seen[0] == 1 and seen[-1] == 2 and torch.get_num_threads() == 2
    assert history[1]["loss"] < history[0]["loss"]
