"""``ui.compress.GzipStatic`` in front of Streamlit's own static-file handler, driven as ASGI."""

import gzip

import pytest
from streamlit.web.server.starlette.starlette_static_routes import create_streamlit_static_handler

from tests.app.asgi import get
from ui import compress
from ui.compress import GzipStatic, accepts_gzip

SCRIPT = b"function f(){return 'lecture';}\n" * 400   # 12.8 kB of JavaScript, compresses well


@pytest.fixture
def served(tmp_path):
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "static" / "js" / "main.0123abcd.js").write_bytes(SCRIPT)
    (tmp_path / "static" / "js" / "tiny.js").write_bytes(b"x")
    (tmp_path / "index.html").write_bytes(b"<html>" + b" " * 4000 + b"</html>")
    return GzipStatic(create_streamlit_static_handler(str(tmp_path), base_url=None))


def test_an_immutable_asset_is_sent_as_it_is_first_then_gzipped_from_memory(served):
    status, head, body = get(served, "/static/js/main.0123abcd.js", accept_encoding="gzip, deflate, br")
    assert status == 200 and body == SCRIPT and "content-encoding" not in head   # never kept waiting
    assert "immutable" in head["cache-control"] and head["vary"] == "Accept-Encoding"
    served.wait()
    status, zipped, body = get(served, "/static/js/main.0123abcd.js", accept_encoding="gzip, deflate, br")
    assert status == 200 and zipped["content-encoding"] == "gzip"
    assert gzip.decompress(body) == SCRIPT and len(body) < len(SCRIPT) / 10
    assert int(zipped["content-length"]) == len(body)
    assert zipped["cache-control"] == head["cache-control"] and zipped["content-type"] == head["content-type"]
    assert zipped["etag"] == "W/" + head["etag"] and zipped["vary"] == "Accept-Encoding"


def test_what_is_not_a_plain_gzip_request_for_an_immutable_asset_passes_through(served):
    get(served, "/static/js/main.0123abcd.js")
    served.wait()
    path = "/static/js/main.0123abcd.js"
    for headers in ({}, {"accept_encoding": "identity"}, {"accept_encoding": "gzip;q=0, deflate"}):
        status, head, body = get(served, path, **headers)
        assert (status, body) == (200, SCRIPT) and "content-encoding" not in head, headers
    status, head, body = get(served, path, accept_encoding="gzip", range="bytes=0-9")      # a range: the file's bytes
    assert (status, body) == (206, SCRIPT[:10]) and "content-encoding" not in head
    etag = get(served, path)[1]["etag"]
    status, head, body = get(served, path, accept_encoding="gzip", if_none_match=f"W/{etag}")  # revalidation
    assert status == 304 and body == b""
    status, head, body = get(served, path, method="HEAD", accept_encoding="gzip")
    assert status == 200 and "content-encoding" not in head and body == b""
    # not immutable (no-cache HTML, the index served for an unknown path), too small, or missing: never kept
    for other in ("/index.html", "/static/js/nothing-here.js", "/static/js/tiny.js"):
        get(served, other, accept_encoding="gzip")
    served.wait()
    assert list(served.ready) == [path]
    status, head, _ = get(served, "/static/js/nothing-here.js", accept_encoding="gzip")
    assert status == 200 and "content-encoding" not in head and head["cache-control"] == "no-cache"


def test_query_strings_share_one_compressed_copy(served):
    """A room cannot grow the server's memory by varying the query string of one file."""
    for n in range(5):
        get(served, f"/static/js/main.0123abcd.js?v={n}", accept_encoding="gzip")
        served.wait()
    assert list(served.ready) == ["/static/js/main.0123abcd.js"]
    status, head, body = get(served, "/static/js/main.0123abcd.js?v=9", accept_encoding="gzip")
    assert head["content-encoding"] == "gzip" and gzip.decompress(body) == SCRIPT


def test_a_file_whose_sending_broke_off_is_not_kept(served, monkeypatch):
    """Only the whole file is compressed: a client that left mid-way leaves nothing half-kept."""
    served._compress_later("/static/js/main.0123abcd.js", [(b"content-length", str(len(SCRIPT)).encode())],
                           SCRIPT[:100])
    served.wait()
    assert served.ready == {}


@pytest.mark.parametrize("value, ok", [("gzip", True), ("gzip, deflate, br, zstd", True), ("GZIP;q=0.5", True),
                                       ("*", True), ("gzip;q=0", False), ("gzip;q=0.0, br", False),
                                       ("deflate, br", False), ("", False), ("identity", False)])
def test_accept_encoding(value, ok):
    assert accepts_gzip(value) is ok



@pytest.mark.parametrize("options, url", [
    ({"server.address": "", "server.port": 8501, "server.baseUrlPath": ""}, "http://127.0.0.1:8501"),
    ({"server.address": "0.0.0.0", "server.port": 80, "server.baseUrlPath": "/lecture/"}, "http://127.0.0.1:80/lecture"),
    ({"server.address": "::1", "server.port": 8502, "server.baseUrlPath": ""}, "http://[::1]:8502"),
    ({"server.address": "10.0.0.5", "server.port": 8501, "server.baseUrlPath": "", "server.sslCertFile": "c.pem"}, None),
])
def test_the_server_asks_itself_at_its_own_address(monkeypatch, options, url):
    monkeypatch.setattr(compress.st, "get_option", lambda name: options.get(name, ""))
    assert compress.own_url() == url


def test_priming_asks_before_each_file_whether_it_may_go_on(tmp_path, monkeypatch):
    """The start-up's compression of the frontend steps aside for a page being drawn: ``between``
    (which returns once none is) is called before each of its requests to the server."""
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "static" / "css").mkdir()
    for name in ("static/js/a.js", "static/js/b.js", "static/css/c.css"):
        (tmp_path / name).write_bytes(b"x")
    events = []

    class Answer:
        def __init__(self, address, timeout):
            events.append(address.rsplit("/", 1)[1])

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b"x"

    monkeypatch.setattr(compress, "FRONTEND", tmp_path)
    monkeypatch.setattr(compress.urllib.request, "urlopen", Answer)
    monkeypatch.setattr(compress.GzipStatic, "wait", staticmethod(lambda timeout: True))
    compress.prime("http://127.0.0.1:8501", between=lambda: events.append("between"))
    assert events == ["between", "a.js", "between", "b.js", "between", "c.css"]
