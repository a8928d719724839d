"""The shared sidebar: data set and the device in use. Rendered by ``app.py`` on every run."""

from __future__ import annotations

import streamlit as st

from apcore.config import DATASETS
from apcore.data import DataError, find_dataset_dir

from . import state
from .resources import store

DATASET_KEY = "dataset"
LABELS = {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST"}


def render() -> None:
    with st.sidebar:
        st.selectbox("Data set", DATASETS, format_func=LABELS.get, **state.linked(DATASET_KEY, "dataset", "mnist", DATASETS))
        device = store().device
        st.caption(f"Training on **{'GPU (' + _gpu_name() + ')' if device.type == 'cuda' else 'CPU'}**")


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0)


def dataset() -> str:
    """The data set chosen in the sidebar; checked to be present, else a message and a stop."""
    name = st.session_state.get(DATASET_KEY, "mnist")  # not set when a page runs alone (its AppTest)
    try:
        find_dataset_dir(name)
    except DataError as exc:
        st.error(f"{LABELS[name]} is not available on this server. {exc}")
        st.stop()
    return name
