"""AppTest helpers: each page runs as its own script with tiny training budgets."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

os.environ.setdefault("APCORE_EPOCHS", "1")
os.environ.setdefault("APCORE_TRAIN_LIMIT", "1000")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clear_streamlit_caches():
    """Caches outlive an AppTest instance inside one pytest process."""
    import streamlit as st

    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def page_test(name: str, timeout: float = 120):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=timeout)


def open_tab(at, key: str, label: str):
    """Open the tab ``label`` of the tabs ``key`` (a page computes its open tab only) and rerun."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, at.exception
    return at


def run_until_trained(at, timeout: float = 180):
    """Rerun the page until no training job is active (AppTest does not tick fragments)."""
    from ui.resources import registry

    at.run()
    deadline = time.time() + timeout
    while registry().active() and time.time() < deadline:
        time.sleep(0.5)
    at.run()
    assert not at.exception, at.exception
    return at
