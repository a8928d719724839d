"""AppTest of the entry file: navigation, sidebar, link notices."""

from tests.app.conftest import ROOT
from streamlit.testing.v1 import AppTest


def test_home_and_sidebar():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Autoencoders and variational autoencoders"
    assert at.sidebar.selectbox(key="dataset").value == "mnist"
    assert any("Training on" in c.value for c in at.sidebar.caption)


def test_bad_dataset_in_link_falls_back_with_notice():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["dataset"] = "cifar"
    at.run()
    assert at.sidebar.selectbox(key="dataset").value == "mnist"
    assert any("dataset=cifar" in t.value for t in at.toast)
