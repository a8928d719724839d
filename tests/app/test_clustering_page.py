"""AppTest of the clustering page: tiny models, 1,000 test images."""

import json
import os

os.environ.setdefault("APCORE_CLUSTER_LIMIT", "1000")

import pandas as pd  # noqa: E402
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df  # noqa: E402

from apcore import cluster  # noqa: E402
from tests.app.conftest import page_test, run_until_trained  # noqa: E402


def table(at):
    return at.table[0].value


def charts(at) -> list[tuple[dict, pd.DataFrame]]:
    """The page's Vega-Lite charts (2-D view, confusion matrix): each one's spec and its data, as sent."""
    return [(json.loads(c.proto.spec), convert_arrow_bytes_to_pandas_df(c.proto.datasets[0].data.data))
            for c in at.get("vega_lite_chart")]


def heatmap_counts(at) -> pd.DataFrame:
    """The confusion matrix drawn: clusters (rows, in the drawn order) by true label."""
    spec, data = charts(at)[1]
    rows = spec["layer"][0]["encoding"]["y"]["sort"]  # cells, then their numbers
    return data.pivot(index="cluster", columns="true label", values="images").loc[rows]


def cluster_rows(at) -> list[str]:
    """The rows of "What each cluster looks like" (one HTML element): each cluster's name, its
    decoded centre and its members, as ``<img>``s."""
    blocks = [el.value for el in at.get("html") if 'class="cl-rows"' in el.value]
    assert len(blocks) <= 1
    return blocks[0].split('<div class="cl-row">')[1:] if blocks else []


def shows_every_cluster(at, k: int = 10) -> bool:
    """Each of ``k`` clusters drawn: its centre and at least one member (1,000 test images)."""
    rows = cluster_rows(at)
    return len(rows) == k and all(r.count('<img src="data:image/png;base64,') == 2 for r in rows)


def test_table_compares_every_representation_and_follows_widgets():
    at = run_until_trained(page_test("clustering"))
    rows = table(at)
    assert list(rows["Representation"]) == ["Raw pixels", "PCA (10)", "AE latent", "VAE latent (mean)",
                                            "▶ AE latent → UMAP (N2D)", "VAE latent (mean) → UMAP (N2D)"]
    assert rows["Accuracy"].between(0.1, 1).all() and rows["NMI"].between(0, 1).all()
    (scatter, points), _ = charts(at)  # 2-D view, confusion matrix
    heat = heatmap_counts(at)
    assert heat.to_numpy().sum() == 1000 and heat.shape == (10, 10)
    # Each cluster is named after its most common true label: the largest count of its row.
    assert all(name.endswith(f"· {row.idxmax()}") for name, row in heat.iterrows())
    assert len(points) == 1000 and points["test image"].is_unique  # every test image once (fewer than 3,000)
    assert points.groupby("cluster").size().to_dict() == heat.sum(axis=1).to_dict()  # the same clustering
    assert scatter["encoding"]["color"]["scale"]["domain"] == sorted(heat.index, key=lambda n: int(n[1:n.index(" ")]))
    assert [p["bind"] for p in scatter["params"]] == ["legend"]  # a legend click picks out a cluster
    assert shows_every_cluster(at)  # decoded centres and members of the AE's clusters
    assert f"UMAP ({cluster.umap_settings()})" in at.toggle(key="cluster_umap").help  # the settings it runs

    at.radio(key="cluster_rep").set_value("pixels")
    at.slider(key="cluster_k").set_value(4)
    at.selectbox(key="cluster_algo").set_value("gmm")
    at.run()
    assert not at.exception
    assert "Gaussian mixture, k = 4" in [s.value for s in at.subheader][0]
    assert heatmap_counts(at).shape == (4, 10) and heatmap_counts(at).to_numpy().sum() == 1000
    assert cluster_rows(at) == []  # pixels: no decoder, no centres to draw
    assert table(at)["Representation"][0] == "▶ Raw pixels"
    assert at.query_params["rep"] == "pixels" and at.query_params["k"] == "4"


def test_umap_off_leaves_the_plain_codes():
    at = page_test("clustering")
    at.query_params["umap"] = "0"
    at.query_params["latent"] = "10"
    at = run_until_trained(at)
    assert list(table(at)["Representation"]) == ["Raw pixels", "PCA (10)", "▶ AE latent", "VAE latent (mean)"]
    assert at.select_slider(key="cluster_latent").value == 10


def test_tsne_view_says_it_subsamples():
    at = page_test("clustering")
    at.query_params["view"] = "tsne"
    at.query_params["rep"] = "pca"
    at = run_until_trained(at)
    spec, points = charts(at)[0]
    assert "t-SNE of 1,000 random test images" in spec["title"]["text"] and len(points) == 1000


