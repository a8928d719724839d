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
from .defaults import DENOISE_LEVEL, PAGE_MODELS, model_like, page_latent, pages_using

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
    t.add_argument("--latent-dim", type=int,
                   help="code size (ae-fconv: feature maps of 7x7); by default the page's (see --page)")
    t.add_argument("--dataset", choices=DATASETS, default="mnist")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--beta", type=float, default=1.0)
    t.add_argument("--noise", choices=[n for n in NOISES if n != "none"])
    t.add_argument("--noise-level", type=float)
    t.add_argument("--normal-classes", type=parse_classes, default=())
    t.add_argument("--page", choices=list(PAGE_MODELS),
                   help="train the model as this page does (its budget); by default the page a model of "
                        "this kind belongs to (normal classes: anomaly, noise: denoise), if any")
    t.add_argument("--train-limit", type=int, help="train on the first N images only")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    w = sub.add_parser("warm", help="train every model the pages offer by default")
    w.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    w.add_argument("--jobs", type=int, help="trainings at once (default: 2 on a CPU of 2 or more cores, 1 on a GPU)")
    sub.add_parser("list", help="list the cached models with their metrics and the pages that show them")
    return p


class ProgressBar:
    """A ``train.Progress`` callback drawing one tqdm bar per training on stderr: steps done,
    the epoch and the epoch's running losses."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None

    def __call__(self, p) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=p.epochs * p.steps, desc=self.label, unit="step", file=sys.stderr,
                            dynamic_ncols=True)
        self.bar.set_postfix_str(f"epoch {p.epoch}/{p.epochs} "
                                 + " ".join(f"{k} {v:.2f}" for k, v in p.losses.items()), refresh=False)
        self.bar.update((p.epoch - 1) * p.steps + p.step - self.bar.n)
        if p.epoch == p.epochs and p.step == p.steps:
            self.bar.close()


def config_from_args(args) -> ModelConfig:
    """The config the arguments describe: the page's model (``--page``, else the page such a model
    belongs to), so that a page and the command line share its checkpoint; ``--epochs``,
    ``--batch-size``, ``--lr``, ``--train-limit`` and ``--seed`` over it."""
    if args.noise_level is not None and args.noise is None:
        raise ConfigError("--noise-level needs --noise gaussian|salt-pepper|mask")
    level = args.noise_level if args.noise_level is not None else (DENOISE_LEVEL if args.noise else 0.0)
    latent = args.latent_dim
    if latent is None:
        latent = page_latent(args.model, args.page, args.noise is not None, bool(args.normal_classes))
    like = ModelConfig(family=args.model, latent_dim=latent, dataset=args.dataset, beta=args.beta,
                       noise=args.noise or "none", noise_level=level, normal_classes=args.normal_classes)
    config = model_like(like, args.page)
    chosen = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "train_limit") if getattr(args, k) is not None}
    return config.replace(seed=args.seed, **chosen)


def cmd_train(args) -> int:
    config = config_from_args(args)
    from .cache import ModelStore

    store = ModelStore(device=args.device)
    start = time.perf_counter()
    trained = store.get(config)
    if trained is None:
        trained = store.get_or_train(config, on_progress=None if args.json else ProgressBar(config.describe()))
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
    from . import warm

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    warm.run(args.device, args.jobs)
    return 0


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
        config = ModelConfig.from_dict(s["config"])
        print(f"{s['key'][:12]}  {config.describe():48s} loss {head:7.2f}  {extra}  "
              f"({s['train_seconds']:.1f} s, {s['device']})  pages: {', '.join(pages_using(config)) or '-'}")
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
