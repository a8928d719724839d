"""ui.images: the digit montages (no app run needed)."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import make_grid

from ui.images import data_uri, montage


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


def test_a_data_uri_is_the_montage_as_a_png():
    picture = montage(torch.rand(5, 28, 28), nrow=3, upscale=3)
    uri = data_uri(picture)
    assert uri.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert decoded.format == "PNG" and decoded.mode == "L"
    np.testing.assert_array_equal(np.asarray(decoded), picture)
