"""Clustering: which representation makes the classes cluster — pixels, PCA, the AE code, the VAE code?"""

import streamlit as st

import ui
from apcore import cluster, defaults
from ui import clustering as view
from ui import sidebar, state
from ui.notebook import download_notebook
from ui.resources import dataset
from ui.training import trained_model

LATENTS = (2, 5, 10, 20, 32)
VIEWS = {"auto": "native if 2-D, else PCA", "pca": "PCA", "tsne": "t-SNE (2,000 points)"}
KS = range(2, 21)  # numbers of clusters offered
DEFAULT = cluster.PAGE_VIEW  # what warm and the training worker compute ahead

ui.require_app()

st.title("Clustering in latent space")
st.markdown("Cluster the **test images** without their labels, then score the clusters against "
            "the true labels: **accuracy** after the best one-to-one matching of clusters to labels "
            "(Hungarian), **NMI** and **ARI** (1 = perfect, ~0 = chance).")

name = sidebar.dataset()
class_names = dataset(name).class_names

c1, c2, c3 = st.columns([5, 2, 3])
rep = c1.radio("Representation", list(cluster.REPRESENTATIONS), format_func=cluster.REPRESENTATIONS.get,
               horizontal=True, **state.linked("cluster_rep", "rep", "ae", cluster.REPRESENTATIONS))
algo = c2.selectbox("Algorithm", list(cluster.ALGORITHMS), format_func=cluster.ALGORITHMS.get,
                    **state.linked("cluster_algo", "algo", DEFAULT["algorithm"], cluster.ALGORITHMS))
k = c3.slider("Number of clusters", KS[0], KS[-1], **state.linked("cluster_k", "k", DEFAULT["k"], KS))
c1, c2, c3, c4 = st.columns([3, 2, 2, 3], vertical_alignment="bottom")
umap_on = c1.toggle("UMAP first (N2D)", **state.linked("cluster_umap", "umap", DEFAULT["umap"]),
                    help=f"AE/VAE code → UMAP ({cluster.umap_settings()}) → clustering: McConville "
                         "et al., N2D (2020). Computed with the model when it trains (a few seconds) and kept on "
                         "disk; `python -m apcore warm` computes the defaults before class.")
latent = c2.select_slider("AE / VAE latent", LATENTS,
                          **state.linked("cluster_latent", "latent", defaults.CLUSTER_LATENT, LATENTS))
pca_n = c3.slider("PCA components", 2, 50, DEFAULT["pca_components"], **state.bound("pca"))
method = c4.selectbox("2-D view", list(VIEWS), format_func=VIEWS.get,
                      **state.linked("cluster_view", "view", "auto", VIEWS))
if umap_on and not cluster.umap_available():
    st.warning("UMAP is not installed on this server (`pip install umap-learn`): showing codes without it.")
    umap_on = False

left, right = st.columns(2)
with left:
    ae = trained_model(defaults.cluster_ae_config(latent, name), clustering_first=True)
with right:
    vae = trained_model(defaults.cluster_vae_config(latent, name), clustering_first=True)
models = {"ae": ae, "vae": vae}
if ready := [m for m in models.values() if m is not None]:
    download_notebook("clustering", ready[0], algorithm=algo, k=k, pca_components=pca_n, umap=umap_on,
                      also=[m.config for m in ready[1:]])

wanted = cluster.comparison(algo, k, pca_n, umap_on, [r for r, m in models.items() if m is not None])
with st.spinner("Clustering every representation (the first time: seconds each, UMAP included)…"):
    results = [view.result(name, p, models.get(p.representation)) for p in wanted]

selected = cluster.Pipeline(rep, algo, k, "umap" if umap_on and rep in models else "none", pca_n)
st.subheader(f"Scores: {cluster.ALGORITHMS[algo]}, k = {k}")
st.caption(f"On the {len(view.test_set(name)[1]):,} test images of {name}.")
view.show_scores(view.scores_frame(results), selected.label())
st.caption("Seconds: the clustering (and UMAP) when first computed; every result is kept on disk. "
           "Bold green: best in its column. Shaded: the representation shown below.")

model = models.get(rep)
if rep in models and model is None:
    st.info("The model for this representation is training; its row and pictures appear when it is done.")
    st.stop()

res = next(r for r in results if r.pipeline == selected)
_, y = view.test_set(name)
counts = cluster.confusion(y, res.labels, k, len(class_names))
names = view.cluster_names(counts, class_names)
order = cluster.cluster_order(counts)

st.subheader(f"{selected.label()}: {res.scores['cluster_acc']:.0%} accuracy")
left, right = st.columns([3, 2])
with left:
    with st.spinner("2-D projection…"):
        points, index, used = view.projection(name, selected, method, model)
    what = {"native": "the 2-D code itself", "pca": "PCA of the representation",
            "tsne": f"t-SNE of {len(index):,} random test images"}[used]
    fig = view.cluster_scatter(points, index, res.labels, y, names, class_names, f"Clusters — {what}",
                               cluster.AXIS_TITLES[used])
    st.altair_chart(fig, key="cluster_scatter")
    shown = min(len(index), view.SCATTER_MAX_POINTS)
    st.caption(f"{shown:,} points drawn" + (f" of {len(index):,}" if shown < len(index) else "")
               + ". Hover a point for its true label; click a legend entry to pick out its cluster "
               "(shift-click: several; double-click an empty spot: all again).")
with right:
    st.altair_chart(view.confusion_heatmap(counts[order], [names[c] for c in order], class_names),
                    key="cluster_confusion")

if model is not None:
    images, _ = view.test_set(name)
    centres = view.centres(name, res, model)
    members = cluster.cluster_members(res.labels, k, per_cluster=view.MEMBERS_SHOWN)
    st.subheader("What each cluster looks like")
    st.caption("Left: the decoder's image of each cluster's centre (the mean code of its members). "
               "Right: eight random members. Rows sorted by majority label.")
    view.show_cluster_rows(counts, names, order, centres, members, images)
