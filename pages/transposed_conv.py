"""Transposed convolution (being built)."""

import streamlit as st

st.title("Transposed convolution")
st.info("This page is being built.")
