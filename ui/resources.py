"""Objects shared by every browser tab of one server (``st.cache_resource``): treat as read-only."""

from __future__ import annotations

import streamlit as st
import torch

from apcore.cache import ModelStore
from apcore.data import Dataset, load_dataset
from apcore.jobs import JobRegistry


# Torch threads of the server process. Its own torch work is small (a decoded digit, a few
# reconstructions, a test set encoded once per model), and it shares the cores with the training
# worker's threads: two OpenMP pools spinning against each other made a slider's torch work 6-10x
# slower while a model trained, one server thread 1.3-1.8x (measured: a decode, 10 reconstructions
# and 2,000 codes; 17.5 ms idle with 2 threads, 33 ms with 1; 101-185 ms vs 44-60 ms during training).
SERVER_THREADS = 1


@st.cache_resource(show_spinner=False)
def store() -> ModelStore:
    torch.set_num_threads(SERVER_THREADS)  # the first torch work of a server goes through here
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
