"""Take it home: a Jupyter notebook that reproduces a page's main figures for the page's model.

:func:`notebook_for` writes an ``.ipynb`` (nbformat 4) whose first cell says how to get the
project and install it, whose code loads exactly the page's model through apcore
(``ModelStore().get_or_train(config)``: the checkpoint when the project folder has it, else a
training of about 20 s on a CPU) and redraws the page's main figures with Plotly from apcore's
public functions. Each figure ends up in a variable named in :data:`FIGURES` (the notebook shows it
as the cell's value), so a test runs the code cells in order and checks them.

The page's Download button passes its model and its view, e.g.
``notebook_for("anomaly", trained.config, measure="mse")``.
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Sequence

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .config import ModelConfig

TITLES = {
    "autoencoder": "Autoencoder: the latent space as compression",
    "vae": "Variational autoencoder",
    "anomaly": "Anomaly detection",
    "denoise": "Denoising",
    "clustering": "Clustering in latent space",
}
# The variables holding each notebook's Plotly figures, in the order the cells make them.
FIGURES = {
    "autoencoder": ("fig_reconstructions", "fig_latent"),
    "vae": ("fig_prior", "fig_loss"),
    "anomaly": ("fig_histogram", "fig_roc"),
    "denoise": ("fig_denoised", "fig_psnr"),
    "clustering": ("fig_scores",),
}
# Each page's view settings a notebook takes (``**view``), with the page's defaults.
VIEWS = {
    "autoencoder": {"projection": "auto"},
    "vae": {"seed": 0},
    "anomaly": {"measure": "mse"},
    "denoise": {"test_level": 0.5, "also": ()},
    "clustering": {"algorithm": "kmeans", "k": 10, "pca_components": 10, "umap": False, "also": ()},
}

INSTALL = """\
## Get the project and install it

This notebook runs the lecture dashboard's own library, `apcore`:

1. Get the project folder (the one holding `app.py`, `apcore/` and `requirements.txt`): clone the
   course repository with `git clone`, or copy the folder from the lecture machines.
2. Install it, in that folder (Python 3.11): `python3 -m pip install -r requirements.txt`
   (and Jupyter, if you have none: `python3 -m pip install notebook`).
3. Put this notebook in the project folder and open it there (`jupyter notebook`), or set `PROJECT`
   in the first code cell to where the folder is.

