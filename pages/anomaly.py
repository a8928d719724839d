"""Anomaly detection: an autoencoder trained on the normal class(es) only; the reconstruction
error of a test image is its anomaly score."""

import numpy as np
import streamlit as st
import torch

import ui
from apcore import anomaly, defaults
from apcore.config import ARCHITECTURES
from apcore.data import CLASS_NAMES
from ui import anomaly as view
from ui import images, resources, sidebar, state, touch, training
from ui.notebook import download_notebook

ui.require_app()

LATENTS = (2, 4, 8, 16, 32, 64)
MEASURES = {"mse": "squared error", "bce": "binary cross-entropy"}
SHOWN = 10  # most / least anomalous images per row

st.title("Anomaly detection")
st.caption("Train an autoencoder on the **normal** class only. It learns to reconstruct normal images; "
           "anything else comes back worse, so the **reconstruction error** is an anomaly score.")

name = sidebar.dataset()
names = CLASS_NAMES[name]
data = resources.dataset(name)

c1, c2, c3, c4 = st.columns([3, 1.3, 2, 2])
normal = c1.multiselect("Normal class(es)", range(10), format_func=lambda c: names[c],
                        **state.linked("anomaly_normal", "normal", list(defaults.ANOMALY_NORMAL),
                                       lambda v: 0 < len(v) < 10 and all(0 <= c < 10 for c in v)),
                        help="The model trains on these training images only; every other class is an anomaly.")
family = c2.radio("Model", defaults.ANOMALY_FAMILIES, format_func=ARCHITECTURES.get, horizontal=True,
                  **state.linked("anomaly_family", "model", defaults.ANOMALY_FAMILY, defaults.ANOMALY_FAMILIES))
latent = c3.select_slider("Latent size", LATENTS, **state.linked("anomaly_latent", "latent", defaults.ANOMALY_LATENT, LATENTS))
measure = c4.radio("Error measure", list(MEASURES), format_func=MEASURES.get, horizontal=True,
                   **state.linked("anomaly_measure", "score", view.DEFAULT_MEASURE, MEASURES),
                   help="Per pixel, summed over the image. Squared error ranks anomalies "
                   "better here (mean AUROC 0.96 vs 0.91 with cross-entropy: bench/anomaly.py).")

if not normal or len(normal) == len(names):
    st.info("Choose at least one normal class, and leave at least one out to be the anomalies.")
    st.stop()

config = defaults.anomaly_config(family, latent, sorted(normal), name)
normal_label = ", ".join(names[c] for c in config.normal_classes)
trained = training.trained_model(config, f"{ARCHITECTURES[family]} autoencoder, latent {latent}, trained on {normal_label} only")
if trained is None:
    st.stop()
download_notebook("anomaly", trained, measure=measure)

s = view.scores(trained, measure, name)
threshold = st.select_slider("Threshold: flag a test image as anomalous when its score is above", s.grid,
                             value=s.start, key=f"anomaly_threshold_{trained.config.key[:10]}_{measure}",
                             format_func=lambda v: f"{v:.3g}",
                             help="Starts where 5% of the normal test images are flagged.")
m = anomaly.threshold_metrics(s.test.scores, s.is_anomaly, threshold)

flagged = {g: float(np.mean(v > threshold)) for g, v in s.groups.items()}
k1, k2, k3, k4 = st.columns(4)
k1.metric("Precision", f"{m['precision']:.3f}", help="Of the flagged test images, the fraction that are anomalies.")
k2.metric("Recall", f"{m['recall']:.3f}", help="Of the anomalous test images, the fraction flagged.")
k3.metric("F1", f"{m['f1']:.3f}")
k4.metric("Normal images flagged", f"{flagged[view.NORMAL]:.1%}", help="False-positive rate.")

left, right = st.columns([3, 2])
with left:
    st.plotly_chart(view.histogram(s, threshold, MEASURES[measure], normal_label), key="anomaly_hist")
with right:
    st.plotly_chart(view.confusion(m), key="anomaly_confusion", config={"displayModeBar": False})
    st.markdown("**Flagged at this threshold:** " + " · ".join(f"{g} {f:.0%}" for g, f in flagged.items()))
    best = anomaly.threshold_metrics(s.test.scores, s.is_anomaly, s.best_f1)
    st.caption(f"Best F1 on the test set: {best['f1']:.3f} at threshold {s.best_f1:.3g}.")

left, right = st.columns([2, 3])
with left:
    fpr = m["fp"] / max(1, m["fp"] + m["tn"])
    st.plotly_chart(view.roc_figure(s, (fpr, m["recall"])), key="anomaly_roc")
with right:
    st.plotly_chart(view.per_class_figure(s, normal_label), key="anomaly_per_class")
    ood = ", ".join(f"{g} {s.test.auroc_against(g):.3f}" for g in s.test.extra)
    st.caption(f"AUROC of the normal test images against the out-of-distribution groups: {ood}.")

st.subheader("Most and least anomalous test images")
most, least = anomaly.extremes(s.test.scores, SHOWN)
for title, idx in (("Most anomalous", most), ("Least anomalous", least)):
    x, recon, err = anomaly.reconstruct_with_errors(trained.model, data.test_images[torch.from_numpy(idx.copy())],
                                                    measure)
    st.markdown(f"**{title}** · classes " + " · ".join(f"{names[s.test.labels[i]]} ({s.test.scores[i]:.3g})" for i in idx))
    images.show_rows({"Test image": x, "Reconstruction": recon,
                      "Error per pixel (bright = large)": err / err.amax().clamp_min(1e-6)})

st.subheader("Try your own digit")
mine, seen = st.columns([1, 2])
with mine:
    digit = touch.user_digit("anomaly_digit")
if digit is not None:
    x, recon, err = anomaly.reconstruct_with_errors(trained.model, digit, measure)
    score = float(err.sum())
    percentile = float(np.mean(s.groups[view.NORMAL] < score))
    verdict = "**anomalous**" if score > threshold else "**normal**"
    with seen:
        st.markdown(f"Score **{score:.3g}** ({MEASURES[measure]}): {verdict} at threshold {threshold:.3g}; "
                    f"higher than {percentile:.0%} of the normal test images.")
        touch.show_digits({"as the model sees it": x[0], "reconstruction": recon[0],
                           "error per pixel": err[0] / err.amax().clamp_min(1e-6)}, columns=3)
