"""``ui.prefetch.PrefetchChunks`` in front of Streamlit's own static files (and its gzip), as ASGI."""

import asyncio
import gzip
import re

import pytest
from starlette.middleware.gzip import GZipMiddleware
from streamlit.web.server.starlette.starlette_static_routes import create_streamlit_static_handler

from tests.app.asgi import get
from ui import prefetch
from ui.compress import FRONTEND
from ui.prefetch import PrefetchChunks


def streamlit_files():
    """Streamlit's handler of its own frontend: the shell for a page's address, the files by theirs."""
    return create_streamlit_static_handler(str(FRONTEND), base_url=None)


def imported(page: bytes) -> list[str]:
    """The addresses the page's prefetching script imports."""
    scripts = re.findall(rb'<script type="module">(.*?)</script>', page, re.S)
    return [u for s in scripts for u in re.findall(r'"(\./static/js/[^"]+\.js)"', s.decode())]


def test_every_chunk_named_is_one_file_of_this_streamlit():
    """An upgrade of Streamlit that renames its chunks fails here, not silently in the room."""
    files = prefetch.chunk_files()
    assert len(files) == len(prefetch.CHUNKS)
    assert [f.split("/")[-1].split(".")[0] for f in files] == list(prefetch.CHUNKS)


@pytest.mark.parametrize("path", ["/", "/vae", "/clustering"])
def test_the_shell_of_every_page_imports_the_chunks_and_each_is_served(path):
    app = PrefetchChunks(streamlit_files())
    status, head, body = get(app, path)
    assert status == 200 and head["content-type"].startswith("text/html")
    assert int(head["content-length"]) == len(body) and "etag" not in head and "last-modified" not in head
    assert body.replace(prefetch.script(prefetch.chunk_files()), b"") == prefetch.SHELL.read_bytes()
    urls = imported(body)
    assert sorted(u.split("/")[-1].split(".")[0] for u in urls) == sorted(prefetch.CHUNKS)
    for url in urls:                                     # relative to the page: each one is Streamlit's file
        status, head, js = get(app, url[1:])
        assert status == 200 and head["content-type"].startswith(("text/javascript", "application/javascript"))
        assert js == (FRONTEND / url[2:]).read_bytes()


def test_the_gzipped_shell_is_replaced_gzipped():
    """Streamlit gzips its HTML (its own middleware, outside the static files): the shell is recognised
    through the coding and sent back in it."""
    app = PrefetchChunks(GZipMiddleware(streamlit_files(), minimum_size=500))
    status, head, body = get(app, "/vae", accept_encoding="gzip")
    assert status == 200 and head["content-encoding"] == "gzip" and int(head["content-length"]) == len(body)
    page = gzip.decompress(body)
    assert len(imported(page)) == len(prefetch.CHUNKS) and page.startswith(prefetch.SHELL.read_bytes()[:200])


def test_everything_else_passes_through_untouched(tmp_path):
    """Other HTML (a component's page), scripts, a HEAD, and a server where no chunk was found."""
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "static" / "js" / "app.0123.js").write_bytes(b"console.log('x');\n" * 100)
    (tmp_path / "index.html").write_bytes(b"<html><head></head><body>the shell</body></html>")
    (tmp_path / "component.html").write_bytes(b"<html><head></head><body>a component</body></html>")
    files = create_streamlit_static_handler(str(tmp_path), base_url=None)
    app = PrefetchChunks(files, shell=(tmp_path / "index.html").read_bytes(), files=["static/js/app.0123.js"])
    for path in ("/component.html", "/static/js/app.0123.js"):
        assert get(app, path) == get(files, path), path
    assert get(app, "/vae", method="HEAD") == get(files, "/vae", method="HEAD")
    assert imported(get(app, "/vae")[2]) == ["./static/js/app.0123.js"]
    nothing_found = PrefetchChunks(files, shell=(tmp_path / "index.html").read_bytes(), files=[])
    assert get(nothing_found, "/vae") == get(files, "/vae")


def test_a_long_html_response_is_sent_as_it_comes(tmp_path, monkeypatch):
    """Held back only up to MAX_SHELL_BYTES: a big HTML file streams through, every byte of it."""
    monkeypatch.setattr(prefetch, "MAX_SHELL_BYTES", 1000)
    big = b"<html><head></head><body>" + b"x" * 200_000 + b"</body></html>"
    (tmp_path / "big.html").write_bytes(big)
    (tmp_path / "index.html").write_bytes(b"<html><head></head></html>")
    files = create_streamlit_static_handler(str(tmp_path), base_url=None)
    app = PrefetchChunks(files, shell=(tmp_path / "index.html").read_bytes(), files=["static/js/a.js"])
    status, head, body = get(app, "/big.html")
    assert status == 200 and body == big and int(head["content-length"]) == len(big)


def test_a_response_sent_otherwise_than_in_body_messages_passes_through():
    """An ASGI server with the pathsend extension gets a file response as start + its path: the held
    start goes out first, unchanged, then the rest."""
    messages = [{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]},
                {"type": "http.response.pathsend", "path": str(prefetch.SHELL)}]

    async def app(scope, receive, send):
        for m in messages:
            await send(m)

    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(PrefetchChunks(app)({"type": "http", "method": "GET", "path": "/vae", "headers": []}, None, send))
    assert sent == messages


def test_without_a_frontend_the_server_starts_and_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(prefetch, "SHELL", tmp_path / "no-index.html")
    (tmp_path / "index.html").write_bytes(b"<html><head></head></html>")
    files = create_streamlit_static_handler(str(tmp_path), base_url=None)
    assert get(PrefetchChunks(files), "/vae") == get(files, "/vae")
