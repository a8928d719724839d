"""Command line: ``python -m apcore {train,warm,list}``.

Bad arguments give one line on stderr and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from .config import DATASETS, FAMILIES, NOISES, ConfigError, DataError, ModelConfig
from .defaults import default_config, page_defaults, warm_list

# torch and scikit-learn load inside the commands: a mistyped argument answers at once.


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + message; we want one line
        raise UsageError(message)


def parse_classes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"classes must be integers separated by commas, got {text!r}") from None


def build_parser() -> Parser:
    p = Parser(prog="python -m apcore", description="Train and cache the lecture's autoencoders.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    t = sub.add_parser("train", help="train a model (or load it from the cache)")
    t.add_argument("model", choices=FAMILIES)
    t.add_argument("--latent-dim", type=int, default=2)
    t.add_argument("--dataset", choices=DATASETS, default="mnist")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--beta", type=float, default=1.0)
    t.add_argument("--noise", choices=[n for n in NOISES if n != "none"])
    t.add_argument("--noise-level", type=float)
    t.add_argument("--normal-classes", type=parse_classes, default=())
    t.add_argument("--train-limit", type=int, default=0, help="train on the first N images only")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    w = sub.add_parser("warm", help="train every model the pages offer by default")
    w.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    sub.add_parser("list", help="list the cached models with their metrics")
    return p


def progress_bar(p) -> None:
    """Draw a ``train.Progress`` as one line on stderr."""
    width = 30
    done = int(width * p.fraction)
    losses = " ".join(f"{k} {v:.2f}" for k, v in p.losses.items())
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] epoch {p.epoch}/{p.epochs} {losses} {p.elapsed:.0f}s ")
    if p.epoch == p.epochs and p.step == p.steps:
        sys.stderr.write("\n")
    sys.stderr.flush()


def config_from_args(args):
    if args.noise_level is not None and args.noise is None:
        raise ConfigError("--noise-level needs --noise gaussian|salt-pepper|mask")
    budget = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr)) if v is not None}
    return default_config(
        args.model, latent_dim=args.latent_dim, dataset=args.dataset, beta=args.beta,
        noise=args.noise or "none", noise_level=0.5 if args.noise_level is None and args.noise else (args.noise_level or 0.0),
        normal_classes=args.normal_classes, seed=args.seed, train_limit=args.train_limit, **budget)


def cmd_train(args) -> int:
    config = config_from_args(args)
    from .cache import ModelStore

    store = ModelStore(device=args.device)
    start = time.perf_counter()
    trained = store.get(config)
    if trained is None:
        trained = store.get_or_train(config, on_progress=None if args.json else progress_bar)
    # Not "found by get": another process may have trained it while this one waited for the lock.
    cached = trained.cached
    result = {"model": config.family, "key": config.key, "config": config.to_dict(), "device": trained.device,
              "cached": cached, "train_seconds": round(trained.train_seconds, 3),
              "wall_seconds": round(time.perf_counter() - start, 3), "metrics": trained.metrics}
    if args.json:
        print(json.dumps(result))
    else:
        state = "loaded from cache" if cached else f"trained in {trained.train_seconds:.1f} s on {trained.device}"
        print(f"{config.describe()}: {state}")
        for k, v in trained.metrics.items():
            print(f"  {k:14s} {v:10.4f}")
    return 0


def cmd_warm(args) -> int:
    from .cache import ModelStore

    store = ModelStore(device=args.device)
    configs = warm_list()
    for i, config in enumerate(configs, 1):
        cached = store.get(config) is not None
        print(f"[{i}/{len(configs)}] {config.describe()}: {'cached' if cached else 'training'}", flush=True)
        if not cached:
            trained = store.get_or_train(config, on_progress=progress_bar)
            print(f"    {trained.train_seconds:.1f} s, " + ", ".join(f"{k} {v:.3f}" for k, v in trained.metrics.items()))
    warm_embeddings(store)
    return 0


def warm_embeddings(store) -> None:
    """The clustering page's UMAP step for its default models, kept on disk beside the checkpoints."""
    from . import cluster
    from .data import load_dataset

    if not cluster.umap_available():
        print("umap-learn not installed: the clustering page's UMAP step will run when first asked for")
        return
    for config in page_defaults()["clustering"]:
        images, _ = cluster.test_split(load_dataset(config.dataset))
        start = time.perf_counter()
        cluster.model_embedding(store.get(config).model, config.key, images, store.root, store.device)
        print(f"UMAP of {config.describe()}'s codes: {time.perf_counter() - start:.1f} s", flush=True)


def cmd_list(args) -> int:
    from .cache import ModelStore

    store = ModelStore()
    rows = store.summaries()
    if not rows:
        print(f"no cached models in {store.root}")
    for s in rows:
        m = s["metrics"]
        head = m.get("test_loss", m.get("test_recon", float("nan")))
        extra = " ".join(f"{k}={m[k]:.3f}" for k in ("psnr_denoised", "auroc", "cluster_acc") if k in m)
        print(f"{s['key'][:12]}  {ModelConfig.from_dict(s['config']).describe():48s} "
              f"loss {head:7.2f}  {extra}  ({s['train_seconds']:.1f} s, {s['device']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
        return {"train": cmd_train, "warm": cmd_warm, "list": cmd_list}[args.command](args)
    except (UsageError, ConfigError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
