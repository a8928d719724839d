"""apcore.digitize on known cases: MNIST's recipe on synthetic images, refusals with messages,
and the hostile uploads a lecture hall will try (issue 11): every one gets a sentence or the
right digit, with memory bounded."""

import io
import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apcore.digitize import (BOX, EXTENSIONS, FORMAT_NAMES, FORMATS, MAX_BYTES, MAX_PIXELS, SIZE, WORK_SIDE,
                             DigitizeError, digitize, read_grey, to_mnist)


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
], ids=["empty", "text", "1x1", "flat", "faint-noise", "truncated", "over-limit"])
def test_bad_uploads_raise_with_message(blob, words):
    with pytest.raises(DigitizeError, match=words):
        digitize(blob)


def test_other_formats_are_refused():
    buf = io.BytesIO()
    Image.fromarray(square_on_white()).save(buf, format="ICO")
    with pytest.raises(DigitizeError, match="not an image that can be read"):
        digitize(buf.getvalue())


def test_error_is_a_value_error():
    assert issubclass(DigitizeError, ValueError)


# --- hostile uploads (issue 11) --------------------------------------------------------------

def saved(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def ell(size=64) -> np.ndarray:
    """An "L" stroke (True where the ink is): a vertical bar and a bottom bar, so a flip or a
    wrong background shows."""
    m = np.zeros((size, size), bool)
    m[8:56, 16:26] = True
    m[46:56, 16:48] = True
    return m


def reference(mask: np.ndarray) -> np.ndarray:
    """The digit the mask drawn black on opaque white gives."""
    return digitize(png(np.where(mask, 0, 255).astype(np.uint8)))[0]


def test_formats_and_extensions_are_one_list():
    assert set(EXTENSIONS) == {"png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"}
    for name in FORMATS:
        assert name.lower() in FORMAT_NAMES.lower()


@pytest.mark.parametrize("fmt, kwargs", [("PNG", {}), ("JPEG", {"quality": 95}), ("GIF", {}), ("BMP", {}),
                                         ("TIFF", {}), ("WEBP", {"lossless": True})])
def test_every_accepted_format_gives_the_same_digit(fmt, kwargs):
    digit, _ = digitize(saved(Image.fromarray(np.where(ell(), 0, 255).astype(np.uint8)), fmt, **kwargs))
    assert np.abs(digit - reference(ell())).mean() < 0.02


@pytest.mark.parametrize("blob, message", [
    (b"def main():\n    print('this is my digit')\n",
     "This file is text, not an image; please upload a picture of a digit as a PNG, JPEG, GIF, BMP, TIFF or WebP file."),
    (b"7" * 4095 + "\u2014 seven".encode(),        # UTF-8 text whose 4 KB head cuts a character in two
     "This file is text, not an image; please upload a picture of a digit as a PNG, JPEG, GIF, BMP, TIFF or WebP file."),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0L9 9"/></svg>',
     "This is an SVG drawing, which cannot be read here; please export it as a PNG."),
    (bytes(range(256)) * 4,
     "This file is not an image that can be read; please upload a PNG, JPEG, GIF, BMP, TIFF or WebP file."),
], ids=["text", "utf8-text", "svg", "binary"])
def test_not_an_image_named_png(blob, message):
    with pytest.raises(DigitizeError) as exc:
        digitize(blob)
    assert str(exc.value) == message


CUT_SHORT = "The image file is damaged: it is cut short (truncated), so it cannot be decoded; please save it again."


@pytest.mark.parametrize("cut, message", [
    (20, CUT_SHORT),              # inside IHDR
    (40, "The image file is damaged: it is cut short or corrupt, so it cannot be decoded; please save it again."),
    (3000, CUT_SHORT),            # inside the image data
])
def test_truncated_png(cut, message):
    blob = png(np.random.default_rng(1).integers(0, 255, (80, 80)).astype(np.uint8))
    with pytest.raises(DigitizeError) as exc:
        digitize(blob[:cut])
    assert str(exc.value) == message


def bomb_png(side: int, colour_type: int = 0, depth: int = 1) -> bytes:
    """A valid PNG of side x side zero pixels (1-bit black by default; colour type 6, depth 8:
    transparent RGBA), written by hand so that making it never holds the image: 20000x20000
    is 50 MB of zero rows, a few tens of KB compressed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    channels = {0: 1, 6: 4}[colour_type]
    row = 1 + (side * channels * depth + 7) // 8        # filter byte 0 + packed samples
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(b"\0" * row * n) for n in [1000] * (side // 1000) + [side % 1000]) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, depth, colour_type, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


# Run in a fresh process: its peak resident memory (VmHWM: what Pillow's C allocations would show,
# which tracemalloc cannot see; reset by exec, unlike ru_maxrss, which a child inherits from the
# big pytest process) is compared before and after digitize.
MEASURE = textwrap.dedent("""
    import json, re, sys, time, tracemalloc
    from apcore.digitize import DigitizeError, digitize
    def peak_mb():
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
    blob = open(sys.argv[1], "rb").read()
    before = peak_mb()
    tracemalloc.start()
    t = time.perf_counter()
    try:
        digitize(blob)
        message = None
    except DigitizeError as exc:
        message = str(exc)
    seconds = time.perf_counter() - t
    traced = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"message": message, "seconds": seconds, "traced_mb": traced / 2**20, "rss_grown_mb": peak_mb() - before}))
