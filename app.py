"""Entry point: ``streamlit run app.py``. Navigation over the lecture's pages and the shared sidebar."""

import logging

import streamlit as st

from ui import sidebar, state

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Autoencoders & VAEs — lecture dashboard", page_icon="🧠", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/autoencoder.py", title="Autoencoder", icon="🗜️", url_path="autoencoder"),
    st.Page("pages/transposed_conv.py", title="Transposed convolution", icon="🔲", url_path="transposed-convolution"),
    st.Page("pages/vae.py", title="Variational autoencoder", icon="🎲", url_path="vae"),
    st.Page("pages/anomaly.py", title="Anomaly detection", icon="🚨", url_path="anomaly"),
    st.Page("pages/denoise.py", title="Denoising", icon="🧽", url_path="denoising"),
    st.Page("pages/clustering.py", title="Clustering", icon="🧩", url_path="clustering"),
]

page = st.navigation(PAGES)
sidebar.render()
page.run()
state.show_notices()
