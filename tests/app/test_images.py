"""ui.images: the digit montages (no app run needed)."""

import numpy as np
import pytest
import torch
from torchvision.utils import make_grid

from ui.images import montage


@pytest.mark.parametrize("n, nrow, padding, upscale", [(10, 10, 2, 4), (7, 3, 2, 1), (20, 10, 2, 2), (5, 8, 1, 1)])
def test_montage_is_torchvisions_grid(n, nrow, padding, upscale):
    images = torch.rand(n, 1, 28, 28) * 1.4 - 0.2  # outside [0, 1] too: clamped
    expected = make_grid(images.clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)[0]
    expected = expected.repeat_interleave(upscale, 0).repeat_interleave(upscale, 1)
    np.testing.assert_array_equal(montage(images, nrow, padding, upscale), (expected.numpy() * 255).round().astype(np.uint8))


def test_one_digit_uint8_fills_its_picture():
    digit = torch.arange(784, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(28, 28)
    picture = montage(digit, nrow=1, padding=0, upscale=8)
    assert picture.shape == (224, 224)
    np.testing.assert_array_equal(picture[::8, ::8], digit.numpy())
