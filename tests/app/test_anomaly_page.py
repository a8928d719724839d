"""AppTest of the anomaly page: trains a tiny one-class model, then the threshold drives the metrics."""

import json

from tests.app.conftest import page_test, run_until_trained


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_anomaly_page_trains_scores_and_threshold_moves_metrics():
    at = run_until_trained(page_test("anomaly"))
    assert not at.exception
    assert [m.label for m in at.metric][:3] == ["Precision", "Recall", "F1"]
    slider = next(s for s in at.select_slider if s.key.startswith("anomaly_threshold_"))
    before = (_metric(at, "Recall"), _metric(at, "Precision"))
    options = slider.options
    slider.set_value(float(options[0])).run()   # lowest threshold: almost everything flagged
    assert not at.exception
    low_recall = float(_metric(at, "Recall"))
    slider = next(s for s in at.select_slider if s.key.startswith("anomaly_threshold_"))
    slider.set_value(float(options[-1])).run()  # highest: almost nothing flagged
    high_recall = float(_metric(at, "Recall"))
    assert low_recall > high_recall
    assert before != (_metric(at, "Recall"), _metric(at, "Precision"))
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = " ".join(str(c["layout"].get("title", {}).get("text", "")) for c in charts)
    assert "AUROC" in titles
    hist = charts[0]
    names = " ".join(t["name"] for t in hist["data"])
    assert "normal" in names and "held-out" in names and "pure noise" in names


def test_anomaly_page_never_downloads_the_other_data_set(monkeypatch):
    # Fashion-MNIST absent: the page draws without it and tries no download (a download, or
    # torchvision's import, in the middle of a page's first visit; python -m apcore warm fetches it).
    from apcore import data

    monkeypatch.setattr(data, "candidate_dirs", lambda name: [] if name == "fashion-mnist" else [data.DATA_DIR / name])
    downloads = []
    monkeypatch.setattr(data, "_download_fashion", lambda target: downloads.append(target))
    at = run_until_trained(page_test("anomaly"))
    assert not at.exception and downloads == []
    names = " ".join(t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"])
    assert "normal" in names and "pure noise" in names and "Fashion" not in names


def test_anomaly_page_needs_a_normal_class():
    at = run_until_trained(page_test("anomaly"))
    at.multiselect(key="anomaly_normal").set_value([]).run()
    assert not at.exception
    assert any("at least one normal class" in i.value for i in at.info)


def test_anomaly_page_cnn_two_classes_and_url():
    at = page_test("anomaly")
    at.query_params["normal"] = "3,8"
    at.query_params["model"] = "ae-conv"
    at.query_params["latent"] = "8"
    run_until_trained(at)
    assert at.multiselect(key="anomaly_normal").value == [3, 8]
    assert at.radio(key="anomaly_family").value == "ae-conv"
    assert not at.exception
