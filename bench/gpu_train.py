"""GPU training: replayed CUDA graphs against the eager loop, same configs, one process.

    python3 bench/gpu_train.py            # needs a CUDA GPU

Checked on one NVIDIA H200 (torch 2.11, ``bench/gpu_check.sh graphs`` through the device tool):
the graphed loop reaches the eager loop's test loss on every config below (the 20-d VAE's
default 5 x 256: 103.93 against 104.07; 10 x 128 at lr 1e-3: 105.72 / 105.71; the denoiser
20.1 dB both) at 5-9x the speed (an epoch at batch 128: 0.146 s against 1.27 s: TARGETS.md's
<= 0.15 s). Its first run there, before it followed ``fit``'s recipe, ended 1-7 worse
(``bench/results/gpu_train.md`` has the second). Not yet in ``apcore.train``: the app's trainer
also records the replay's snapshots, reports progress, cancels and shares cores, and a graph of
K steps has to meet those at its boundaries; that, with a test that fails when capture falls
back to the eager loop, needs a GPU session of its own.

For each config: seconds per epoch (median over epochs after the first) and test metrics, for
the eager loop and for the graphed one. The target (TARGETS.md): an epoch of MNIST at batch 128
in <= 0.15 s.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apcore import metrics, models, train  # noqa: E402
from apcore.data import corrupt, load_dataset, to_float  # noqa: E402
from apcore.defaults import ADAM_BETA2, DATA_START, WARMUP, default_config, denoiser_config  # noqa: E402
from bench.common import write_table  # noqa: E402

GRAPH_STEPS = 32  # at most this many steps per captured graph


def steps_per_graph(steps: int, most: int = GRAPH_STEPS) -> int:
    """The largest divisor of ``steps`` up to ``most``: whole epochs of whole graphs."""
    return max(d for d in range(1, min(steps, most) + 1) if steps % d == 0)


def fit_graphed(model, config, images, device, on_progress=None, should_stop=None) -> list[dict]:
    """The same training as :func:`apcore.train.fit`, as CUDA graphs of several whole steps each.

    At MNIST size one eager step is launch-bound (~2.7 ms of kernel launches for <0.1 ms of
    arithmetic, TARGETS.md). Here K steps -- batch gather by a device-side step counter, forward,
    loss, backward, fused capturable Adam, the cosine learning rate -- are captured once and
    replayed: no host synchronisation inside an epoch except the progress reports. Sampling (VAE
    noise, input corruption) draws from CUDA's default generator, seeded from the config: graph
    replay advances it safely, but the results are not bit-identical to the eager loop's.
    The recipe is :func:`apcore.train.fit`'s: the MLPs start from the data with Adam's beta2 from
    :data:`~apcore.defaults.ADAM_BETA2`, the VAEs warm up (:data:`~apcore.defaults.WARMUP`), float32
    (``autocast_dtype`` is None on a GPU). The first GPU run (H200) had none of the three: the 20-d
    VAE's default budget ended at test loss 111.5 against the eager loop's 104.1.
    """
    n = len(images)
    batch = min(config.batch_size, n)
    steps = n // batch
    k_steps = steps_per_graph(steps)
    total = steps * config.epochs
    torch.cuda.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    if config.family in DATA_START:
        model.start_from(train.mean_image(images))
    rise = round(WARMUP.get(config.family, 0.0) * total)  # train._schedule's shape, on the device

    def factor(t: torch.Tensor) -> torch.Tensor:
        cosine = 0.5 * (1 + torch.cos(math.pi * torch.clamp(t - rise, max=total - rise) / max(1, total - rise)))
        return torch.where(t < rise, (t + 1) / max(1, rise), cosine)

    first_lr = config.lr * float(factor(torch.zeros(())))
    lr = torch.tensor(first_lr, device=device)
    betas = (0.9, ADAM_BETA2.get(config.family, 0.999))
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, fused=True, capturable=True)
    perm = torch.zeros(steps, batch, dtype=torch.long, device=device)   # (steps, B) this epoch's batches
    step_in_epoch = torch.zeros((), dtype=torch.long, device=device)
    global_step = torch.zeros((), dtype=torch.float32, device=device)
    names = ["loss", "recon"] + (["kl"] if config.is_vae else [])
    sums = {k: torch.zeros((), device=device) for k in names}

    def one_step():
        idx = perm.index_select(0, step_in_epoch.view(1)).view(-1)
        clean = to_float(images.index_select(0, idx))
        x = corrupt(clean, config.noise, config.noise_level) if config.is_denoising else clean
        terms = model.loss(x, clean)
        terms["loss"].backward()
        opt.step()
        # warm-up and cosine decay, evaluated on the device from the step counter
        global_step.add_(1)
        lr.copy_(config.lr * factor(global_step))
        step_in_epoch.add_(1)
        for k in names:
            sums[k].add_(terms[k].detach())

    # Warm up on a side stream (optimizer state, cuBLAS workspaces), then undo its effects on the
    # weights: the graph must start from the same model as the eager loop would.
    state = {k: v.clone() for k, v in model.state_dict().items()}
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=False)
            one_step()
    torch.cuda.current_stream().wait_stream(side)
    model.load_state_dict(state)
    for group_state in opt.state.values():
        for v in group_state.values():
            v.zero_()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(k_steps):
            opt.zero_grad(set_to_none=False)
            one_step()
    global_step.zero_()
    lr.fill_(first_lr)

    history: list[dict] = []
    report = train._Reporter(on_progress, config.epochs, steps, history)
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        perm.copy_(torch.randperm(n, generator=generator, device=device)[: steps * batch].view(steps, batch))
        step_in_epoch.zero_()
        for v in sums.values():
            v.zero_()
        for done in range(k_steps, steps + 1, k_steps):
            if should_stop is not None and should_stop():
                raise train.Cancelled()
            graph.replay()
            report(epoch, done, sums)
        history.append(train._epoch_row(epoch, sums, steps, t0))
    torch.cuda.synchronize()
    model.eval()
    return history


CONFIGS = [
    default_config("vae-mlp", latent_dim=20, epochs=10, batch_size=128, lr=1e-3),
    default_config("vae-mlp", latent_dim=20),
    default_config("vae-mlp", latent_dim=20, epochs=30, batch_size=512, lr=3e-3),
    default_config("ae-mlp", latent_dim=2),
    default_config("ae-conv", latent_dim=16, epochs=5, batch_size=128),
    default_config("vae-conv", latent_dim=2, epochs=5, batch_size=128),
    denoiser_config("ae-fconv"),  # the denoising page's convolutional model
]


def run(config, graphs: bool) -> tuple[float, float, dict]:
    device = torch.device("cuda")
    data = load_dataset("mnist")
    torch.manual_seed(config.seed)
    model = models.build(config)
    torch.cuda.synchronize()
    start = time.perf_counter()
    if graphs:
        model.to(device).train()
        history = fit_graphed(model, config, train.training_images(config, data).to(device), device)
    else:
        history = train.fit(model, config, data, device)
    torch.cuda.synchronize()
    wall = time.perf_counter() - start
    per_epoch = statistics.median(r["seconds"] for r in history[1:]) if len(history) > 1 else history[0]["seconds"]
    return per_epoch, wall, metrics.evaluate(model, config, data)


def main() -> None:
    rows = []
    for config in CONFIGS:
        for graphs in (False, True):
            per_epoch, wall, m = run(config, graphs)
            head = m.get("test_loss", m["test_recon"])
            extra = f"psnr {m['psnr_denoised']:.1f}" if "psnr_denoised" in m else ""
            rows.append([config.describe(), f"{config.epochs} x {config.batch_size}, lr {config.lr:g}",
                         "graphs" if graphs else "eager", f"{per_epoch:.3f}", f"{wall:.2f}", f"{head:.2f}", extra])
            print(rows[-1], flush=True)
    write_table("gpu_train", "GPU training: eager loop vs replayed CUDA graphs",
                ["model", "budget", "loop", "s/epoch (median)", "total s", "test loss", ""], rows,
                "s/epoch excludes the first epoch (capture and warm-up); total s includes it.")


if __name__ == "__main__":
    main()
