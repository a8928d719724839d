"""Denoising: autoencoders trained to map corrupted digits back to clean ones, MLP beside CNN."""

import streamlit as st

import ui
from apcore import defaults
from apcore.config import ARCHITECTURES
from ui import denoise as view
from ui import images, resources, sidebar, state, touch, training
from ui.notebook import download_notebook

ui.require_app()

NOISES = {"gaussian": "Gaussian (std)", "salt-pepper": "salt and pepper (fraction)", "mask": "masking (fraction)"}
SHOWN = 10

st.title("Denoising")
st.caption("Feed the autoencoder a **corrupted** digit and ask for the **clean** one. It can only pass "
           "what fits through its bottleneck: the digit's shape, not the noise. The MLP squeezes the image "
           "into 32 numbers; the CNN into 8 feature maps of 7x7 (392 numbers for 784 pixels), each cell "
           "describing its own patch of the image.")

name = sidebar.dataset()
data = resources.dataset(name)

c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
noise = c1.radio("Noise", list(NOISES), format_func=lambda n: NOISES[n].split(" (")[0], horizontal=True,
                 **state.linked("denoise_noise", "noise", defaults.DENOISE_NOISE, NOISES))
longer = c2.toggle(f"Train {defaults.LONGER}x longer", **state.linked("denoise_longer", "longer", False),
                   help="Better models; minutes on a CPU, seconds on a GPU.")
c1, c2 = st.columns(2)
train_level = c1.slider(f"Training noise level: {NOISES[noise]}", 0.1, 0.9, defaults.DENOISE_LEVEL, step=0.1,
                        **state.bound("train"), help="The models are trained on images corrupted at this level.")
test_level = c2.slider(f"Test noise level: {NOISES[noise]}", 0.0, 1.0, view.DEFAULT_TEST_LEVEL, step=0.05, **state.bound("test"),
                       help="The test images shown and measured are corrupted at this level.")


trained = {}
for family in defaults.DENOISERS:
    config = defaults.denoiser_config(family, noise, train_level, name, longer)
    label = f"{ARCHITECTURES[family]} autoencoder, {config.latent_label}, trained at {noise} {train_level:.1f}"
    trained[family] = training.trained_model(config, label)
ready = {f: t for f, t in trained.items() if t is not None}
if not ready:
    st.stop()
first_model, *others = ready.values()
download_notebook("denoise", first_model, test_level=test_level, also=[t.config for t in others])

st.subheader(f"Test digits at {noise} noise {test_level:.2f}")
quality = {f: view.quality(t, name, noise, test_level) for f, t in ready.items()}
first = next(iter(quality.values()))
cols = st.columns(1 + 2 * len(ready))
cols[0].metric("Noisy input: PSNR", f"{first['psnr_noisy']:.1f} dB", help=f"Mean over {view.N_EVAL} test images.")
for i, (family, q) in enumerate(quality.items()):
    cols[1 + 2 * i].metric(f"{ARCHITECTURES[family]} output: PSNR", f"{q['psnr_denoised']:.1f} dB",
                           delta=f"{q['psnr_denoised'] - q['psnr_noisy']:+.1f} dB")
    cols[2 + 2 * i].metric(f"{ARCHITECTURES[family]} output: SSIM", f"{q['ssim_denoised']:.3f}",
                           delta=f"{q['ssim_denoised'] - q['ssim_noisy']:+.3f} vs noisy",
                           help="Structural similarity (scikit-image), 1 = identical to the clean image.")
st.caption(f"Noisy input SSIM {first['ssim_noisy']:.3f}. Means over the first {view.N_EVAL} test images, "
           "the same noise for every model.")

rows = {}
for family, t in ready.items():
    clean, noisy, out = view.examples(t, data.test_images[:SHOWN], noise, test_level)
    rows.setdefault("Clean", clean)
    rows.setdefault("Noisy input", noisy)
    rows[f"{ARCHITECTURES[family]} output"] = out
images.show_rows(rows)

curves = {f: view.curve(t, name, noise) for f, t in ready.items()}
st.plotly_chart(view.curve_figure(curves, train_level, test_level, NOISES[noise]), key="denoise_curve")

st.subheader("Try your own digit")
mine, seen = st.columns([1, 2])
with mine:
    digit = touch.user_digit("denoise_digit")
if digit is not None:
    shown = {}
    for family, t in ready.items():  # the noise is added to your digit first, at the test level
        clean, noisy, out = view.examples(t, digit, noise, test_level)
        shown.setdefault("your digit", clean[0])
        shown.setdefault(f"{noise} {test_level:.2f}", noisy[0])
        shown[f"{ARCHITECTURES[family]} output"] = out[0]
    with seen:
        touch.show_digits(shown)
