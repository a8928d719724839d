"""apcore.digitize on known cases: MNIST's recipe on synthetic images, and refusals with messages."""

import io

import numpy as np
import pytest
from PIL import Image

from apcore.digitize import BOX, MAX_BYTES, SIZE, DigitizeError, digitize, to_mnist


def png(array: np.ndarray, mode: str | None = None, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format=fmt)
    return buf.getvalue()


def square_on_white(size=100, top=10, left=50, side=40) -> np.ndarray:
    a = np.full((size, size), 255, np.uint8)
    a[top:top + side, left:left + side] = 0
    return a


def centre_of_mass(d: np.ndarray) -> tuple[float, float]:
    yy, xx = np.mgrid[:d.shape[0], :d.shape[1]]
    return (yy * d).sum() / d.sum(), (xx * d).sum() / d.sum()


def test_black_square_on_white_becomes_centred_white_square():
    digit, notes = digitize(png(square_on_white()))
    assert digit.shape == (SIZE, SIZE) and digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() == pytest.approx(1.0)
    assert any("inverted" in n for n in notes)
    # inverted: light ink on black, the border is background
    assert digit[0].max() == 0 and digit[:, 0].max() == 0
    # scaled to fill the 20x20 box, centred by mass in the 28x28 field
    rows, cols = np.nonzero(digit > 0.5)
    assert rows.max() - rows.min() + 1 == BOX and cols.max() - cols.min() + 1 == BOX
    cy, cx = centre_of_mass(digit)
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_aspect_kept_and_mass_centred():
    a = np.zeros((60, 200), np.uint8)   # light bar on black: no inversion
    a[20:40, 10:50] = 255               # 20 tall, 40 wide -> 10 x 20 after scaling
    digit, notes = digitize(png(a))
    assert not any("inverted" in n for n in notes)
    rows, cols = np.nonzero(digit > 0.5)
    assert cols.max() - cols.min() + 1 == BOX
    assert rows.max() - rows.min() + 1 == BOX // 2
    cy, cx = centre_of_mass(digit)
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_off_centre_mass_is_centred_not_the_box():
    a = np.zeros((100, 100), np.float64)
    a[10:90, 10:30] = 1.0               # thick left stroke
    a[10:90, 80:90] = 1.0               # thin right stroke: the box centre is not the mass centre
    digit, _ = to_mnist(a)
    cy, cx = centre_of_mass(digit)
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5
    cols = np.nonzero(digit.max(0) > 0.5)[0]
    assert (cols.min() + cols.max()) / 2 > 13.5 + 1  # the box sits right of centre


def test_rgba_transparent_background_dark_ink():
    a = np.zeros((64, 64, 4), np.uint8)  # transparent everywhere...
    a[16:48, 28:36] = (0, 0, 0, 255)     # ...but an opaque black stroke
    digit, notes = digitize(png(a))
    assert any("transparent" in n for n in notes)
    assert digit.max() == pytest.approx(1.0) and digit[0].max() == 0


def test_rgba_transparent_background_light_ink():
    a = np.zeros((64, 64, 4), np.uint8)
    a[16:48, 28:36] = (255, 255, 255, 255)
    digit, _ = digitize(png(a))
    assert digit.max() == pytest.approx(1.0) and digit[0].max() == 0


def test_sixteen_bit_and_palette_and_jpeg():
    a16 = (square_on_white().astype(np.uint16) * 257)
    d16, notes = digitize(png(a16))
    assert any("16-bit" in n for n in notes)
    d8, _ = digitize(png(square_on_white()))
    np.testing.assert_allclose(d16, d8, atol=1e-3)
    pal = Image.fromarray(square_on_white()).convert("P")
    buf = io.BytesIO()
    pal.save(buf, format="PNG")
    dp, notes = digitize(buf.getvalue())
    assert any("palette" in n for n in notes)
    np.testing.assert_allclose(dp, d8, atol=1e-3)
    rgb = np.stack([square_on_white()] * 3, axis=-1)
    dj, _ = digitize(png(rgb, fmt="JPEG"))
    assert np.abs(dj - d8).mean() < 0.05


@pytest.mark.parametrize("blob, words", [
    (b"", "empty"),
    (b"hello, this is not a picture", "not an image"),
    (png(np.zeros((1, 1), np.uint8)), "1x1"),
    (png(np.full((50, 50), 200, np.uint8)), "blank"),
    (png(np.random.default_rng(0).integers(0, 3, (50, 50)).astype(np.uint8) + 120), "blank"),
    (png(np.random.default_rng(1).integers(0, 255, (80, 80)).astype(np.uint8))[:3000], "damaged"),
    (b"\0" * (MAX_BYTES + 1), "limit"),
])
def test_bad_uploads_raise_with_message(blob, words):
    with pytest.raises(DigitizeError, match=words):
        digitize(blob)


def test_other_formats_and_huge_images_are_refused():
    buf = io.BytesIO()
    Image.fromarray(square_on_white()).save(buf, format="GIF")
    with pytest.raises(DigitizeError, match="PNG or JPEG"):
        digitize(buf.getvalue())
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")  # tiny file, 64 megapixels
    with pytest.raises(DigitizeError, match="too large"):
        digitize(buf.getvalue())


def test_error_is_a_value_error():
    assert issubclass(DigitizeError, ValueError)
