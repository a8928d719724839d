"""Denoising autoencoders: how much a model trained at one noise level cleans test images.

The corruption is ``data.corrupt`` with a fixed seed, so every model sees the same noisy test
images; quality is PSNR (``metrics.psnr``) and SSIM (scikit-image's ``structural_similarity``,
Wang et al. 2004) against the clean image, for the noisy input and for the model's output.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import NOISE_SEED, corrupt, to_float
from .metrics import EVAL_BATCH, psnr
from .models import Autoencoder


def ssim(clean: torch.Tensor, other: torch.Tensor) -> np.ndarray:
    """SSIM per image, pixels in [0, 1], default 7x7 window: (B, 1, 28, 28) x 2 -> (B,)."""
    from skimage.metrics import structural_similarity  # ~1 s to import: only where SSIM is shown

    a = clean.detach().cpu().double().numpy().reshape(-1, 28, 28)
    b = other.detach().cpu().double().numpy().reshape(-1, 28, 28)
    return np.array([structural_similarity(p, q, data_range=1.0) for p, q in zip(a, b)])


@torch.no_grad()
def denoise(model: Autoencoder, images: torch.Tensor, noise: str, level: float,
            seed: int = NOISE_SEED) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clean, noisy and denoised versions of uint8 images (N, 28, 28) or float images
    (N, 1, 28, 28) in [0, 1]: each (N, 1, 28, 28) float on the CPU. The same ``seed`` gives the
    same noise, whichever model is asked."""
    model.eval()
    gen = torch.Generator(device=model.device).manual_seed(seed)
    out = ([], [], [])
    for i in range(0, len(images), EVAL_BATCH):
        clean = to_float(images[i:i + EVAL_BATCH].to(model.device))
        noisy = corrupt(clean, noise, level, gen)
        for acc, t in zip(out, (clean, noisy, model.reconstruct(noisy))):
            acc.append(t.cpu())
    return tuple(torch.cat(t) for t in out)


def quality(clean: torch.Tensor, noisy: torch.Tensor, denoised: torch.Tensor,
            with_ssim: bool = True) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of the noisy input and of the output against the clean images."""
    q = {"psnr_noisy": float(psnr(clean, noisy).mean()), "psnr_denoised": float(psnr(clean, denoised).mean())}
    if with_ssim:
        q["ssim_noisy"] = float(ssim(clean, noisy).mean())
        q["ssim_denoised"] = float(ssim(clean, denoised).mean())
    return q


def psnr_curve(model: Autoencoder, images: torch.Tensor, noise: str, levels,
               seed: int = NOISE_SEED) -> dict[str, list[float]]:
    """Mean PSNR of input and output at each test noise level: what happens when the test noise
    differs from the training noise. Returns ``level``, ``psnr_noisy``, ``psnr_denoised`` lists."""
    curve = {"level": [], "psnr_noisy": [], "psnr_denoised": []}
    for level in levels:
        q = quality(*denoise(model, images, noise, float(level), seed), with_ssim=False)
        curve["level"].append(float(level))
        curve["psnr_noisy"].append(q["psnr_noisy"])
        curve["psnr_denoised"].append(q["psnr_denoised"])
    return curve
