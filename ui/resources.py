"""Objects shared by every browser tab of one server (``st.cache_resource``): treat as read-only."""

from __future__ import annotations

import streamlit as st

from apcore.cache import ModelStore
from apcore.data import Dataset, load_dataset
from apcore.jobs import JobRegistry


@st.cache_resource(show_spinner=False)
def store() -> ModelStore:
    return ModelStore()


@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    return JobRegistry(store())


@st.cache_resource(show_spinner="Reading the data set…", max_entries=2)
def dataset(name: str) -> Dataset:
    return load_dataset(name)
