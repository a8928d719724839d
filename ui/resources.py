"""Objects shared by every browser tab of one server (``st.cache_resource``): treat as read-only."""

from __future__ import annotations

import streamlit as st

from apcore.cache import ModelStore
from apcore.data import Dataset, load_dataset
from apcore.jobs import JobRegistry


@st.cache_resource(show_spinner=False)
def store() -> ModelStore:
    return ModelStore()


@st.cache_resource(show_spinner=False, on_release=JobRegistry.close)
def registry() -> JobRegistry:
    """Trainings of every tab, run by one worker process; started with the server, so the first
    Retrain does not wait for the worker to import torch. A cleared cache ends the worker."""
    jobs = JobRegistry(store())
    jobs.start_worker()
    return jobs


@st.cache_resource(show_spinner="Reading the data set…", max_entries=2)
def dataset(name: str) -> Dataset:
    return load_dataset(name)
