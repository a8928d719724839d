"""Variational autoencoder: mean and log-variance, the reparameterisation trick, BCE + KL, and
why its latent space is regular (continuity, completeness) where a plain autoencoder's is not."""

import numpy as np
import streamlit as st
import torch

import ui
from apcore import explore
from apcore.data import to_float
from apcore.defaults import default_config
from ui import controls, figures, images, replay, sidebar, state, touch, training
from ui.notebook import download_notebook
from ui.explore import test_codes
from ui.resources import dataset

ui.require_app()

OWN = -1  # the continuity walk's end that is the user's own digit

st.title("Variational autoencoder")
st.caption("The encoder outputs a mean μ and a log-variance log σ² per latent unit; "
           "z = μ + σ·ε with ε ~ N(0, I) (the reparameterisation trick); "
           "loss = BCE + β·KL, KL = −½ Σ (1 + log σ² − μ² − σ²).")

ds = sidebar.dataset()
c1, c2, c3 = st.columns([1, 2, 2])
with c1:
    arch = controls.architecture("vae")
with c2:
    latent = controls.latent_size("vae", f"vae-{arch}", ds)
with c3:
    beta = controls.beta("vae")
config = default_config(f"vae-{arch}", latent_dim=latent, dataset=ds, beta=beta)
ae_config = default_config(f"ae-{arch}", latent_dim=latent, dataset=ds)
vae = training.trained_model(config, label=f"VAE · {config.describe()}")
ae = training.trained_model(ae_config, label=f"AE for comparison · {ae_config.describe()}")
if vae is None:
    st.info("The VAE appears here as soon as it is trained.")
    st.stop()
download_notebook("vae", vae, seed=st.session_state.get("vae_prior_seed", 0))

data = dataset(ds)
names = data.class_names
# Only the open tab is computed; the URL names it (?vae_tab=Latent+grid), so a slide can link to it.
tabs = st.tabs(["Loss terms", "Samples from the prior", "Latent grid", "Continuity", "Completeness",
                "Reparameterisation", "KL per dimension", "Training replay"], **state.bound("vae_tab", persist=False))

if tabs[0].open:
    with tabs[0]:
        m = vae.metrics
        a, b, c = st.columns(3)
        a.metric("Test loss per image", f"{m['test_loss']:.1f}")
        b.metric("Reconstruction (BCE)", f"{m['test_recon']:.1f}")
        c.metric("KL divergence", f"{m['test_kl']:.1f}")
        st.plotly_chart(figures.loss_curves(vae.history, ["recon", "kl"], title="Training loss terms per image"),
                        key="vae_history")
        st.caption("The KL term is what keeps the codes close to N(0, I); raise β to weigh it more.")

if tabs[1].open:
    with tabs[1]:
        seed = st.session_state.setdefault("vae_prior_seed", 0)
        if st.button("Draw new samples", key="vae_new_samples"):
            st.session_state["vae_prior_seed"] = seed = seed + 1
        z = explore.prior_samples(latent, 30, seed)
        st.markdown("**Decodings of 30 points drawn from N(0, I)**")
        st.image(images.montage(explore.decode(vae.model, z), nrow=10), width="stretch")

if tabs[2].open:
    with tabs[2]:
        if latent != 2:
            st.info("The latent grid needs a 2-D latent space: set the latent size to 2.")
        else:
            n = st.slider("Grid size", 7, 25, 15, key="vae_grid_n", persist_state="page")
            grids = {"VAE": (vae.model, None, "**VAE**: the grid follows the prior's quantiles (5 %–95 %)")}
            if ae is not None:
                span = float(np.abs(test_codes(ae)).max())
                grids["AE"] = (ae.model, span, f"**AE**: the same grid over its codes' range (±{span:.1f})")
            touch.latent_grids("vae_grid", grids, n)
            st.markdown("**Between the cells**: click anywhere on the plane of the VAE's test codes (μ) to decode that point.")
            touch.decode_on_click("vae_plane", vae, test_codes(vae), data.test_labels.numpy(), names)

if tabs[3].open:
    with tabs[3]:
        st.markdown("**Continuity**: walk in a straight line between the codes of two digits. "
                    "Near points should decode to similar images all along the way.")
        fixed = explore.first_of_each_class(data.test_labels)
        ends = [*range(len(names)), OWN]
        a, b = st.columns(2)
        ca = a.selectbox("From", ends, index=1, format_func=lambda c: names[c] if c != OWN else "your digit",
                         key="vae_from", persist_state="page")
        cb = b.selectbox("To", ends, index=7, format_func=lambda c: names[c] if c != OWN else "your digit",
                         key="vae_to", persist_state="page")
        walk = st.container()
        st.markdown("**Your own digit** as an end of the walk: choose *your digit* as From or To.")
        mine, seen = st.columns([1, 2])
        with mine:
            digit = touch.user_digit("vae_digit")
        if digit is not None:
            with seen:
                touch.show_code(vae, "auto", digit)
        ends = {c: to_float(data.test_images[fixed[c]])[0] for c in (ca, cb) if c != OWN}
        if digit is not None:
            ends[OWN] = digit[0]
        with walk:
            if ca in ends and cb in ends:
                rows = {"VAE": explore.interpolate(vae.model, ends[ca], ends[cb], 10)}
                if ae is not None:
                    rows["AE"] = explore.interpolate(ae.model, ends[ca], ends[cb], 10)
                images.show_rows(rows)
            else:
                st.info("Draw or upload your digit below to use it as an end of the walk.")

if tabs[4].open:
    with tabs[4]:
        st.markdown("**Completeness**: the *same* points from N(0, I) through both decoders. The VAE "
                    "decodes them to digits; the plain AE, whose codes were never asked to fill N(0, I), "
                    "often does not.")
        z = explore.prior_samples(latent, 10, 100 + st.session_state.get("vae_prior_seed", 0))
        rows = {"VAE decoder": explore.decode(vae.model, z)}
        if ae is not None:
            rows["AE decoder"] = explore.decode(ae.model, z)
        images.show_rows(rows)

if tabs[5].open:
    with tabs[5]:
        digit = st.selectbox("Digit", range(len(names)), index=3, format_func=lambda c: names[c],
                             key="vae_rep_digit", persist_state="page")
        image = data.test_images[explore.first_of_each_class(data.test_labels)[digit]]
        rep = explore.reparameterisation(vae.model, image, n=8, seed=0)
        left, right = st.columns([1, 2])
        with left:
            images.show_digit(image, caption="input x", width=180)
        with right:
            st.plotly_chart(figures.mu_sigma(rep["mu"], rep["sigma"]), key="vae_mu_sigma")
        st.markdown("**Decoding μ, then 8 samples z = μ + σ·ε**")
        st.image(images.montage(torch.cat([rep["decoded_mu"], rep["decoded"]]), nrow=9), width="stretch")
        with st.expander("The numbers"):
            st.dataframe(figures.reparam_table(rep), width="stretch")

if tabs[6].open:
    with tabs[6]:
        kl = explore.kl_by_dimension(vae.model, data)
        st.plotly_chart(figures.kl_bars(kl), key="vae_kl_dims")
        used = int((kl > 0.1).sum())
        st.markdown(f"**{used} of {latent}** units carry information (KL > 0.1 nats). Units near zero "
                    "are ignored by the decoder: their posterior equals the prior.")

if tabs[7].open:
    with tabs[7]:
        replay.show(vae, names, "vae", ["recon", "kl"])
