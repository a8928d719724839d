"""The shared sidebar: data set and the device in use. Rendered by ``app.py`` on every run."""

from __future__ import annotations

import sys

import streamlit as st

from apcore.config import DATASETS, DataError

from . import state
from .resources import store

DATASET_KEY = "dataset"
LABELS = {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST"}


def render():
    """The data set choice, and a place for :func:`show_device` (returned)."""
    with st.sidebar:
        st.selectbox("Data set", DATASETS, format_func=LABELS.get, **state.linked(DATASET_KEY, "dataset", "mnist", DATASETS))
        return st.empty()


def show_device(slot) -> None:
    """The device the models train on, at the end of a run, once a page has imported torch: the
    Overview of a fresh server opens without importing it (the preload does, in the background),
    and shows the device from its next run on."""
    if "torch" not in sys.modules:
        return
    device = store().device
    slot.caption(f"Training on **{'GPU (' + _gpu_name() + ')' if device.type == 'cuda' else 'CPU'}**")


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0)


def dataset() -> str:
    """The data set chosen in the sidebar; checked to be present, else a message and a stop."""
    from apcore.data import find_dataset_dir  # imports torch: not on the Overview's first run

    name = st.session_state.get(DATASET_KEY, "mnist")  # not set when a page runs alone (its AppTest)
    try:
        try:
            find_dataset_dir(name, download=False)
        except DataError:  # not on disk: chosen here, so it may be downloaded, and the room sees why it waits
            with st.spinner(f"{LABELS[name]} is not on this server: downloading it, if the server is online…"):
                find_dataset_dir(name)
    except DataError as exc:
        st.error(f"{LABELS[name]} is not available on this server. {exc}")
        st.stop()
    return name
