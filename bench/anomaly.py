"""One-class anomaly detection on MNIST: AUROC per normal digit, scored by reconstruction error.

For each digit d, a model is trained on the training images of d only (as the anomaly page does)
and the 10,000 test images are scored by their reconstruction error summed over pixels; AUROC
treats the other nine digits as the positive (anomalous) class. Reference: Deep SVDD (Ruff et al.
2018) mean 0.948; target here >= 0.95 (``../shared/guides/TARGETS.md``).

    python bench/anomaly.py --threads 2     # the page's MLP (its default) and CNN, all ten
                                            # digits; writes bench/results/anomaly.md
    python bench/anomaly.py --threads 2 --family ae-conv --no-write   # one of them
    python bench/anomaly.py --variant ae-conv,16,30,256,3e-3 --variant ae-mlp,16,30,256,2e-3
                                            # compare models (family,latent,epochs,batch,lr);
                                            # VAEs also get the negative ELBO as a score
    python bench/anomaly.py --device cuda --digits 3,8 --no-write

Train seconds are the trainer's wall time only (the page adds the test-set evaluation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apcore.anomaly import MEASURES, anomaly_scores  # noqa: E402
from apcore import train  # noqa: E402
from apcore.config import ModelConfig  # noqa: E402
from apcore.data import load_dataset  # noqa: E402
from apcore.defaults import anomaly_config, page_defaults  # noqa: E402
from apcore.metrics import auroc, batched  # noqa: E402
from apcore.models import kl_per_dim  # noqa: E402
from bench.common import device_name, train_timed  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "anomaly.md"


PAGE_FAMILIES = ("ae-mlp", "ae-conv")  # the page's MLP and CNN


def page_models(families=PAGE_FAMILIES) -> list[ModelConfig]:
    """The page's models at their default latent size (the first is the page default)."""
    default = page_defaults()["anomaly"][0]
    return [anomaly_config(f, default.latent_dim, default.normal_classes) for f in families]


def neg_elbo(model, images: torch.Tensor) -> np.ndarray:
    """BCE of the mean reconstruction + KL(q(z|x) || N(0, I)) per image: the VAE's own score."""
    def score(m, x):
        mu, logvar = m.encode(x)
        bce = torch.nn.functional.binary_cross_entropy(m.decode(mu).clamp(1e-6, 1 - 1e-6), x,
                                                       reduction="none").flatten(1).sum(1)
        return (bce + kl_per_dim(mu, logvar).sum(1)).cpu()
    return torch.cat(batched(model, images, score)).numpy()


def one_class(config: ModelConfig, data, device) -> dict[str, float]:
    """Train ``config`` (one normal digit) and return AUROC per score, plus train seconds."""
    model, seconds = train_timed(config, data, device)
    normal = np.isin(data.test_labels.numpy(), config.normal_classes)
    row = {}
    for measure in MEASURES:
        s = anomaly_scores(model, data.test_images, measure)
        row[measure] = auroc(s[normal], s[~normal])
    if config.is_vae:
        s = neg_elbo(model, data.test_images)
        row["elbo"] = auroc(s[normal], s[~normal])
    row["seconds"] = seconds
    return row


def table(config: ModelConfig, rows: dict[int, dict], device: torch.device) -> str:
    cols = [c for c in (*MEASURES, "elbo") if c in next(iter(rows.values()))]
    head = "| normal digit | " + " | ".join(f"AUROC ({c})" for c in cols) + " | train s |"
    lines = [f"Model: `{config.family}`, latent {config.latent_dim}, {config.epochs} epochs, batch "
             f"{config.batch_size}, lr {config.lr:g} (one-class: trained on the normal digit only). "
             f"Device: {device_name(device)}.", "", head, "|" + "---|" * (len(cols) + 2)]
    for d, r in rows.items():
        lines.append(f"| {d} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + f" | {r['seconds']:.1f} |")
    mean = {c: float(np.mean([r[c] for r in rows.values()])) for c in (*cols, "seconds")}
    lines.append("| **mean** | " + " | ".join(f"**{mean[c]:.3f}**" for c in cols) + f" | {mean['seconds']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", default=[],
                    help="family,latent,epochs,batch,lr (repeatable); default: the page's default model")
    ap.add_argument("--family", choices=PAGE_FAMILIES, help="only this one of the page's models")
    ap.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: its default)")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = train.pick_device(args.device)
    data = load_dataset("mnist")
    digits = [int(d) for d in args.digits.split(",")]
    configs = page_models([args.family] if args.family else PAGE_FAMILIES)
    if args.variant:
        configs = []
        for v in args.variant:
            fam, latent, epochs, batch, lr = v.split(",")
            configs.append(ModelConfig(family=fam, latent_dim=int(latent), epochs=int(epochs),
                                       batch_size=int(batch), lr=float(lr)))
    out = []
    for base in configs:
        rows = {}
        for d in digits:
            rows[d] = one_class(base.replace(normal_classes=(d,)), data, device)
            print(f"  {base.family} latent {base.latent_dim}: digit {d} "
                  + " ".join(f"{k} {v:.3f}" for k, v in rows[d].items()), file=sys.stderr, flush=True)
        out.append(table(base, rows, device))
        print(out[-1] + "\n", flush=True)
    if not args.no_write and not args.variant and not args.family and len(digits) == 10:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("# One-class anomaly detection on MNIST (reconstruction error)\n\n"
                           "Made by `python bench/anomaly.py`.\n\n" + "\n\n".join(out) + "\n")


if __name__ == "__main__":
    main()
