"""kill -9 of the server, three times, while its worker trains and writes: nothing partial is ever
taken for a model, and after a restart every model loads or retrains."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch

from apcore.cache import ModelStore
from apcore.config import ModelConfig

ROOT = Path(__file__).resolve().parent.parent

# A stand-in for the app's server: the same JobRegistry and worker, without the web layer.
SERVER = textwrap.dedent("""
    import json, sys, time
    from apcore.cache import ModelStore
    from apcore.config import ModelConfig
    from apcore.jobs import JobRegistry
    registry = JobRegistry(ModelStore(root=sys.argv[1], device="cpu"))
    job = registry.submit(ModelConfig.from_dict(json.loads(sys.argv[2])), retrain=True)
    while job.progress is None:
        time.sleep(0.005)
    print(registry.worker_pid, flush=True)
    time.sleep(600)
""")


def config(i: int) -> ModelConfig:
    return ModelConfig(family="ae-mlp", latent_dim=2 + i, train_limit=2000, epochs=2, batch_size=32)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] not in "ZX"
    except (FileNotFoundError, IndexError):
        return False


def test_kill_9_server_three_times_then_every_model_loads_or_retrains(tmp_path):
    import json

    # Kill at the first progress report, during training, and late: during evaluation and the save.
    delays = [0.0, 0.6, 1.5]
    for i, delay in enumerate(delays):
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path), json.dumps(config(i).to_dict())],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        worker = int(server.stdout.readline())
        time.sleep(delay)
        server.kill()
        server.wait()
        start = time.monotonic()
        while alive(worker) and time.monotonic() - start < 5:
            time.sleep(0.01)
        assert not alive(worker), f"worker {worker} outlived its server by 5 s"

    # Whatever the kills left: complete checkpoints only, and temporary files swept on open.
    store = ModelStore(root=tmp_path, device="cpu")
    assert list(tmp_path.glob(".*.tmp")) == []
    for pt in tmp_path.glob("*.pt"):
        blob = torch.load(pt, weights_only=True)
        assert ModelConfig.from_dict(blob["config"]).key == pt.stem and blob["state_dict"]
    torch.set_num_threads(1)
    for i in range(len(delays)):
        view = config(i)
        trained = store.latest(view) or store.get_or_train(view)
        assert trained.config.view_key == view.view_key and trained.metrics["test_recon"] > 0
