"""The denoising page's cached evaluations and its PSNR-vs-noise figure."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

from apcore import defaults, denoise
from apcore.cache import ModelStore, TrainedModel
from apcore.config import ARCHITECTURES

from . import figures, hall
from .resources import dataset

N_EVAL = 1000                        # test images behind the page's PSNR / SSIM figures
CURVE_LEVELS = tuple(round(0.1 * i, 1) for i in range(11))
MODEL_COLORS = {"ae-mlp": "#1f77b4", "ae-fconv": "#ff7f0e"}
DEFAULT_TEST_LEVEL = 0.5             # the page's test noise level before the slider moves


@st.cache_resource(max_entries=64, show_spinner=False)
def _quality(key: str, dataset_name: str, noise: str, level: float, _trained: TrainedModel) -> dict[str, float]:
    images = dataset(dataset_name).test_images[:N_EVAL]
    return denoise.quality(*denoise.denoise(_trained.model, images, noise, level))


def quality(trained: TrainedModel, dataset_name: str, noise: str, level: float) -> dict[str, float]:
    """Mean PSNR and SSIM of noisy input and output on the first ``N_EVAL`` test images (cached)."""
    return _quality(trained.config.key, dataset_name, noise, float(level), trained)


def prepare_default(models: ModelStore) -> None:
    """PSNR and SSIM at the default test level, and the PSNR curve, of the page's default
    denoisers on disk: the server's preload computes them ahead (``ui.resources.preload``), so
    the page's first visit finds them cached (the audience of a lecture hall too)."""
    for config in defaults.page_defaults()["denoise"]:
        trained = models.latest(config)
        if trained is not None:
            quality(trained, config.dataset, config.noise, DEFAULT_TEST_LEVEL)
            _curve.ahead(trained.config.key, config.dataset, config.noise, trained)


@hall.costly()
@st.cache_resource(max_entries=16, show_spinner="Measuring PSNR at every noise level…")
def _curve(key: str, dataset_name: str, noise: str, _trained: TrainedModel) -> dict[str, list[float]]:
    images = dataset(dataset_name).test_images[:N_EVAL]
    return denoise.psnr_curve(_trained.model, images, noise, CURVE_LEVELS)


def curve(trained: TrainedModel, dataset_name: str, noise: str) -> dict[str, list[float]]:
    """PSNR of input and output against the test noise level (cached per model and noise type)."""
    return _curve(trained.config.key, dataset_name, noise, trained)


def examples(trained: TrainedModel, images: torch.Tensor, noise: str, level: float):
    """Clean, noisy and denoised versions of a few uint8 images (same noise for every model)."""
    return denoise.denoise(trained.model, images, noise, level)


def curve_figure(curves: dict[str, dict], train_level: float, test_level: float, noise_label: str) -> go.Figure:
    """PSNR against test noise level: the noisy input and each model's output."""
    fig = go.Figure()
    first = next(iter(curves.values()))
    fig.add_scatter(x=first["level"], y=first["psnr_noisy"], mode="lines+markers", name="noisy input",
                    line=dict(color="#7f7f7f", dash="dot", width=3))
    for family, c in curves.items():
        fig.add_scatter(x=c["level"], y=c["psnr_denoised"], mode="lines+markers", name=f"{ARCHITECTURES[family]} output",
                        line=dict(color=MODEL_COLORS[family], width=3))
    fig.add_vline(x=train_level, line=dict(color="black", width=2, dash="dash"),
                  annotation_text="trained at", annotation_position="bottom left", annotation_font_size=15)
    fig.add_vline(x=test_level, line=dict(color="#d62728", width=2),
                  annotation_text="test level", annotation_position="top right", annotation_font_size=15)
    fig.update_xaxes(title=f"test noise level ({noise_label})", range=[-0.02, 1.02])
    # a clean input has infinite PSNR (100 dB at metrics.psnr's floor): keep the axis on the models
    top = max(max(c["psnr_denoised"]) for c in curves.values())
    fig.update_yaxes(title="PSNR (dB), higher is better", range=[0, max(30.0, top + 8)])
    figures.layout(fig, "PSNR against test noise level", height=430)
    return fig.update_layout(legend=dict(orientation="h", y=-0.25))
