"""python -m apcore: the command line is a contract (outside checks use these names)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from apcore import defaults
from apcore.config import ModelConfig

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--train-limit", "256", "--epochs", "1", "--device", "cpu"]
CONTRACT_KEYS = {"model", "key", "config", "device", "cached", "train_seconds", "metrics"}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-checkpoints")


def start(args, ckpt_dir):
    # One intra-op thread: on a busy 2-core machine two OpenMP threads run ~10x slower.
    env = {**os.environ, "APCORE_CHECKPOINT_DIR": str(ckpt_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "apcore", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc, timeout=240):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out, err


def run(args, ckpt_dir):
    return finish(start(args, ckpt_dir))


BAD = {
    "unknown model": (["train", "gan"], "invalid choice: 'gan'"),
    "latent 0": (["train", "ae-mlp", "--latent-dim", "0"], "latent dimension"),
    "latent 65": (["train", "vae-conv", "--latent-dim", "65"], "latent dimension"),
    "latent not a number": (["train", "ae-mlp", "--latent-dim", "two"], "--latent-dim"),
    "noise level 7": (["train", "ae-mlp", "--noise", "gaussian", "--noise-level", "7"], "noise level"),
    "unknown noise": (["train", "ae-mlp", "--noise", "pink"], "--noise"),
    "level without noise": (["train", "ae-mlp", "--noise-level", "0.3"], "--noise-level needs --noise"),
    "class 11": (["train", "ae-mlp", "--normal-classes", "11"], "unknown class 11"),
    "class x": (["train", "ae-mlp", "--normal-classes", "x"], "classes must be integers"),
    "unknown dataset": (["train", "ae-mlp", "--dataset", "cifar"], "--dataset"),
    "epochs 0": (["train", "ae-mlp", "--epochs", "0"], "epochs"),
    "no command": ([], "command"),
    "unknown command": (["fly"], "invalid choice"),
    "warm with no jobs": (["warm", "--jobs", "0"], "--jobs must be at least 1"),
}
if not torch.cuda.is_available():
    BAD["cuda without a GPU"] = (["train", "ae-mlp", "--device", "cuda"] + TINY[:4], "no CUDA GPU")


@pytest.mark.parametrize("name", BAD)
def test_bad_arguments_exit_2_with_one_line(name, capsys):
    from apcore.__main__ import main

    args, fragment = BAD[name]
    assert main(args) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert out == ""


# The same contract end to end, as separate processes (in parallel: importing torch dominates).
# One of each kind of failure: argparse's own, an argument type, a config that fails validation.
PROCESS_CASES = ["unknown model", "class x", "noise level 7"]


def test_bad_arguments_in_a_process(tmp_path):
    procs = {name: start(BAD[name][0], tmp_path) for name in PROCESS_CASES}
    failures = []
    for name, proc in procs.items():
        code, out, err = finish(proc)
        lines = err.strip().splitlines()
        if not (code == 2 and len(lines) == 1 and BAD[name][1] in lines[0] and "Traceback" not in err and out == ""):
            failures.append((name, code, err, out))
    assert failures == []
    assert list(tmp_path.glob("*.pt")) == []  # nothing trained


def config_of(args: list[str]) -> ModelConfig:
    from apcore.__main__ import build_parser, config_from_args

    return config_from_args(build_parser().parse_args(["train", *args]))


def test_the_command_line_trains_the_pages_models():
    """Same arguments as the page's widgets, same config: one checkpoint for both."""
    page = defaults.page_defaults()
    assert config_of(["ae-mlp", "--latent-dim", "16", "--normal-classes", "0"]) == page["anomaly"][0]
    assert config_of(["ae-mlp", "--latent-dim", "32", "--noise", "gaussian"]) == page["denoise"][0]
    assert config_of(["ae-fconv", "--latent-dim", "8", "--noise", "gaussian", "--noise-level", "0.5"]) == page["denoise"][1]
    assert config_of(["ae-mlp", "--latent-dim", "20", "--page", "clustering"]) == page["clustering"][0]
    assert config_of(["vae-mlp", "--latent-dim", "20", "--page", "clustering"]) == page["clustering"][1]
    assert config_of(["ae-conv", "--latent-dim", "5"]) in page["autoencoder"]
    assert config_of(["vae-mlp", "--latent-dim", "2"]) == page["vae"][0]
    chosen = config_of(["ae-mlp", "--latent-dim", "16", "--normal-classes", "0", "--epochs", "3", "--seed", "2"])
    assert chosen == page["anomaly"][0].replace(epochs=3, seed=2)


