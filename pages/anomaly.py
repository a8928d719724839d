"""Anomaly detection (being built)."""

import streamlit as st

st.title("Anomaly detection")
st.info("This page is being built.")
