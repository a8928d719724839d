"""apcore.denoise: PSNR from apcore.metrics, SSIM from scikit-image, the same noise for every model."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from apcore import denoise, models
from apcore.config import ModelConfig
from apcore.metrics import psnr


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return models.build(ModelConfig(family="ae-mlp", latent_dim=4)).eval()


def test_ssim_matches_skimage():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 1, 28, 28, generator=g), torch.rand(3, 1, 28, 28, generator=g)
    got = denoise.ssim(a, b)
    for i in range(3):
        assert got[i] == pytest.approx(structural_similarity(a[i, 0].double().numpy(), b[i, 0].double().numpy(), data_range=1.0))
    assert denoise.ssim(a, a) == pytest.approx(np.ones(3))


def test_denoise_same_noise_for_every_model_and_quality(model):
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    other = models.build(ModelConfig(family="ae-conv", latent_dim=4)).eval()
    clean, noisy, out = denoise.denoise(model, images, "gaussian", 0.5)
    _, noisy2, out2 = denoise.denoise(other, images, "gaussian", 0.5)
    assert torch.equal(noisy, noisy2) and not torch.equal(out, out2)
    assert clean.shape == noisy.shape == out.shape == (6, 1, 28, 28)
    q = denoise.quality(clean, noisy, out)
    assert q["psnr_noisy"] == pytest.approx(float(psnr(clean, noisy).mean()))
    assert q["ssim_denoised"] == pytest.approx(float(denoise.ssim(clean, out).mean()))
    # float input (an upload) goes through unchanged
    c2, _, _ = denoise.denoise(model, clean, "mask", 0.3)
    assert torch.equal(c2, clean)


def test_psnr_curve(model):
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    c = denoise.psnr_curve(model, images, "salt-pepper", [0.0, 0.5, 1.0])
    assert c["level"] == [0.0, 0.5, 1.0]
    assert c["psnr_noisy"][0] == pytest.approx(100.0)  # no noise: the eps floor of metrics.psnr
    assert c["psnr_noisy"][0] > c["psnr_noisy"][1] > c["psnr_noisy"][2]