def test_without_a_code_size_the_pages_own():
    # python -m apcore train ae-fconv --noise gaussian was a 2-map code, not the denoising page's 8.
    page = defaults.page_defaults()
    assert config_of(["ae-fconv", "--noise", "gaussian", "--noise-level", "0.5"]) == page["denoise"][1]
    assert config_of(["ae-mlp", "--noise", "gaussian"]) == page["denoise"][0]
    assert config_of(["ae-mlp", "--normal-classes", "0"]) == page["anomaly"][0]
    assert config_of(["ae-mlp", "--page", "clustering"]) == page["clustering"][0]
    assert config_of(["vae-mlp"]) == page["vae"][0] and config_of(["ae-conv"]).latent_dim == defaults.LATENT


def test_a_page_without_such_a_model_is_refused(capsys):
    from apcore.__main__ import main

    assert main(["train", "ae-conv", "--page", "clustering"]) == 2
    assert "the clustering page shows no model like ae-conv, latent 2" in capsys.readouterr().err


def test_list_names_the_pages_that_show_each_model(tmp_path, monkeypatch, capsys):
    from apcore.__main__ import main

    monkeypatch.setenv("APCORE_CHECKPOINT_DIR", str(tmp_path))
    page = defaults.page_defaults()
    shown = {page["anomaly"][0]: "pages: anomaly", page["clustering"][1]: "pages: vae, clustering",
             page["clustering"][1].replace(epochs=50): "pages: -"}
    for i, config in enumerate(shown):  # summaries only: listing reads no weights
        (tmp_path / f"{config.key}.json").write_text(json.dumps({
            "key": config.key, "config": config.to_dict(), "metrics": {"test_recon": 100.0},
            "train_seconds": 1.0, "device": "cpu", "created": float(i)}))
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for config, pages in shown.items():
        assert any(line.startswith(config.key[:12]) and line.endswith(pages) for line in lines), (pages, lines)


def test_train_json_then_cached_then_list(ckpt):
    expected = defaults.default_config("ae-mlp", latent_dim=2).replace(train_limit=256, epochs=1)
    # A second, different model trained at the same time without --json: progress bar and text.
    plain = start(["train", "vae-mlp", "--noise", "mask", "--latent-dim", "3", *TINY], ckpt)
    code, out, err = run(["train", "ae-mlp", *TINY, "--json"], ckpt)
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert CONTRACT_KEYS <= set(result)
    assert result["model"] == "ae-mlp" and result["device"] == "cpu"
    assert result["cached"] is False and result["train_seconds"] > 0
    assert result["key"] == expected.key
    assert ModelConfig.from_dict(result["config"]) == expected
    assert set(result["metrics"]) == {"test_recon", "cluster_acc", "cluster_nmi", "cluster_ari"}
    assert (ckpt / f"{expected.key}.pt").is_file()

    code, out, err = run(["train", "ae-mlp", *TINY, "--json"], ckpt)
    assert code == 0, err
    again = json.loads(out.strip().splitlines()[-1])
    assert again["cached"] is True
    assert again["key"] == result["key"] and again["metrics"] == result["metrics"]
    assert again["train_seconds"] == result["train_seconds"]  # the stored training, not a new one

    code, out, err = finish(plain)
    assert code == 0, err
    vae = defaults.default_config("vae-mlp", noise="mask", noise_level=0.5, latent_dim=3).replace(train_limit=256, epochs=1)
    assert f"{vae.describe()}: trained in" in out  # --noise alone means level 0.5
    assert "psnr_denoised" in out and "test_kl" in out
    assert "epoch 1/1" in err and "100%|" in err  # the progress bar

    code, out, err = run(["list"], ckpt)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert any(line.startswith(expected.key[:12]) and "ae-mlp" in line for line in lines)
    assert any(line.startswith(vae.key[:12]) and "vae-mlp" in line and "psnr_denoised=" in line for line in lines)