""")


def measure(path) -> dict:
    """digitize on the file at path in a fresh process: message (None if it gave a digit),
    seconds, tracemalloc peak and growth of the peak resident memory, in MB."""
    run = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory read from Linux's /proc")
@pytest.mark.parametrize("side, words", [(20_000, "would unpack to 400 megapixels, too large"),   # Pillow's own limit
                                         (6_000, "6000x6000 pixels (36 megapixels), too large")])  # ours
def test_decompression_bomb_refused_from_header(tmp_path, side, words):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(side))
    assert path.stat().st_size < 200_000 and side * side > MAX_PIXELS
    result = measure(path)
    print(side, result)
    assert words in result["message"] and "megapixels" in result["message"]
    # decoding would take side*side bytes (400 MB, 36 MB): refused before a pixel is decoded
    assert result["seconds"] < 1.0
    assert result["traced_mb"] < 5 and result["rss_grown_mb"] < 20


def jpeg_claiming(width: int, height: int, progressive: bool) -> bytes:
    """A small JPEG whose frame header (SOF) is rewritten to claim width x height."""
    blob = bytearray(saved(Image.fromarray(square_on_white()), "JPEG", progressive=progressive))
    sof = blob.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    blob[sof + 5:sof + 9] = struct.pack(">HH", height, width)   # after marker, length, precision
    return bytes(blob)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory read from Linux's /proc")
@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_bomb_refused_from_header(tmp_path, progressive):
    # 12000x12000 is under Pillow's own refusal (179 megapixels): our limit has to catch it, as a
    # progressive JPEG buffers its whole coefficient array (~400 MB here) even when scaled down.
    path = tmp_path / "bomb.jpg"
    path.write_bytes(jpeg_claiming(12_000, 12_000, progressive))
    with pytest.warns(Image.DecompressionBombWarning):   # Pillow itself only warns at this size
        assert Image.open(path).size == (12_000, 12_000)
    result = measure(path)
    assert result["message"] == ("The image is 12000x12000 pixels (144 megapixels), too large: "
                                 "the limit is 50 megapixels.")
    assert result["seconds"] < 1.0 and result["rss_grown_mb"] < 20


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory read from Linux's /proc")
def test_largest_accepted_image_is_decoded_in_bounded_memory(tmp_path):
    # 4000x4000 RGBA, just within MAX_PIXELS: 64 MB decoded (Pillow's widest mode), all transparent.
    path = tmp_path / "big.png"
    path.write_bytes(bomb_png(4000, colour_type=6, depth=8))
    result = measure(path)
    print(result)
    assert result["message"] == "The image is blank: every pixel has the same value."   # decoded, then judged
    assert result["rss_grown_mb"] < 160 and result["seconds"] < 10


def test_animated_gif_gives_its_first_frame():
    first = Image.fromarray(np.where(ell(), 0, 255).astype(np.uint8))
    second = Image.fromarray(np.where(ell()[::-1, ::-1], 0, 255).astype(np.uint8))
    blob = saved(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(blob)).n_frames == 2
    digit, notes = digitize(blob)
    assert notes[0] == "animated or multi-page image: its first frame is used"
    np.testing.assert_allclose(digit, reference(ell()), atol=1e-6)


def test_sixteen_bit_tiff_full_scale_is_one():
    a = np.zeros((64, 64), np.uint16)
    a[ell()] = 65535
    a[0:4, 0:4] = 32768                 # a mid-grey patch: 8-bit clipping would make it 1.0
    blob = saved(Image.fromarray(a), "TIFF")
    assert Image.open(io.BytesIO(blob)).mode == "I;16"
    grey, notes = read_grey(blob)
    assert grey.max() == 1.0 and grey.min() == 0.0
    assert grey[0, 0] == pytest.approx(32768 / 65535)
    assert any("16-bit" in n for n in notes)
    a[0:4, 0:4] = 0
    digit, _ = digitize(saved(Image.fromarray(a), "TIFF"))
    light = digitize(png(np.where(ell(), 255, 0).astype(np.uint8)))[0]   # the same stroke in 8 bits
    np.testing.assert_allclose(digit, light, atol=1e-3)


def test_sixteen_bit_noise_is_blank_not_a_digit():
    # Three levels out of 65535: the old code stretched this to full range and called it a digit.
    a = (np.random.default_rng(0).integers(0, 3, (50, 50)) + 30000).astype(np.uint16)
    with pytest.raises(DigitizeError, match="blank"):
        digitize(saved(Image.fromarray(a), "TIFF"))


def test_cmyk_jpeg():
    im = Image.new("CMYK", (64, 64), (0, 0, 0, 0))           # no ink: white paper
    im.paste((0, 0, 0, 255), mask=Image.fromarray(ell()))     # full black (K) stroke
    blob = saved(im, "JPEG", quality=95)
    assert Image.open(io.BytesIO(blob)).mode == "CMYK"
    digit, notes = digitize(blob)
    assert "CMYK colour image converted to grey" in notes
    assert np.abs(digit - reference(ell())).mean() < 0.02


@pytest.mark.parametrize("canvas", [(0, 0, 0, 0), (255, 255, 255, 0), (255, 0, 0, 0)])
def test_black_strokes_on_a_transparent_canvas(canvas):
    # Whatever colour the transparent pixels hold, the ink is where the strokes were.
    a = np.tile(np.array(canvas, np.uint8), (64, 64, 1))
    a[ell()] = (0, 0, 0, 255)
    digit, notes = digitize(png(a))
    assert "transparent background filled" in notes
    np.testing.assert_allclose(digit, reference(ell()), atol=1e-6)
    rows, cols = np.nonzero(digit > 0.5)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    assert bottom - top + 1 == BOX
    assert (digit[top:bottom + 1, left] > 0.5).all()              # the bar down the left side
    assert (digit[bottom, left:right + 1] > 0.5).all()            # the bar along the bottom
    assert digit[top:top + 10, left + 6:right + 1].max() < 0.05   # nothing top right (Lanczos ringing aside)


def test_white_strokes_on_a_transparent_canvas_and_soft_edges():
    a = np.zeros((64, 64, 4), np.uint8)
    a[ell()] = (255, 255, 255, 255)
    digit, _ = digitize(png(a))
    np.testing.assert_allclose(digit, reference(ell()), atol=1e-6)
    # anti-aliased edge: half-transparent black pixels count as half ink
    soft = np.zeros((64, 64, 4), np.uint8)
    soft[ell()] = (0, 0, 0, 255)
    soft[8:56, 26] = (0, 0, 0, 128)
    grey, _ = read_grey(png(soft))
    assert grey[30, 26] == pytest.approx(1 - 128 / 255, abs=1e-6) and grey[30, 40] == 1.0


def test_transparency_by_palette_or_colour_key():
    pal = Image.fromarray(np.where(ell(), 0, 1).astype(np.uint8), mode="L").convert("P")
    pal.putpalette([0, 0, 0, 0, 0, 0])         # index 0 and 1 both black: only tRNS tells them apart
    digit, notes = digitize(saved(pal, "PNG", transparency=1))
    assert "palette image converted to grey" in notes and "transparent background filled" in notes
    np.testing.assert_allclose(digit, reference(ell()), atol=1e-6)


def test_exif_orientation_turns_the_photo_upright():
    exif = Image.Exif()
    exif[0x0112] = 6                           # stored turned 90 degrees anticlockwise: rotate 270 back
    stored = np.rot90(np.where(ell(), 0, 255).astype(np.uint8), 1)
    digit, notes = digitize(saved(Image.fromarray(stored), "JPEG", quality=95, exif=exif))
    assert "turned upright as the camera recorded" in notes
    assert np.abs(digit - reference(ell())).mean() < 0.02


def test_large_photo_is_decoded_reduced():
    big = np.kron(np.where(ell(), 0, 255).astype(np.uint8), np.ones((48, 48), np.uint8))  # 3072 x 3072
    grey, _ = read_grey(saved(Image.fromarray(big), "JPEG", quality=90))
    assert max(grey.shape) <= WORK_SIDE
    assert np.abs(digitize(saved(Image.fromarray(big), "PNG"))[0] - reference(ell())).mean() < 0.02


@pytest.mark.parametrize("blob, message", [
    (b"", "The file is empty (0 bytes); please choose the picture again."),
    (png(np.zeros((1, 1), np.uint8)), "The image is only 1x1 pixels; a digit needs at least 8x8."),
    (png(np.zeros((1000, 5), np.uint8)), "The image is only 5x1000 pixels; a digit needs at least 8x8."),
])
def test_empty_and_tiny(blob, message):
    with pytest.raises(DigitizeError) as exc:
        digitize(blob)
    assert str(exc.value) == message
