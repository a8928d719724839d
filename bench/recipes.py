"""Training recipes compared over training seeds: test loss of the autoencoder and VAE pages' models.

A budget is chosen on more than one seed: single-seed test losses move by about 1 (and a conv AE's
20-d code by up to 5) from seed to seed. Each variant is a page model (its family's number of
training images) with the given epochs, batch and learning rate, and optionally Adam's beta1 and
the warm-up fraction (else the family's: ``apcore.defaults.ADAM_BETAS`` / ``WARMUP``). Every seed's
variants are trained in turn, so a slow spell of the shared machine touches all of them alike.

    python3 bench/recipes.py --threads 2 --seeds 0,1,2,3,4 \\
        --variant ae-conv,2/5/10/20,1,64,4e-3,0.9,0 --variant ae-conv,2/5/10/20,1,64,4e-3
                                  # the conv AE with Adam's beta1 0.9 (before) and its own (0.8):
                                  # writes bench/results/recipes.md

Train seconds are the trainer's wall time only (no snapshots, evaluation or save:
``bench/train_defaults.py`` has those).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apcore import train  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from apcore.metrics import evaluate  # noqa: E402
from bench.common import cpu_name, recipe, train_timed, variant, write_table  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", required=True,
                    help="family,latent,epochs,batch,lr[,beta1,warmup] (repeatable; latent may list sizes: 2/5/10/20)")
    ap.add_argument("--seeds", default="0,1", help="training seeds, comma-separated")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: its default)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    try:
        configs = [cv for v in args.variant for cv in variant(v)]
    except ValueError as exc:
        ap.error(str(exc))
    if args.threads:
        torch.set_num_threads(args.threads)
    device = train.pick_device(args.device)
    data = load_dataset(args.dataset)
    seeds = [int(s) for s in args.seeds.split(",")]
    losses: dict[int, list[float]] = {}   # index of the variant's config -> test loss per seed
    seconds: dict[int, list[float]] = {}
    names: dict[int, list[str]] = {}    # model, budget, Adam's betas and warm-up
    for seed in seeds:
        for i, (config, override) in enumerate(configs):
            c = config.replace(seed=seed, dataset=args.dataset)
            with recipe(c.family, override) as used:
                model, s = train_timed(c, data, device)
            m = evaluate(model, c, data)
            losses.setdefault(i, []).append(m.get("test_loss", m["test_recon"]))
            seconds.setdefault(i, []).append(s)
            images = f", {c.train_limit:,} images" if c.train_limit else ""
            names[i] = [f"`{c.family}` {c.latent_dim}", f"{c.epochs} x {c.batch_size}{images}, lr {c.lr:g}", used]
            print(*names[i], f"seed {seed}: {losses[i][-1]:.2f} in {s:.1f} s", sep=" | ", file=sys.stderr, flush=True)
    rows = [[*names[i], " / ".join(f"{v:.2f}" for v in losses[i]), f"{statistics.mean(losses[i]):.2f}",
             f"{max(losses[i]):.2f}", f"{statistics.median(seconds[i]):.1f}"] for i in range(len(configs))]
    write_table("recipes", f"Training recipes over seeds {args.seeds} ({args.dataset})",
                ["model", "epochs x batch, lr", "Adam's betas, warm-up", f"test loss (VAE) / BCE, seeds {args.seeds}",
                 "mean", "worst", "median train s"], rows,
                notes=f"CPU: {cpu_name()}. Test loss per image on the 10,000 test images; each seed's variants "
                      "trained in turn.", write=not args.no_write)


if __name__ == "__main__":
    main()
