"""Take it home: the model pages' "Download as a notebook" button (``apcore.notebook``)."""

from __future__ import annotations

import streamlit as st

from apcore.cache import TrainedModel
from apcore.notebook import notebook_for

MIME = "application/x-ipynb+json"


def file_name(page: str, trained: TrainedModel) -> str:
    """e.g. ``autoencoder-latent5.ipynb``, ``denoise-latent8x7x7.ipynb``."""
    return f"{page}-{trained.config.latent_label.replace(' ', '')}.ipynb"


def download_notebook(page: str, trained: TrainedModel, **view) -> None:
    """A button downloading a Jupyter notebook that loads ``trained``'s model through apcore and
    redraws ``page``'s main figures with the page's ``view`` settings (:func:`notebook_for`).

    The notebook is a few kB of text built in milliseconds, so it is built on every run; the
    click needs no rerun of the page (``on_click="ignore"``)."""
    st.download_button("Download as a notebook", notebook_for(page, trained.config, **view),
                       file_name=file_name(page, trained), mime=MIME, key=f"{page}_notebook",
                       on_click="ignore", icon=":material/download:",
                       help="A Jupyter notebook that loads this model through apcore (or trains it) and "
                            "reproduces this page's main figures: take the lecture home to the lab.")
