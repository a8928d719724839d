"""AppTest of the "Download as a notebook" button (ui/notebook.py) on the Autoencoder page."""

import json

from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from tests.app.conftest import page_test, run_until_trained


def test_autoencoder_page_offers_its_model_as_a_notebook(monkeypatch):
    stored = {}  # file id -> (data, mime type, download file name): AppTest keeps its media store to itself
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        stored[file_id] = (path_or_data, mimetype, filename)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    at = run_until_trained(page_test("autoencoder"))
    button = next(el for el in at.main if el.type == "download_button")
    assert button.label == "Download as a notebook"
    data, mime, name = stored[button.proto.url.rsplit("/", 1)[-1]]
    assert (mime, name) == ("application/x-ipynb+json", "autoencoder-latent2.ipynb")
    nb = json.loads(data)
    assert nb["nbformat"] == 4 and len(nb["cells"]) > 3
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "family='ae-mlp'" in code and "latent_dim=2" in code
