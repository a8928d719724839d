"""AppTest of the shared "try your own digit" uploader (ui/upload.py), driven by real uploads.

The widget runs in a one-widget script rather than through a page, so no model trains: the pages
only pass its tensor on.
"""

import io

import numpy as np
from PIL import Image

from apcore.digitize import EXTENSIONS
from tests.test_digitize import bomb_png


def uploader_script():
    import streamlit as st

    from ui.upload import uploaded_digit

    digit = uploaded_digit("test_upload")
    if digit is not None:
        st.markdown(f"digit {tuple(digit.shape)} max {float(digit.max()):.2f}")


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def run_with(at, name: str, blob: bytes, mime: str = "image/png"):
    at.file_uploader(key="test_upload").set_value((name, blob, mime)).run()
    assert not at.exception, at.exception
    return at


def test_uploader_accepts_the_digitize_formats_and_converts_a_drawing():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(uploader_script, default_timeout=30).run()
    # the widget's list is digitize's list (Streamlit refuses other extensions before our code)
    assert at.file_uploader(key="test_upload").allowed_type == [f".{e}" for e in EXTENSIONS]
    a = np.zeros((64, 64, 4), np.uint8)          # black strokes on a transparent canvas
    a[8:56, 16:26] = (0, 0, 0, 255)
    run_with(at, "my digit.png", png(a))
    assert not at.error
    assert at.markdown[-1].value == "digit (1, 1, 28, 28) max 1.00"
    assert "transparent background filled" in at.caption[0].value
    buf = io.BytesIO()
    Image.fromarray(np.where(a[..., 3] > 0, 0, 255).astype(np.uint8)).convert("CMYK").save(buf, format="JPEG")
    run_with(at, "PHOTO.JPG", buf.getvalue(), "image/jpeg")     # upper-case extension, CMYK
    assert not at.error and at.markdown[-1].value == "digit (1, 1, 28, 28) max 1.00"


def test_uploader_shows_one_sentence_for_hostile_files():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(uploader_script, default_timeout=30).run()
    cases = [
        ("homework.png", b"my answer is 7\n", "This file is text, not an image"),
        ("cut.png", png(np.random.default_rng(0).integers(0, 255, (80, 80)).astype(np.uint8))[:3000], "truncated"),
        ("empty.png", b"", "The file is empty"),
        ("dot.png", png(np.zeros((1, 1), np.uint8)), "only 1x1 pixels"),
        ("bomb.png", bomb_png(20_000), "would unpack to 400 megapixels, too large"),
        ("*bold* $x$.png", b"not an image", "not an image"),
    ]
    for name, blob, words in cases:
        run_with(at, name, blob)
        assert len(at.error) == 1, name
        message = at.error[0].value
        assert message.startswith("Cannot use **") and words in message, message
        assert "Traceback" not in message and "Error" not in message
        assert not any(m.value.startswith("digit") for m in at.markdown)
    assert r"\*bold\* \$x\$\.png" in at.error[0].value     # a hostile name stays plain text
