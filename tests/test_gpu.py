"""The GPU path (runs only where CUDA is present): graphed training matches the eager loop."""

import pytest
import torch

from apcore import metrics, models, train
from apcore.data import load_dataset
from apcore.defaults import default_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("family,extra", [("vae-mlp", {}), ("ae-conv", {"noise": "salt-pepper", "noise_level": 0.3}),
                                          ("vae-conv", {})])
def test_graphed_training_matches_eager(family, extra, monkeypatch):
    config = default_config(family, latent_dim=8, epochs=2, batch_size=128, train_limit=6000, **extra)
    data = load_dataset("mnist")
    device = torch.device("cuda")
    results = {}
    for graphs in (False, True):
        monkeypatch.setattr(train, "CUDA_GRAPHS", graphs)
        torch.manual_seed(0)
        model = models.build(config)
        history = train.fit(model, config, data, device)
        assert len(history) == 2 and history[1]["loss"] < history[0]["loss"]
        results[graphs] = metrics.evaluate(model, config, data, device)["test_recon"]
    assert abs(results[True] - results[False]) / results[False] < 0.05, results


def test_graphed_training_cancels(monkeypatch):
    monkeypatch.setattr(train, "CUDA_GRAPHS", True)
    config = default_config("ae-mlp", latent_dim=4, epochs=3, train_limit=6000)
    calls = []
    with pytest.raises(train.Cancelled):
        train.fit(models.build(config), config, load_dataset("mnist"), torch.device("cuda"),
                  should_stop=lambda: calls.append(1) or len(calls) > 3)
