"""apcore.cluster: each representation and pipeline, the algorithms on known blobs, the UMAP cache
(the scores themselves: tests/test_metrics.py)."""

import dataclasses

import numpy as np
import pytest
import torch

from apcore import cluster
from apcore.cache import TrainedModel
from apcore.config import ModelConfig
from apcore.metrics import cluster_accuracy
from apcore.models import build


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated Gaussian blobs in 5-d: (300, 5) points, labels (300,)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    x = rng.normal(size=(300, 5)).astype(np.float32) + 12 * np.eye(5, dtype=np.float32)[y]
    return x, y


@pytest.fixture(scope="module")
def images():
    """Random uint8 images (64, 28, 28)."""
    return torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("algorithm", list(cluster.ALGORITHMS))
def test_algorithms_recover_separated_blobs(blobs, algorithm):
    x, y = blobs
    labels = cluster.cluster(x, algorithm, k=3)
    assert labels.shape == (300,)
    assert cluster_accuracy(y, labels) == 1.0


def test_a_mixture_after_umap_keeps_the_likeliest_of_its_restarts():
    """Ten tight blobs in 2-d (as UMAP makes) where one EM run from sklearn's k-means start merges
    two of them: after UMAP the restarts find the clusters; without the manifold step, one run."""
    rng = np.random.default_rng(11)
    centres, sizes = rng.uniform(-12, 12, size=(10, 2)), rng.integers(30, 200, size=10)
    y = np.repeat(np.arange(10), sizes)
    x = (rng.normal(size=(len(y), 2)) * 0.6 + centres[y]).astype(np.float32)
    assert cluster.GMM_RESTARTS > 1
    after_umap = cluster.run(cluster.Pipeline("ae", "gmm", k=10, manifold="umap"), x, y)
    assert after_umap.scores["cluster_acc"] == 1.0
    assert cluster.run(cluster.Pipeline("ae", "gmm", k=10), x, y).scores["cluster_acc"] < 0.95
    assert cluster.run(cluster.Pipeline("ae", k=10, manifold="umap"), x, y).scores["cluster_acc"] == 1.0


