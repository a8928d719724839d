"""The model controls shared by the Autoencoder and VAE pages."""

from __future__ import annotations

import streamlit as st

from apcore.config import ARCHITECTURES, MAX_LATENT, MIN_LATENT
from apcore.defaults import LATENT, pages_using

from . import state
from .resources import store

ARCHS = ("mlp", "conv")  # the page's family is f"{page}-{arch}"
PAGES = {"ae": "autoencoder", "vae": "vae"}  # widget prefix -> the page in apcore.defaults.PAGE_MODELS
BETAS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def trained_latents(page: str, family: str, dataset: str) -> set[int]:
    """Latent sizes at which ``page`` (a key of :data:`apcore.defaults.PAGE_MODELS`) has a cached
    model of ``family`` on ``dataset``: its own budget, not another page's model of that size (the
    clustering page's 20-d AE would show here as trained, and then train when picked)."""
    return {c.latent_dim for c in store().configs_on_disk()
            if c.family == family and c.dataset == dataset and page in pages_using(c)}


def architecture(page: str) -> str:
    """MLP / CNN switch, in the URL as ``arch``."""
    return st.segmented_control("Architecture", ARCHS, format_func=lambda a: ARCHITECTURES[f"ae-{a}"], required=True,
                                **state.linked(f"{page}_arch", "arch", ARCHS[0], ARCHS))


def latent_size(page: str, family: str, dataset: str, default: int = LATENT) -> int:
    """Latent-size slider 2..64 (in the URL as ``latent``), with the sizes already trained listed under it.

    The marks stay out of the slider's own labels: a widget whose options change is a new widget
    to Streamlit, and would jump back to its default when a training finishes."""
    sizes = range(MIN_LATENT, MAX_LATENT + 1)
    latent = st.select_slider("Latent size", options=list(sizes), **state.linked(f"{page}_latent", "latent", default, sizes),
                              help="Sizes already trained appear at once; others train on demand (about 20 s on a CPU).")
    done = sorted(trained_latents(PAGES[page], family, dataset))
    st.caption("Trained: " + (", ".join(f"**{d}**" for d in done) if done else "none yet"))
    return latent


def beta(page: str) -> float:
    """β of the KL term, in the URL as ``beta``."""
    return st.select_slider("β (weight of the KL term)", options=BETAS, **state.linked(f"{page}_beta", "beta", 1.0, BETAS),
                            help="β = 1 is the ordinary VAE; larger β pulls codes harder towards N(0, I).")
