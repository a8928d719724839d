"""apcore.notebook: each page's exported notebook runs, from a fresh folder, and draws its figures."""

import sys
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest

from apcore import defaults
from apcore.config import ModelConfig
from apcore.notebook import FIGURES, TITLES, notebook_for

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def student(tmp_path, monkeypatch):
    """A fresh folder to run in, its own checkpoints, tiny training budgets (README: environment variables)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("APCORE_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("APCORE_EPOCHS", "1")
    monkeypatch.setenv("APCORE_TRAIN_LIMIT", "1000")
    monkeypatch.setenv("APCORE_CLUSTER_LIMIT", "1000")
    monkeypatch.syspath_prepend(str(ROOT))
    return tmp_path


def page_notebook(page: str) -> tuple[bytes, list[ModelConfig]]:
    """The notebook of ``page`` for its default models (built after the budget override is set).

    The clustering page's AE and VAE side by side; the denoising page's MLP alone: its CNN's
    checkpoint metrics (k-means on 10,000 codes of 392 numbers) take ~25 s on one thread, and the
    side-by-side cells are the clustering notebook's too."""
    configs = defaults.page_defaults()[page]
    if page == "clustering":
        return notebook_for(page, configs[0], also=configs[1:]), configs
    return notebook_for(page, configs[0]), configs[:1]


def run_code_cells(nb) -> dict:
    """Every code cell in order, in one fresh namespace, as a kernel would (no Jupyter needed)."""
    namespace = {"__name__": "__main__"}
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        exec(compile(cell.source, f"<cell {i + 1}>", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.parametrize("page", list(TITLES))
def test_notebook_runs_and_draws_the_page_figures(page, student):
    text, configs = page_notebook(page)
    nb = nbformat.reads(text.decode(), as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert "git clone" in first.source and "python3 -m pip install -r requirements.txt" in first.source
    ns = run_code_cells(nb)
    assert [t.config for t in ns["trained"]] == configs  # exactly the page's models...
    assert all(t.cached is False for t in ns["trained"])  # ...trained here, from nothing
    assert (student / "checkpoints" / f"{configs[0].key}.pt").exists()
    for name in FIGURES[page]:
        fig = ns[name]
        assert isinstance(fig, go.Figure) and len(fig.data) > 0, name
        assert fig.layout.title.text, name


def test_second_run_loads_the_checkpoint(student):
    text, _ = page_notebook("autoencoder")
    nb = nbformat.reads(text.decode(), as_version=4)
    first, second = run_code_cells(nb), run_code_cells(nb)
    assert second["trained"][0].cached is True
    assert second["fig_reconstructions"].to_json() == first["fig_reconstructions"].to_json()


def test_view_settings_reach_the_code(student):
    config = defaults.page_defaults()["anomaly"][0]
    nb = nbformat.reads(notebook_for("anomaly", config, measure="bce").decode(), as_version=4)
    assert "MEASURE = 'bce'" in "\n".join(c.source for c in nb.cells)


def test_unknown_page_or_setting():
    config = ModelConfig()
    with pytest.raises(ValueError, match="unknown page"):
        notebook_for("transposed_conv", config)
    with pytest.raises(ValueError, match="takes no threshold"):
        notebook_for("autoencoder", config, threshold=3)


def test_pages_and_figures_agree():
    assert set(FIGURES) == set(TITLES)
    assert sys.modules["apcore.notebook"].VIEWS.keys() == TITLES.keys()
