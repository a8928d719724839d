"""Denoising (being built)."""

import streamlit as st

st.title("Denoising")
st.info("This page is being built.")