def test_a_mixture_after_umap_also_starts_from_the_k_means_partition():
    """Ten separated blobs of unequal sizes and spreads in 3-d where all of scikit-learn's five
    k-means starts merge two of them (seed 0: accuracy 0.91) while k-means' best of ten finds
    them: EM from that partition is the likelier mixture, and it is kept."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(290)
    centres, sizes, spreads = rng.uniform(-10, 10, (10, 3)), rng.integers(20, 300, 10), rng.uniform(0.3, 1.0, 10)
    y = np.repeat(np.arange(10), sizes)
    x = (rng.normal(size=(len(y), 3)) * spreads[y, None] + centres[y]).astype(np.float32)
    five = GaussianMixture(10, reg_covar=cluster.GMM_REG, random_state=0, n_init=cluster.GMM_RESTARTS).fit(x)
    assert cluster_accuracy(y, five.predict(x)) < 0.95  # the case: every restart merged two blobs
    labels = cluster.run(cluster.Pipeline("ae", "gmm", k=10, manifold="umap"), x, y).labels
    assert cluster_accuracy(y, labels) > 0.99


def test_gaussian_start_is_the_partitions_mixture():
    """Each group's share, mean and covariance, as scikit-learn's own M-step gives them from the
    partition as responsibilities (its covariances with the same regularisation)."""
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(60, 3)), np.repeat(np.arange(3), [10, 20, 30])
    for cov in ("full", "diag"):
        start = cluster.gaussian_start(x, labels, 3, cov)
        counts, means, covariances = _estimate_gaussian_parameters(x, np.eye(3)[labels], cluster.GMM_REG, cov)
        assert np.allclose(start["weights_init"], counts / len(x)) and np.allclose(start["means_init"], means)
        inverse = np.linalg.inv(start["precisions_init"]) if cov == "full" else 1 / start["precisions_init"]
        assert np.allclose(inverse, covariances)


def test_run_scores_the_pipeline(blobs):
    x, y = blobs
    res = cluster.run(cluster.Pipeline("pca", "kmeans", k=3), x, y)
    assert res.scores["cluster_acc"] == 1.0 and res.scores["cluster_nmi"] == pytest.approx(1.0)
    assert res.labels.shape == (300,) and res.seconds >= 0


def test_gmm_on_many_features_uses_diagonal_covariances(blobs):
    x, y = blobs
    wide = np.repeat(x, 20, axis=1)  # 100 features > GMM_FULL_MAX_FEATURES
    assert cluster_accuracy(y, cluster.cluster(wide, "gmm", k=3)) == 1.0


def test_pixel_and_pca_features(images):
    px = cluster.pixel_features(images)
    assert px.shape == (64, 784) and px.dtype == np.float32
    assert 0.0 <= px.min() and px.max() <= 1.0
    assert np.allclose(px[3], images[3].flatten().numpy() / 255.0)
    pc = cluster.pca_features(images, 7)
    assert pc.shape == (64, 7)
    assert np.allclose(pc.mean(0), 0, atol=1e-4)  # centred
    assert np.all(np.diff(pc.var(0)) <= 1e-6)  # components in decreasing variance


@pytest.mark.parametrize("family", ["ae-mlp", "vae-mlp"])
def test_code_features_and_decoded_centres(images, family):
    torch.manual_seed(0)
    model = build(ModelConfig(family=family, latent_dim=4)).eval()
    codes = cluster.code_features(model, images)
    assert codes.shape == (64, 4)
    with torch.no_grad():  # the VAE's code is its mean, deterministic
        assert np.allclose(codes, model.embed(images.unsqueeze(1).float() / 255).numpy(), atol=1e-5)
    labels = np.arange(64) % 3
    centres = cluster.cluster_centres(codes, labels, k=4)  # cluster 3 is empty
    assert centres.shape == (4, 4)
    assert np.allclose(centres[1], codes[labels == 1].mean(0), atol=1e-6)
    assert np.isnan(centres[3]).all()
    decoded = cluster.decode_centres(model, centres)
    assert decoded.shape == (4, 1, 28, 28)
    assert 0 <= decoded.min() and decoded.max() <= 1 and decoded[3].abs().sum() == 0


def test_confusion_and_order():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    pred = np.array([2, 2, 0, 0, 1, 1, 0])
    counts = cluster.confusion(y, pred, k=3, n_classes=3)
    assert counts.tolist() == [[0, 2, 1], [0, 0, 2], [2, 0, 0]]
    assert counts.sum() == len(y)
    assert cluster.cluster_order(counts).tolist() == [2, 0, 1]  # majority labels 0, 1, 2


def test_members_are_in_their_cluster():
    labels = np.array([0, 1, 0, 1, 0, 2])
    members = cluster.cluster_members(labels, k=4, per_cluster=2)
    assert members.shape == (4, 2)
    for c in range(3):
        got = members[c][members[c] >= 0]
        assert len(got) == min(2, (labels == c).sum()) and np.all(labels[got] == c)
    assert (members[3] == -1).all()


def test_project_2d_native_pca_and_subsampled_tsne(blobs):
    x, _ = blobs
    pts, idx, used = cluster.project_2d(x[:, :2])
    assert used == "native" and pts.shape == (300, 2) and np.allclose(pts, x[:, :2])
    pts, idx, used = cluster.project_2d(x, "auto")
    assert used == "pca" and pts.shape == (300, 2) and len(idx) == 300
    pts, idx, used = cluster.project_2d(x, "tsne", max_points=120)
    assert used == "tsne" and pts.shape == (120, 2) and len(np.unique(idx)) == 120 and idx.max() < 300


def test_pipeline_validates_and_labels():
    assert cluster.Pipeline("pca", pca_components=5).label() == "PCA (5)"
    assert cluster.Pipeline("ae", manifold="umap").label() == "AE latent → UMAP (N2D)"
    assert cluster.Pipeline("ae", pca_components=30) == cluster.Pipeline("ae")  # PCA size only keys PCA
    with pytest.raises(ValueError):
        cluster.Pipeline("tsne")
    with pytest.raises(ValueError):
        cluster.Pipeline("ae", k=1)


@pytest.mark.skipif(not cluster.umap_available(), reason="umap-learn not installed")
def test_umap_features_shape(blobs):
    x, y = blobs
    u = cluster.umap_features(x, n_neighbors=10)
    assert u.shape == (300, 10) and u.dtype == np.float32
    assert cluster_accuracy(y, cluster.cluster(u, "kmeans", 3)) == 1.0


class AskCount:
    """A ``should_stop`` that says so from its ``stop_at``-th question on (never when None)."""

    def __init__(self, stop_at=None):
        self.asked, self.stop_at = 0, stop_at

    def __call__(self):
        self.asked += 1
        return self.stop_at is not None and self.asked >= self.stop_at


@pytest.mark.skipif(not cluster.umap_available(), reason="umap-learn not installed")
def test_umap_asks_between_its_epochs_and_stops_when_told(tmp_path, blobs):
    from apcore.train import Cancelled

    x, _ = blobs
    plain = cluster.umap_features(x, n_neighbors=10)
    asking = AskCount()
    np.testing.assert_array_equal(cluster.umap_features(x, n_neighbors=10, should_stop=asking), plain)  # the same fit
    epochs = cluster.UMAP_OPTIONS["n_epochs"]
    assert epochs <= asking.asked <= epochs + 5  # before the fit, then once an epoch (the bar's first and last lines)
    stopping = AskCount(stop_at=20)
    path = cluster.embedding_path(tmp_path, "k" * 64, len(x))
    with pytest.raises(Cancelled):
        cluster.cached_umap(x, path, should_stop=stopping)
    assert stopping.asked == 20 and not path.parent.exists()  # stopped mid-layout; nothing kept
    with pytest.raises(Cancelled):
        cluster.umap_features(x, should_stop=lambda: True)  # asked before the neighbours too


@pytest.fixture
def fake_umap(monkeypatch):
    """umap_features replaced by a cheap deterministic map that counts its calls."""
    calls = []

    def fake(features, seed=0, **options):
        calls.append(len(features))
        return np.tile(features[:, :1], (1, cluster.UMAP_OPTIONS["n_components"])).astype(np.float32) + seed

    monkeypatch.setattr(cluster, "umap_features", fake)
    return calls


def test_cached_umap_computes_once_then_reads_the_file(tmp_path, blobs, fake_umap):
    x, _ = blobs
    path = cluster.embedding_path(tmp_path, "k" * 64, len(x))
    assert path.parent == tmp_path / "embeddings"
    first = cluster.cached_umap(x, path)
    again = cluster.cached_umap(x, path)
    assert fake_umap == [300] and path.is_file()
    np.testing.assert_array_equal(first, again)
    assert not list(path.parent.glob("*.tmp"))  # written through a temporary file, then moved


def test_cached_umap_recomputes_a_damaged_or_mismatched_file(tmp_path, blobs, fake_umap):
    x, _ = blobs
    path = cluster.embedding_path(tmp_path, "k" * 64, len(x))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x93NUMPY truncated")
    assert cluster.cached_umap(x, path).shape == (300, 10) and len(fake_umap) == 1
    np.save(path, np.zeros((5, 10), np.float32))  # another n: not this embedding
    assert cluster.cached_umap(x, path).shape == (300, 10) and len(fake_umap) == 2
    assert np.load(path).shape == (300, 10)  # the good one replaced it


def test_cached_umap_still_answers_when_the_folder_is_read_only(tmp_path, blobs, fake_umap):
    x, _ = blobs
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = cluster.cached_umap(x, blocker / "embeddings" / "umap-x.npy")
    assert out.shape == (300, 10) and len(fake_umap) == 1


def trained(family: str, latent_dim: int = 4) -> TrainedModel:
    torch.manual_seed(0)
    config = ModelConfig(family=family, latent_dim=latent_dim)
    return TrainedModel(config, build(config).eval(), [], {}, 0.0, "cpu", 0.0)


def test_features_of_each_pipeline(images, tmp_path, fake_umap):
    ae = trained("ae-mlp")
    assert cluster.features(cluster.Pipeline("pixels"), images).shape == (64, 784)
    assert cluster.features(cluster.Pipeline("pca", pca_components=5), images).shape == (64, 5)
    np.testing.assert_array_equal(cluster.features(cluster.Pipeline("ae"), images, ae),
                                  cluster.code_features(ae.model, images))
    with pytest.raises(ValueError, match="needs its trained model"):
        cluster.features(cluster.Pipeline("vae"), images)
    umap = cluster.Pipeline("ae", manifold="umap")
    first = cluster.features(umap, images, ae, tmp_path)
    assert first.shape == (64, 10) and fake_umap == [64]
    assert cluster.embedding_path(tmp_path, cluster.model_identity(ae), 64).is_file()  # named by the model
    np.testing.assert_array_equal(cluster.features(umap, images, ae, tmp_path), first)
    assert fake_umap == [64]                                               # read back, not recomputed
    cluster.features(umap, images, ae)                                     # no folder: not kept
    assert fake_umap == [64, 64]
    # The same config trained again (a deleted checkpoint, another precision): its own embedding.
    again = dataclasses.replace(ae, created=1.0)
    assert again.config.key == ae.config.key and cluster.model_identity(again) != cluster.model_identity(ae)
    cluster.features(umap, images, again, tmp_path)
    assert fake_umap == [64, 64, 64]


def test_features_key_ignores_what_clustering_alone_uses():
    a = cluster.Pipeline("ae", "kmeans", 10, "umap")
    assert a.features_key == cluster.Pipeline("ae", "gmm", 4, "umap").features_key
    assert a.features_key != cluster.Pipeline("ae", "kmeans", 10, "none").features_key
    assert cluster.Pipeline("pca", pca_components=5).features_key != cluster.Pipeline("pca").features_key


def test_comparison_lists_the_page_rows():
    rows = cluster.comparison("gmm", 4, 12, umap=True, models=["ae"])
    assert [p.label() for p in rows] == ["Raw pixels", "PCA (12)", "AE latent", "AE latent → UMAP (N2D)"]
    assert {(p.algorithm, p.k) for p in rows} == {("gmm", 4)}
    assert len(cluster.comparison("kmeans", 10, 10, umap=False, models=["ae", "vae"])) == 4


def test_decoded_centres_are_the_decoded_mean_codes(images):
    ae = trained("ae-mlp")
    labels = np.arange(64) % 3
    expected = cluster.decode_centres(ae.model, cluster.cluster_centres(cluster.code_features(ae.model, images), labels, 4))
    torch.testing.assert_close(cluster.decoded_centres(ae.model, images, labels, 4), expected)


def test_embedding_path_changes_with_model_size_and_seed(tmp_path):
    base = cluster.embedding_path(tmp_path, "a" * 64, 100)
    assert base == cluster.embedding_path(tmp_path, "a" * 64, 100)
    others = {cluster.embedding_path(tmp_path, "b" * 64, 100), cluster.embedding_path(tmp_path, "a" * 64, 99),
              cluster.embedding_path(tmp_path, "a" * 64, 100, seed=1)}
    assert base not in others and len(others) == 3


def test_test_split_follows_the_limit(monkeypatch):
    from apcore.data import load_dataset

    data = load_dataset("mnist")
    monkeypatch.setenv("APCORE_CLUSTER_LIMIT", "250")
    images, labels = cluster.test_split(data)
    assert images.shape == (250, 28, 28) and labels.shape == (250,)
    np.testing.assert_array_equal(labels, data.test_labels[:250].numpy())
    monkeypatch.delenv("APCORE_CLUSTER_LIMIT")
    assert len(cluster.test_split(data)[0]) == 10_000


# -- kept on disk: clusterings, the page's default view, numba's compilations -----------------------

def test_pca_2d_matches_scikit_learn_without_importing_it():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    for n, d in ((2000, 10), (500, 3), (3000, 40)):
        x = (rng.normal(size=(n, d)) * np.linspace(3, 0.1, d)).astype(np.float32)  # a clear spectrum
        expected = PCA(2, random_state=0).fit_transform(x)
        np.testing.assert_allclose(cluster.pca_2d(x), expected, atol=1e-4 * np.abs(expected).max())
    pts, idx, used = cluster.project_2d(x, "pca")
    assert used == "pca" and np.array_equal(pts, cluster.pca_2d(x)) and len(idx) == len(x)
    with pytest.raises(ValueError):
        cluster.pca_2d(x[:, :1])


@pytest.fixture
def counting_run(monkeypatch):
    """cluster.run, counting its calls (the real one still runs)."""
    calls = []
    real = cluster.run

    def counting(pipeline, x, y):
        calls.append(pipeline)
        return real(pipeline, x, y)

    monkeypatch.setattr(cluster, "run", counting)
    return calls


def test_cached_result_computes_once_then_reads_the_file(tmp_path, blobs, counting_run):
    x, y = blobs
    p = cluster.Pipeline("pca", k=3)
    path = cluster.result_path(tmp_path, p, "mnist", len(y), None)
    assert path.parent == tmp_path / "clusterings"
    asked = []
    first = cluster.cached_result(p, y, path, lambda: asked.append(1) or x)
    again = cluster.cached_result(p, y, path, lambda: asked.append(1) or x)
    assert len(asked) == 1 and len(counting_run) == 1 and path.is_file()  # no features, no clustering
    np.testing.assert_array_equal(first.labels, again.labels)
    assert again.scores == pytest.approx(first.scores) and again.scores["cluster_acc"] == 1.0
    assert again.seconds == pytest.approx(first.seconds) and again.pipeline == p
    assert not list(path.parent.glob(".*.tmp"))


def test_cached_result_recomputes_a_damaged_or_mismatched_file(tmp_path, blobs, counting_run):
    x, y = blobs
    p = cluster.Pipeline("pca", k=3)
    path = cluster.result_path(tmp_path, p, "mnist", len(y), None)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 truncated")
    assert cluster.cached_result(p, y, path, lambda: x).scores["cluster_acc"] == 1.0 and len(counting_run) == 1
    np.savez(path, labels=np.zeros(5, np.int16), scores=np.zeros(3), seconds=np.float64(0))  # another n
    assert len(cluster.cached_result(p, y, path, lambda: x).labels) == len(y) and len(counting_run) == 2
    assert len(cluster.cached_result(p, y, path, lambda: x).labels) == len(y) and len(counting_run) == 2


def test_result_path_changes_with_what_the_result_depends_on(tmp_path):
    p = cluster.Pipeline("ae", manifold="umap")
    base = cluster.result_path(tmp_path, p, "mnist", 100, "a" * 64)
    assert base == cluster.result_path(tmp_path, cluster.Pipeline("ae", manifold="umap"), "mnist", 100, "a" * 64)
    others = {cluster.result_path(tmp_path, q, ds, n, key) for q, ds, n, key in [
        (cluster.Pipeline("ae", "gmm", manifold="umap"), "mnist", 100, "a" * 64),
        (cluster.Pipeline("ae", k=4, manifold="umap"), "mnist", 100, "a" * 64),
        (cluster.Pipeline("ae"), "mnist", 100, "a" * 64),
        (p, "fashion-mnist", 100, "a" * 64), (p, "mnist", 99, "a" * 64), (p, "mnist", 100, "b" * 64)]}
    assert base not in others and len(others) == 6


def test_result_path_of_a_mixture_after_umap_changes_with_its_restarts(tmp_path, monkeypatch):
    pipelines = [cluster.Pipeline("ae", "gmm", manifold="umap"), cluster.Pipeline("ae", "gmm"), cluster.Pipeline("ae", manifold="umap")]
    before = [cluster.result_path(tmp_path, q, "mnist", 100, "a" * 64) for q in pipelines]
    monkeypatch.setattr(cluster, "GMM_RESTARTS", cluster.GMM_RESTARTS + 1)
    after = [cluster.result_path(tmp_path, q, "mnist", 100, "a" * 64) for q in pipelines]
    assert after[0] != before[0] and after[1:] == before[1:]


def test_keep_page_view_keeps_the_default_rows_once(tmp_path, monkeypatch, fake_umap, counting_run):
    monkeypatch.setenv("APCORE_CLUSTER_LIMIT", "200")
    monkeypatch.setattr(cluster, "umap_available", lambda: True)
    ae = trained("ae-mlp")
    rows = cluster.keep_page_view(tmp_path, "mnist", {"ae": ae}, shared=False)
    assert [r.pipeline.label() for r in rows] == ["AE latent", "AE latent → UMAP (N2D)"]
    assert {(r.pipeline.algorithm, r.pipeline.k) for r in rows} == {("kmeans", 10)} and fake_umap == [200]
    assert cluster.embedding_path(tmp_path, cluster.model_identity(ae), 200).is_file()
    for r in rows:
        assert cluster.result_path(tmp_path, r.pipeline, "mnist", 200, cluster.model_identity(ae)).is_file()
    everything = cluster.keep_page_view(tmp_path, "mnist", {"ae": ae})  # the model's rows read back
    assert [r.pipeline.label() for r in everything] == ["Raw pixels", "PCA (10)", "AE latent", "AE latent → UMAP (N2D)"]
    assert len(counting_run) == 4 and fake_umap == [200]
    for mine, again in zip(rows, everything[2:]):
        np.testing.assert_array_equal(mine.labels, again.labels)


@pytest.mark.parametrize("family, label", [("vae-mlp", "VAE latent (mean)"), ("ae-mlp", "AE latent")])
def test_keep_model_view_keeps_one_models_rows_under_its_representation(family, label, tmp_path, monkeypatch,
                                                                         fake_umap, counting_run):
    monkeypatch.setenv("APCORE_CLUSTER_LIMIT", "200")
    monkeypatch.setattr(cluster, "umap_available", lambda: True)
    model = trained(family)
    rows = cluster.keep_model_view(tmp_path, model)
    assert [r.pipeline.label() for r in rows] == [label, f"{label} → UMAP (N2D)"] and len(counting_run) == 2
    for r in rows:
        assert cluster.result_path(tmp_path, r.pipeline, "mnist", 200, cluster.model_identity(model)).is_file()


@pytest.mark.skipif(not cluster.umap_available(), reason="umap-learn not installed")
def test_umap_compilations_are_kept_on_disk():
    import umap.layouts

    assert cluster.keep_umap_compiled() > 10
    assert umap.layouts._nb_optimize_layout_euclidean_single_epoch.stats.cache_path is not None


def test_a_kept_embedding_is_read_without_encoding_the_images(tmp_path, images, fake_umap, monkeypatch):
    ae = trained("ae-mlp")
    umap = cluster.Pipeline("ae", manifold="umap")
    first = cluster.features(umap, images, ae, tmp_path)
    monkeypatch.setattr(cluster, "code_features", lambda *a: pytest.fail("encoded the images again"))
    np.testing.assert_array_equal(cluster.features(umap, images, ae, tmp_path), first)
    assert fake_umap == [64]


@pytest.mark.skipif(not cluster.umap_available(), reason="umap-learn not installed")
def test_prepared_umap_fits_without_compiling(blobs):
    from numba.core import event

    assert cluster.prepare_umap() > 0
    compiled = []

    class Listener(event.Listener):
        def on_start(self, ev):
            pass

        def on_end(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__qualname__)

    with event.install_listener("numba:compile", Listener()):
        cluster.umap_features(blobs[0], n_neighbors=10)
    assert compiled == []


def test_the_umap_settings_said_are_those_it_runs_with(monkeypatch):
    assert cluster.umap_settings() == "10 dims, 10 neighbours, min_dist 0"
    monkeypatch.setitem(cluster.UMAP_OPTIONS, "n_neighbors", 7)
    monkeypatch.setitem(cluster.UMAP_OPTIONS, "min_dist", 0.1)
    assert cluster.umap_settings() == "10 dims, 7 neighbours, min_dist 0.1"


def test_nearest_neighbours_are_exact_and_start_with_the_point_itself(blobs):
    from sklearn.neighbors import NearestNeighbors

    x = np.vstack([blobs[0], blobs[0][:5]])  # five duplicated points
    idx, dist = cluster.nearest_neighbours(x, 7, batch=64)
    assert idx.shape == dist.shape == (305, 7) and dist.dtype == np.float32
    np.testing.assert_array_equal(idx[:, 0], np.arange(305))
    assert (dist[:, 0] == 0).all() and (np.diff(dist, axis=1) >= 0).all()
    oracle, _ = NearestNeighbors(n_neighbors=7).fit(x).kneighbors(x)  # distances, ascending
    np.testing.assert_allclose(dist, oracle, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dist, np.linalg.norm(x[:, None] - x[idx], axis=2), rtol=1e-5, atol=1e-4)
