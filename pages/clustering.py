"""Clustering (being built)."""

import streamlit as st

st.title("Clustering")
st.info("This page is being built.")