def test_bad_link_value_falls_back():
    at = page_test("clustering")
    at.query_params["k"] = "99"
    at = run_until_trained(at)
    assert at.slider(key="cluster_k").value == 10


def test_a_fresh_server_reads_every_row_from_disk(monkeypatch):
    import pytest
    import streamlit as st

    at = run_until_trained(page_test("clustering"))
    before = table(at)
    st.cache_data.clear()  # a fresh server: nothing in memory, the models and their rows on disk
    st.cache_resource.clear()
    monkeypatch.setattr(cluster, "run", lambda *a: pytest.fail("clustered again"))
    monkeypatch.setattr(cluster, "umap_features", lambda *a, **k: pytest.fail("UMAP again"))
    at = page_test("clustering")
    at.run()
    assert not at.exception, at.exception
    assert table(at).equals(before)
    assert len(charts(at)) == 2 and shows_every_cluster(at)


def test_the_servers_preload_leaves_the_default_view_only_to_read(monkeypatch):
    """``ui.clustering.prepare_default`` (the server's start-up runs it, ``ui.resources.prepare``)
    computes what the page's first visit shows: the page then computes no features, 2-D view or
    cluster centre."""
    import pytest
    import streamlit as st

    from ui import clustering, resources

    run_until_trained(page_test("clustering"))  # the default's models on disk
    st.cache_data.clear()  # a fresh server
    st.cache_resource.clear()
    clustering.prepare_default(resources.store())
    for name in ("features", "project_2d", "decoded_centres"):
        monkeypatch.setattr(cluster, name, lambda *a, _name=name, **k: pytest.fail(f"{_name} computed again"))
    at = page_test("clustering")
    at.run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 2 and shows_every_cluster(at)


def test_the_preload_fits_no_umap_and_clusters_nothing_not_kept_on_disk(monkeypatch, tmp_path):
    """A server whose clustering rows were never computed ahead (no ``python -m apcore warm``):
    its start-up leaves them to the page, which says what it computes, instead of tens of seconds
    of UMAP in the background of every server start."""
    import pytest
    import streamlit as st

    from ui import clustering, resources

    run_until_trained(page_test("clustering"))  # the models on disk
    st.cache_data.clear()  # a fresh server
    st.cache_resource.clear()
    monkeypatch.setattr(cluster, "result_path", lambda *a, **k: tmp_path / "missing.pt")
    for name in ("run", "umap_features", "features"):
        monkeypatch.setattr(cluster, name, lambda *a, _name=name, **k: pytest.fail(f"{_name} in the preload"))
    clustering.prepare_default(resources.store())


def test_only_the_clustering_page_asks_for_its_view_before_the_model(monkeypatch):
    """The clustering page's trainings carry ``clustering_first`` (its table appears with the
    model); the VAE page's 20-d VAE, the same model, does not (it is shown at once, the clustering
    view kept after: apcore.worker._run_job)."""
    from apcore.jobs import JobLimitError
    from ui import training

    asked = []

    class Registry:
        def get(self, config):
            return None

        def submit(self, config, retrain=False, clustering_first=False):
            asked.append((page, config.family, config.latent_dim, clustering_first))
            raise JobLimitError("recorded")  # nothing trains: the page says so and goes on

    class Store:
        def latest(self, config):
            return None

    monkeypatch.setattr(training, "registry", Registry)
    monkeypatch.setattr(training, "store", Store)
    for page in ("clustering", "vae"):
        at = page_test(page)
        at.query_params["latent"] = "20"
        at.run()
        assert not at.exception, at.exception
    assert ("clustering", "ae-mlp", 20, True) in asked and ("clustering", "vae-mlp", 20, True) in asked
    assert ("vae", "vae-mlp", 20, False) in asked and ("vae", "ae-mlp", 20, False) in asked


def test_the_confusion_matrix_names_every_row_and_column():
    """Digits are written across; Fashion-MNIST's longer names stand upright, as none may be dropped."""
    import numpy as np

    from apcore.data import CLASS_NAMES
    from ui import clustering

    counts = np.arange(30).reshape(3, 10)
    for name, angle in (("mnist", 0), ("fashion-mnist", -90)):
        classes = CLASS_NAMES[name]
        spec = clustering.confusion_heatmap(counts, ["C2 · x", "C0 · y", "C1 · z"], classes).to_dict()
        x, y = (spec["layer"][0]["encoding"][a] for a in "xy")
        assert x["axis"]["labelAngle"] == angle and x["sort"] == list(classes)
        assert not x["axis"]["labelOverlap"] and not y["axis"]["labelOverlap"]
        assert y["sort"] == ["C2 · x", "C0 · y", "C1 · z"]  # the rows in the order given
        data = next(iter(spec["datasets"].values()))
        assert sum(d["images"] for d in data) == counts.sum() and len(data) == 30
