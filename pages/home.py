"""Overview: what each page teaches, in the lecture's order."""

import streamlit as st

import ui

ui.require_app()

st.title("Autoencoders and variational autoencoders")
st.markdown(
    "An interactive companion to the lecture. Every model trains on demand on this server "
    "(GPU when there is one) and is cached: move a slider, press **Retrain**, and everyone "
    "connected sees the result."
)

TOPICS = [
    ("pages/autoencoder.py", "1 · Autoencoder", "The latent space as compression. A smaller latent "
     "means a tighter bottleneck and blurrier reconstructions; the decoder alone generates images."),
    ("pages/transposed_conv.py", "2 · Transposed convolution", "Worked by hand, as on the slides: each "
     "input value times the kernel, pasted at stride offsets, overlaps summed."),
    ("pages/vae.py", "3 · Variational autoencoder", "Mean and log-variance, the reparameterisation trick, "
     "BCE + KL; a regular latent space has continuity and completeness."),
    ("pages/anomaly.py", "4 · Anomaly detection", "Train on normal digits only; the reconstruction error "
     "flags what the model has never seen."),
    ("pages/denoise.py", "5 · Denoising", "Corrupt the input, reconstruct the clean image."),
    ("pages/clustering.py", "6 · Clustering", "Which representation makes digits cluster: pixels, PCA, "
     "the AE latent or the VAE latent?"),
]

cols = st.columns(3)
for i, (path, title, text) in enumerate(TOPICS):
    with cols[i % 3].container(border=True, height="stretch"):
        st.page_link(path, label=f"**{title}**")
        st.write(text)

st.caption("Data: MNIST (LeCun, Cortes & Burges, CC BY-SA 3.0) ships with the app; Fashion-MNIST "
           "(Zalando Research, MIT) when installed — see the README.")
