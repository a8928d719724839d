"""A sample of the fuzzed links of ``bench/fuzz_links.py`` (which runs 200 per page): every page
renders whatever the room puts in its address, as an audience session."""

import os

import pytest

os.environ.setdefault("APCORE_CLUSTER_LIMIT", "1000")  # as the clustering page's own AppTest

from bench.fuzz_links import PAGES, bound_names, fuzz_cases, run_case  # noqa: E402

PER_PAGE = 3


@pytest.fixture(autouse=True)
def audience(monkeypatch):
    monkeypatch.setenv("APCORE_PRESENTER_KEY", "fuzz-key")


def test_cases_are_hostile_and_repeatable():
    cases = fuzz_cases(["latent", "beta"], 50, seed=1)
    assert cases == fuzz_cases(["latent", "beta"], 50, seed=1)
    values = [v for c in cases for v in (c.values())]
    assert any(isinstance(v, list) for v in values)                      # repeated parameters
    assert any(isinstance(v, str) and len(v) == 10_000 for v in values)  # 10,000 characters
    assert any(set(c) - {"latent", "beta"} for c in cases)                # unknown parameters


@pytest.mark.parametrize("page", PAGES)
def test_fuzzed_links_render(page):
    names = bound_names(page, train=False)  # the models the page tests trained, if any: cheap
    problems = [(case, p) for case in fuzz_cases(names, PER_PAGE, seed=7) if (p := run_case(page, case))]
    assert problems == []