def test_train_fully_convolutional_then_list(tmp_path, monkeypatch, capsys):
    from apcore.__main__ import main

    monkeypatch.setenv("APCORE_CHECKPOINT_DIR", str(tmp_path))
    args = ["train", "ae-fconv", "--latent-dim", "4", "--noise", "gaussian", "--noise-level", "0.5", *TINY]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model"] == "ae-fconv" and "psnr_denoised" in result["metrics"]
    assert result["metrics"]["psnr_noisy"] == pytest.approx(9.37, abs=0.05)  # std 0.5 on the test set
    assert main(["list"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(result["key"][:12]) and "ae-fconv, latent 4x7x7, mnist, gaussian 0.5" in line


def test_list_empty(tmp_path, monkeypatch, capsys):
    from apcore.__main__ import main

    monkeypatch.setenv("APCORE_CHECKPOINT_DIR", str(tmp_path))
    assert main(["list"]) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == f"no cached models in {tmp_path}"


@pytest.mark.skipif(importlib.util.find_spec("umap") is None, reason="umap-learn not installed")
def test_warm_trains_every_page_default_and_keeps_the_clustering_embeddings(tmp_path):
    from apcore import cluster
    from apcore.cache import ModelStore

    env = {**os.environ, "APCORE_CHECKPOINT_DIR": str(tmp_path), "OMP_NUM_THREADS": "1",
           "APCORE_EPOCHS": "1", "APCORE_TRAIN_LIMIT": "256", "APCORE_CLUSTER_LIMIT": "300"}
    first = subprocess.run([sys.executable, "-m", "apcore", "warm", "--device", "cpu"], cwd=ROOT, env=env,
                           text=True, capture_output=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("mnist: ") and "\nfashion-mnist: " in first.stdout  # the data sets first
    with pytest.MonkeyPatch.context() as mp:  # the configs as that process saw them
        for k in ("APCORE_EPOCHS", "APCORE_TRAIN_LIMIT"):
            mp.setenv(k, env[k])
        configs = defaults.warm_list()
        clustering = [c for c in configs if c in defaults.page_defaults()["clustering"]]
    assert len(list(tmp_path.glob("*.pt"))) == len(configs)
    assert first.stdout.count("UMAP of") == 2 and len(clustering) == 2
    for c in clustering:
        emb = np.load(cluster.embedding_path(tmp_path, cluster.model_identity(ModelStore(tmp_path).get(c)), 300))
        assert emb.shape == (300, cluster.UMAP_OPTIONS["n_components"]) and np.isfinite(emb).all()

    again = subprocess.run([sys.executable, "-m", "apcore", "warm", "--device", "cpu"], cwd=ROOT, env=env,
                           text=True, capture_output=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count(": cached") == len(configs)


def test_warm_fetches_every_data_set_or_says_why_not(monkeypatch, capsys, tmp_path):
    from apcore import data, warm
    from apcore.config import DataError

    asked = []

    def find(name, download=True):
        asked.append((name, download))
        if name == "fashion-mnist":
            raise DataError("fashion-mnist not found (offline)")
        return tmp_path / name

    monkeypatch.setattr(data, "find_dataset_dir", find)
    warm.fetch_datasets()
    out = capsys.readouterr().out.splitlines()
    assert asked == [("mnist", True), ("fashion-mnist", True)]  # downloads allowed: before class, by hand
    assert out == [f"mnist: {tmp_path / 'mnist'}",
                   "fashion-mnist: not available, the pages go on without it (fashion-mnist not found (offline))"]


def test_warm_shares_the_cores_and_starts_with_the_longest_training(monkeypatch):
    from apcore import warm

    for name in ("APCORE_EPOCHS", "APCORE_TRAIN_LIMIT"):  # the page budgets themselves
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert warm.jobs_and_threads("cpu") == (2, 1) and warm.jobs_and_threads("cuda") == (1, 2)
    assert warm.jobs_and_threads("cpu", 1) == (1, 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert warm.jobs_and_threads("cpu") == (2, 8)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert warm.jobs_and_threads("cpu") == (1, 1)
    order = sorted(defaults.warm_list(), key=warm.cost, reverse=True)
    assert order[0] == defaults.cluster_ae_config()        # the longest default first: ~15 s with one thread
    assert [c.family for c in order[1:3]] == ["vae-mlp", "ae-fconv"]  # the 2-D VAE (deeper), the denoising CNN
    assert 12 < warm.cost(order[0]) < 30 and warm.cost(order[-1]) < 15
    one_class = defaults.anomaly_config("ae-mlp", 16, (0,))
    assert warm.cost(one_class) < warm.cost(one_class.replace(normal_classes=()))  # a tenth of the images
