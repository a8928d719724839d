"""Autoencoder: the latent space as compression; the decoder alone as a generator."""

import numpy as np
import streamlit as st

import ui
from apcore import cluster, explore
from apcore.defaults import default_config
from ui import controls, figures, images, replay, sidebar, state, touch, training
from ui.notebook import download_notebook
from ui.explore import projection, test_codes
from ui.plane import extent
from ui.resources import dataset, store

ui.require_app()

st.title("Autoencoder: the latent space as compression")
st.caption("Encoder → a code of *latent size* numbers → decoder. A smaller latent is a tighter "
           "bottleneck: less can get through, so reconstructions get blurrier.")

ds = sidebar.dataset()
c1, c2 = st.columns([1, 3])
with c1:
    arch = controls.architecture("ae")
with c2:
    latent = controls.latent_size("ae", f"ae-{arch}", ds)
config = default_config(f"ae-{arch}", latent_dim=latent, dataset=ds)
trained = training.trained_model(config)
if trained is None:
    st.info("The model appears here as soon as it is trained.")
    st.stop()
download_notebook("autoencoder", trained,
                  projection=st.session_state.get("ae_projection", "pca") if latent > 2 else "auto")

data = dataset(ds)
model = trained.model
names = data.class_names
fixed = explore.first_of_each_class(data.test_labels)
# Only the open tab is computed; the URL names it (?ae_tab=Latent+space), so a slide can link to it.
tab_rec, tab_bottle, tab_latent, tab_play, tab_replay = st.tabs(
    ["Reconstructions", "Bottleneck: latent size", "Latent space", "Decoder playground", "Training replay"],
    **state.bound("ae_tab", persist=False))

if tab_rec.open:
    with tab_rec:
        st.subheader("One test digit of each class")
        images.show_rows({"Original": data.test_images[fixed],
                          f"Reconstruction from {latent} numbers": explore.reconstruct(model, data.test_images[fixed])})
        seed = st.session_state.setdefault("ae_batch_seed", 0)
        st.subheader("A random batch")
        if st.button("New random batch", key="ae_new_batch"):
            st.session_state["ae_batch_seed"] = seed = seed + 1
        idx = explore.random_indices(len(data.test_images), 10, seed)
        images.show_rows({"Original": data.test_images[idx],
                          "Reconstruction": explore.reconstruct(model, data.test_images[idx])})

if tab_bottle.open:
    with tab_bottle:
        curve = explore.bottleneck_models(store().summaries(), config)
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(figures.loss_vs_latent([(c.latent_dim, v) for c, v in curve], latent), key="ae_curve")
        with right:
            st.markdown("Each point is a trained model (press **Retrain** or pick another size to add one). "
                        "Reconstruction error falls as the bottleneck widens, with diminishing returns.")
        rows = {"Ground truth": data.test_images[fixed]}
        for c, _ in curve:
            other = store().get(c)
            if other is not None:
                rows[f"Latent {c.latent_dim}"] = explore.reconstruct(other.model, data.test_images[fixed])
        images.show_rows(rows)

if tab_latent.open:
    with tab_latent:
        method = "auto"
        if latent > 2:
            method = st.radio("2-D view of the codes", ["pca", "tsne"], horizontal=True,
                              key="ae_projection", persist_state="page",
                              format_func={"pca": "PCA (3,000 digits)", "tsne": f"t-SNE ({cluster.TSNE_MAX_POINTS:,} digits)"}.get)
        idx, points, titles = projection(trained, method)
        labels = data.test_labels.numpy()[idx]
        left, right = st.columns([3, 1])
        st.subheader("Your own digit: where does it land?")
        mine, seen = st.columns([1, 2])
        with mine:
            digit = touch.user_digit("ae_digit")
        title = "Test digits in the latent space" + ("" if latent == 2 else f" ({titles[0][:-2]} of the {latent}-D codes)")
        fig = figures.latent_scatter(points, labels, names, title, titles, customdata=idx)
        if digit is not None:
            with seen:
                where = touch.show_code(trained, method, digit)
            if where is not None:
                touch.mark(fig, where, "your digit")
        with left:
            event = st.plotly_chart(fig, key="ae_scatter", on_select="rerun", selection_mode="points")
        with right:
            picked = figures.selected_indices(event)
            if picked:  # kept as plain state: the room following the lecturer sees the same digit
                st.session_state["ae_picked"] = picked[0]
            i = st.session_state.get("ae_picked")
            if i is not None:
                st.markdown(f"**Test image {i}** (label {names[data.test_labels[i]]})")
                images.show_rows({"Digit": data.test_images[i:i + 1],
                                  "Reconstruction": explore.reconstruct(model, data.test_images[i:i + 1])}, width=160)
            else:
                st.info("Click a point to see that digit and its reconstruction.")

if tab_play.open:
    with tab_play:
        st.markdown("The decoder alone is a generator: choose a latent vector and decode it. Far from "
                    "the data, a plain autoencoder decodes nonsense — its latent space has holes.")
        codes = test_codes(trained)
        lo, hi = extent(codes)
        start_class = st.selectbox("Start from the mean code of", range(len(names)), format_func=lambda c: names[c],
                                   key="ae_play_class", persist_state="page")
        start = codes[data.test_labels.numpy() == start_class].mean(0)
        shown = min(latent, 8)
        keys = [f"ae_play_z{d}_{start_class}_{trained.config.key[:8]}" for d in range(shown)]
        if latent == 2:  # a click on the plane below sets the sliders, before they are drawn
            plane, picture = touch.plane_picture(trained.config.key, codes, data.test_labels.numpy(), names)
            clicked = touch.clicked_point("ae_plane_click", plane)
            if clicked is not None:
                st.session_state.update(zip(keys, clicked.tolist()))
        z = start.copy()
        cols = st.columns(2)
        for d in range(shown):
            with cols[d % 2]:
                z[d] = st.slider(f"z{d + 1}", float(lo[d]), float(hi[d]), float(start[d]), key=keys[d],
                                 persist_state="page")
        if latent > shown:
            st.caption(f"Dimensions {shown + 1}–{latent} stay at the class mean.")
        left, right = st.columns([1, 2])
        with left:
            images.show_digit(explore.decode(model, z)[0], caption=touch.z_text(z) if latent == 2 else "decoded", width=240)
        with right:
            if latent == 2:
                st.markdown("**Click anywhere on the plane** to decode that point (the star).")
                touch.clickable_plane("ae_plane_click", plane, picture, z)
            else:
                st.metric("Distance from the class mean", f"{np.linalg.norm(z - start):.2f}")

if tab_replay.open:
    with tab_replay:
        replay.show(trained, names, "ae", ["recon"])