The model is loaded from the project's `checkpoints/` when it is there (after
`python3 -m apcore warm`); otherwise the second code cell trains it, which takes about half a minute
on a laptop CPU.
"""

SETUP = '''\
import sys
from pathlib import Path

PROJECT = Path.cwd()  # the project folder, the one holding apcore/: change it if the notebook lives elsewhere
if (PROJECT / "apcore").is_dir() and str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import torch
from torchvision.utils import make_grid

from apcore.cache import ModelStore
from apcore.config import ModelConfig
from apcore.data import load_dataset


def image_rows(rows, title=None):
    """Rows of digits as one grey picture: rows = {row name: images}, images uint8 (N, 28, 28) or
    float (N, 1, 28, 28) in [0, 1]."""
    tiles = []
    for images in rows.values():
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        x = x.reshape(-1, 1, 28, 28).cpu()
        tiles.append(make_grid(x, nrow=len(x), padding=2, pad_value=1.0)[0])
    width = max(t.shape[1] for t in tiles)
    picture = torch.cat([torch.nn.functional.pad(t, (0, width - t.shape[1]), value=1.0) for t in tiles])
    fig = px.imshow(picture.numpy(), color_continuous_scale="gray", zmin=0, zmax=1, title=title)
    heights = np.array([t.shape[0] for t in tiles])
    fig.update_yaxes(tickvals=np.cumsum(heights) - heights / 2, ticktext=list(rows))
    fig.update_xaxes(showticklabels=False)
    return fig.update_layout(coloraxis_showscale=False, height=120 + 70 * len(rows))
'''

LOAD = '''\
# The page's model{plural}, exactly: the same configuration names the same checkpoint.
configs = [
{configs}
]
store = ModelStore()  # the project's checkpoints/ (or $APCORE_CHECKPOINT_DIR)
trained = [store.get_or_train(c) for c in configs]  # loaded, or trained here (about 20 s each on a CPU)
config, model = trained[0].config, trained[0].model
data = load_dataset(config.dataset)
names = data.class_names
for t in trained:
    print(t.config.describe(), {{k: round(v, 3) for k, v in t.metrics.items()}})
'''


def notebook_for(page: str, config: ModelConfig, **view) -> bytes:
    """An ``.ipynb`` (UTF-8 JSON) reproducing ``page``'s main figures for ``config``.

    Parameters
    ----------
    page : one of :data:`TITLES` ("autoencoder", "vae", "anomaly", "denoise", "clustering").
    config : the page's (main) model: the one trained model the figures are drawn from.
    view : the page's settings (:data:`VIEWS`, unnamed ones at the page's defaults):
        autoencoder ``projection`` ("auto", "pca", "tsne"); vae ``seed`` of the prior samples;
        anomaly ``measure`` ("mse", "bce", "l1"); denoise ``test_level``; clustering
        ``algorithm``, ``k``, ``pca_components``, ``umap``; denoise and clustering ``also``,
        the other models the page shows beside ``config`` (the other denoiser; the VAE).
    """
    if page not in TITLES:
        raise ValueError(f"unknown page {page!r}; choose one of {', '.join(TITLES)}")
    unknown = set(view) - set(VIEWS[page])
    if unknown:
        raise ValueError(f"the {page} notebook takes no {', '.join(sorted(unknown))}")
    settings = {**VIEWS[page], **view}
    configs = [config, *settings.pop("also", ())]
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    intro = (f"# {TITLES[page]}\n\nThe dashboard's *{TITLES[page]}* page, taken home: its main figures for "
             + ", ".join(f"**{c.describe()}**" for c in configs) + ".\n\n" + INSTALL)
    nb.cells = [new_markdown_cell(intro), new_code_cell(SETUP), new_code_cell(_load(configs))]
    for kind, source in _PAGES[page](settings):
        nb.cells.append(new_markdown_cell(source) if kind == "md" else new_code_cell(source))
    nbformat.validate(nb)
    return nbformat.writes(nb).encode()


def _load(configs: Sequence[ModelConfig]) -> str:
    return LOAD.format(plural="s" if len(configs) > 1 else "", configs="\n".join(_config_source(c) for c in configs))


def _config_source(config: ModelConfig) -> str:
    """``config`` as the Python that builds it, every field named, wrapped at ~100 characters."""
    args = ", ".join(f"{f.name}={getattr(config, f.name)!r}" for f in dataclasses.fields(config))
    lines = textwrap.wrap(f"ModelConfig({args}),", width=100, initial_indent=" " * 4,
                          subsequent_indent=" " * 16, break_long_words=False, break_on_hyphens=False)
    source = "\n".join(lines)
    if eval(source.strip().rstrip(","), {"ModelConfig": ModelConfig}) != config:  # noqa: S307 - our own text
        raise ValueError(f"{config.describe()}: its source does not rebuild it")
    return source


# -- each page's cells: ("md" | "code", source) ------------------------------------------------------

def _autoencoder(v: dict) -> list[tuple[str, str]]:
    return [
        ("md", "## One test digit of each class, and its reconstruction"),
        ("code", '''\
from apcore import explore

fixed = explore.first_of_each_class(data.test_labels)
originals = data.test_images[fixed]
fig_reconstructions = image_rows(
    {"original": originals, f"from {config.latent_dim} numbers": explore.reconstruct(model, originals)},
    "One test digit of each class")
fig_reconstructions'''),
        ("md", "## Test digits in the latent space\n\nA 2-D code is drawn as it is; a longer one through "
               "PCA (or t-SNE), as on the page."),
        ("code", f'''\
from apcore import cluster

PROJECTION = {v["projection"]!r}  # "auto" (the code itself when 2-D, else PCA), "pca" or "tsne"
codes = explore.codes(model, data)                     # (10000, latent size)
points, shown, used = cluster.project_2d(codes[:3000], PROJECTION)
x_title, y_title = cluster.AXIS_TITLES[used]
fig_latent = px.scatter(x=points[:, 0], y=points[:, 1], color=[names[c] for c in data.test_labels.numpy()[shown]],
                        category_orders={{"color": list(names)}}, opacity=0.7,
                        labels={{"x": x_title, "y": y_title, "color": "class"}},
                        title=f"{{len(shown):,}} test digits in the latent space")
fig_latent'''),
    ]


def _vae(v: dict) -> list[tuple[str, str]]:
    return [
        ("md", "## Samples from the prior\n\nDecodings of 30 points drawn from N(0, I): the decoder as a generator."),
        ("code", f'''\
from apcore import explore

SEED = {v["seed"]!r}  # another seed, other samples
z = explore.prior_samples(config.latent_dim, 30, SEED)
samples = explore.decode(model, z)                       # (30, 1, 28, 28)
fig_prior = image_rows({{f"{{i + 1}}-{{i + 10}}": samples[i:i + 10] for i in range(0, 30, 10)}},
                       "Decodings of 30 points drawn from N(0, I)")
fig_prior'''),
        ("md", "## The loss terms\n\nloss = BCE + β·KL per image; the KL term keeps the codes close to N(0, I)."),
        ("code", '''\
history = pd.DataFrame(trained[0].history)
terms = [t for t in ("recon", "kl") if t in history]
fig_loss = px.line(history, x="epoch", y=terms, markers=True, title="Training loss terms per image")
m = trained[0].metrics
print(f"test loss {m['test_loss']:.1f} = BCE {m['test_recon']:.1f} + KL {m['test_kl']:.1f} per image")
fig_loss'''),
    ]


def _anomaly(v: dict) -> list[tuple[str, str]]:
    return [
        ("md", "## Anomaly scores of the test set\n\nThe model trained on the normal class(es) only; a "
               "test image's score is its reconstruction error summed over the pixels."),
        ("code", f'''\
from apcore import anomaly

MEASURE = {v["measure"]!r}  # "mse" (squared error), "bce" or "l1"
scored = anomaly.score_test_set(model, config, data, measure=MEASURE)
group = np.where(scored.normal, "normal (" + ", ".join(names[c] for c in config.normal_classes) + ")", "held out")
fig_histogram = px.histogram(x=np.log10(np.maximum(scored.scores, 1e-6)), color=group, barmode="overlay",
                             histnorm="probability", nbins=80, opacity=0.6,
                             labels={{"x": f"log10 anomaly score ({{anomaly.MEASURES[MEASURE]}})", "color": ""}},
                             title="Scores: normal test images vs the rest")
fig_histogram'''),
        ("md", "## ROC curve and AUROC"),
        ("code", '''\
fpr, tpr, _ = anomaly.roc(scored.scores[scored.normal], scored.scores[~scored.normal])
auroc = scored.auroc
fig_roc = px.line(x=fpr, y=tpr, labels={"x": "false-positive rate", "y": "true-positive rate"},
                  title=f"ROC: normal vs held-out test digits, AUROC {auroc:.3f}")
fig_roc.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), showlegend=False)
print(f"AUROC {auroc:.3f}")
fig_roc'''),
    ]


def _denoise(v: dict) -> list[tuple[str, str]]:
    return [
        ("md", "## Noisy test digits and what each model makes of them"),
        ("code", f'''\
from apcore import denoise

TEST_LEVEL = {v["test_level"]!r}  # the test noise level; the models were trained at their own
rows = {{}}
for t in trained:
    clean, noisy, out = denoise.denoise(t.model, data.test_images[:10], t.config.noise, TEST_LEVEL)
    rows.setdefault("clean", clean)
    rows.setdefault(f"{{t.config.noise}} {{TEST_LEVEL:g}}", noisy)
    rows[t.config.describe().split(",")[0] + " output"] = out
fig_denoised = image_rows(rows, f"Test digits at {{config.noise}} noise {{TEST_LEVEL:g}}")
for t in trained:
    q = denoise.quality(*denoise.denoise(t.model, data.test_images[:1000], t.config.noise, TEST_LEVEL))
    print(f"{{t.config.describe()}}: PSNR {{q['psnr_noisy']:.1f}} dB noisy -> {{q['psnr_denoised']:.1f}} dB denoised, "
          f"SSIM {{q['ssim_noisy']:.3f}} -> {{q['ssim_denoised']:.3f}} (first 1,000 test images)")
fig_denoised'''),
        ("md", "## PSNR against the test noise level"),
        ("code", '''\
levels = np.round(np.linspace(0, 1, 11), 1)
fig_psnr = go.Figure()
for i, t in enumerate(trained):
    curve = denoise.psnr_curve(t.model, data.test_images[:1000], t.config.noise, levels)
    if i == 0:
        fig_psnr.add_scatter(x=curve["level"], y=curve["psnr_noisy"], name="noisy input", line=dict(dash="dot"))
    fig_psnr.add_scatter(x=curve["level"], y=curve["psnr_denoised"], name=t.config.describe().split(",")[0] + " output")
fig_psnr.add_vline(x=config.noise_level, line_dash="dash", annotation_text="trained at")
fig_psnr.update_layout(title="PSNR against test noise level", xaxis_title=f"test noise level ({config.noise})",
                       yaxis_title="PSNR (dB)", yaxis_range=[0, 40])
fig_psnr'''),
    ]


def _clustering(v: dict) -> list[tuple[str, str]]:
    return [
        ("md", "## Which representation clusters best?\n\nCluster the test images without their labels, "
               "then score the clusters against the labels: accuracy after the best one-to-one matching "
               "(Hungarian), NMI and ARI."),
        ("code", f'''\
from apcore import cluster

ALGORITHM, K, PCA_COMPONENTS = {v["algorithm"]!r}, {v["k"]!r}, {v["pca_components"]!r}
UMAP = {v["umap"]!r}  # N2D: the codes through UMAP first (needs umap-learn; about a minute the first time)
images, labels = cluster.test_split(data)
by_representation = {{"vae" if t.config.is_vae else "ae": t for t in trained}}
rows = []
for pipeline in cluster.comparison(ALGORITHM, K, PCA_COMPONENTS, UMAP, list(by_representation)):
    features = cluster.features(pipeline, images, by_representation.get(pipeline.representation), store.root)
    result = cluster.run(pipeline, features, labels)
    rows.append({{"representation": pipeline.label(), "accuracy": result.scores["cluster_acc"],
                 "NMI": result.scores["cluster_nmi"], "ARI": result.scores["cluster_ari"]}})
scores = pd.DataFrame(rows)
fig_scores = px.bar(scores.melt(id_vars="representation", var_name="score"), x="representation", y="value",
                    color="score", barmode="group", range_y=[0, 1],
                    title=f"{{cluster.ALGORITHMS[ALGORITHM]}}, k = {{K}}, on {{len(labels):,}} test images")
print(scores.round(3).to_string(index=False))
fig_scores'''),
    ]


_PAGES = {"autoencoder": _autoencoder, "vae": _vae, "anomaly": _anomaly, "denoise": _denoise,
          "clustering": _clustering}
