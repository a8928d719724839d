"""Transposed convolution: the slides' worked example step by step, the overlap map, the equivalent
ordinary convolution, the output-size formula, and the decoders' own ConvTranspose2d layers."""

import streamlit as st

import ui
from apcore.tconv import TConvInputError, explain
from ui import state
from ui import tconv as view

ui.require_app()

st.title("Transposed convolution")
st.caption("Each input value scales the whole kernel; the scaled kernels are placed `stride` cells apart "
           "and added up. Padding then crops the border. This is how a decoder upsamples.")

settings = view.controls()
try:
    e = explain(settings.x_cells, settings.k_cells, **settings.params)
except TConvInputError as err:
    st.error(f"**Cannot compute this transposed convolution.** {err}")
else:
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        view.formula(e)
    with right:
        view.torch_check(e)
    # Only the open tab is drawn; the URL names it (?tconv_tab=Overlap+map), so a slide can link to it.
    steps, overlap, equivalent, models = st.tabs(
        ["Step by step", "Overlap map", "As an ordinary convolution", "In the decoders"],
        **state.bound("tconv_tab", persist=False))
    if steps.open:
        with steps:
            view.step_player(e)
    if overlap.open:
        with overlap:
            view.overlap_view(e)
    if equivalent.open:
        with equivalent:
            view.equivalent_view(e)
    if models.open:
        with models:
            view.models_view()
