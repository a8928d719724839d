"""Streamlit's frontend files, sent gzipped to the room: each compressed once, then from memory.

Streamlit 1.67 sends its static files uncompressed (``starlette_gzip_middleware._should_bypass_gzip``):
a first visit fetches ~10 MB of JavaScript (Plotly's chunk alone is 4.7 MB), because compressing
per request would cost the server's CPU on every visit. In a lecture hall every student's first
visit crosses one Wi-Fi, so :class:`GzipStatic` (ASGI middleware of ``app.py``'s ``st.App``)
compresses each content-hashed file (``Cache-Control: immutable``: the same bytes for ever) once, in
a background thread, the first time it is sent, and from then on answers a request that accepts
gzip with the compressed bytes kept in memory (~3.3x smaller; ~7 MB for the whole frontend), without
reading the file again (``bench/hall_network.py``).

The server's start-up (``ui.resources.serving``) requests each of Streamlit's frontend files once
(:func:`prime`), so that they are compressed before the room's first visits, which, following the
lecturer, all ask for a page's files in the same second.

Everything else passes through untouched: the first request for a file (it is never kept waiting
for the compression), ranges, conditional requests, HEAD, clients that do not accept gzip, and
every response that is not a complete, uncompressed ``200`` of an immutable text asset. Neither of
the libraries at hand fits: Starlette's ``GZipMiddleware`` compresses every response anew (what
Streamlit avoids), and ServeStatic/WhiteNoise serve precompressed files written beside the
originals, inside Streamlit's package here.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import logging
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable

import streamlit as st

log = logging.getLogger(__name__)

FRONTEND = Path(st.__file__).parent / "static"  # Streamlit's own files, served under /static/

MIN_BYTES = 1024
LEVEL = 9  # once per file: Plotly's 4.7 MB in ~0.17 s on one core
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/manifest+json",
                "image/svg+xml", "application/wasm")
# Compressions run one at a time, beside the event loop: zlib releases the interpreter lock, and a
# burst of first visits never takes both cores.
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="apcore-gzip")


def accepts_gzip(value: str) -> bool:
    """Whether an ``Accept-Encoding`` header value allows gzip (``gzip;q=0`` forbids it)."""
    for part in value.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _q_is_zero(q[2:]))
    return False


def _q_is_zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    """The value of ASGI header ``name`` (lower case) in ``headers``; "" if it is not there."""
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


def _immutable_text(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a 200 response with these headers is a file worth keeping compressed."""
    length = header(headers, b"content-length")
    return ("immutable" in header(headers, b"cache-control")
            and not header(headers, b"content-encoding")
            and header(headers, b"content-type").lower().startswith(COMPRESSIBLE)
            and length.isdigit() and int(length) >= MIN_BYTES)


def gzipped_headers(headers: list[tuple[bytes, bytes]], size: int) -> list[tuple[bytes, bytes]]:
    """The response headers of the gzipped form: its length and coding; the ETag made weak (the
    same file in another encoding: RFC 9110 8.8.1), so a revalidation still matches the file's."""
    out = []
    for key, value in headers:
        name = key.lower()
        if name in (b"content-length", b"content-encoding", b"vary"):
            continue
        if name == b"etag" and not value.startswith(b"W/"):
            value = b"W/" + value
        out.append((key, value))
    return out + [(b"content-encoding", b"gzip"), (b"content-length", str(size).encode()),
                  (b"vary", b"Accept-Encoding")]


class GzipStatic:
    """ASGI middleware: immutable text assets sent gzipped from memory once compressed (above)."""

    def __init__(self, app):
        self.app = app
        self.ready: dict[str, tuple[list[tuple[bytes, bytes]], bytes]] = {}  # path -> (headers, gzip body)
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        path = scope["path"]  # not the query string: the same file, and no way to grow the cache
        wants_gzip = accepts_gzip(header(headers, b"accept-encoding"))
        plain = not any(header(headers, h) for h in (b"range", b"if-none-match", b"if-modified-since"))
        if wants_gzip and plain and path in self.ready:
            response_headers, body = self.ready[path]
            await send({"type": "http.response.start", "status": 200, "headers": response_headers})
            await send({"type": "http.response.body", "body": body})
            return
        if not plain or path in self.ready or path in self._pending:  # nothing (more) to keep
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._teeing(path, send))

    def _teeing(self, path: str, send):
        """``send`` that also keeps a copy of an immutable text asset's bytes as they go out, and
        hands the complete file to the compressor (never delaying the response)."""
        start: dict = {}
        chunks: list[bytes] = []

        async def tee(message):
            if message["type"] == "http.response.start":
                if message["status"] == 200 and _immutable_text(message.get("headers", [])):
                    start.update(message)
                    if not header(message["headers"], b"vary"):  # caches: the answer depends on it
                        message = {**message, "headers": [*message["headers"], (b"vary", b"Accept-Encoding")]}
            elif message["type"] == "http.response.body" and start:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._compress_later(path, start["headers"], b"".join(chunks))
            await send(message)

        return tee

    def _compress_later(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if len(body) != int(header(headers, b"content-length")):
            return  # not the whole file (a client gone mid-way): not kept
        with self._lock:
            if path in self.ready or path in self._pending:
                return
            self._pending.add(path)
        _pool.submit(self._compress, path, headers, body)

    def _compress(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        try:
            packed = gzip.compress(body, compresslevel=LEVEL, mtime=0)
            self.ready[path] = (gzipped_headers(headers, len(packed)), packed)
        except Exception:  # noqa: BLE001 - the file is still sent as it is
            log.exception("could not compress %s", path)
        finally:
            with self._lock:
                self._pending.discard(path)

    @staticmethod
    def wait(timeout: float = 10.0) -> None:
        """Until every compression asked for so far has finished."""
        _pool.submit(lambda: None).result(timeout)


def own_url() -> str | None:
    """This server's address for its own requests (None over HTTPS: no certificate to check it by)."""
    if st.get_option("server.sslCertFile"):
        return None
    host = st.get_option("server.address") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = st.get_option("server.baseUrlPath").strip("/")
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{st.get_option('server.port')}" + (f"/{base}" if base else "")


def prime(url: str | None, between: Callable[[], None] | None = None) -> None:
    """Request each of Streamlit's frontend scripts and style sheets from the server at ``url``
    once, one at a time, so that :class:`GzipStatic` compresses them all now (~320 files, 23 MB ->
    7 MB; ~0.9 s of one core), not when the room asks. ``between``: called before each request
    (the start-up's: returns once no page is being drawn)."""
    if url is None:
        log.info("frontend not precompressed: the server's own address is not known over HTTPS")
        return
    start, sent = time.perf_counter(), 0
    files = sorted(FRONTEND.glob("static/js/*.js")) + sorted(FRONTEND.glob("static/css/*.css"))
    try:
        for file in files:
            if between is not None:
                between()
            address = f"{url}/{file.relative_to(FRONTEND).as_posix()}"
            with urllib.request.urlopen(address, timeout=30) as response:
                sent += len(response.read())
        GzipStatic.wait(60)
    except Exception:  # noqa: BLE001 - the room gets each file compressed after its first sending instead
        log.exception("precompressing the frontend failed")
    else:
        log.info("compressed Streamlit's frontend (%d files, %.1f MB) in %.1f s", len(files), sent / 1e6,
                 time.perf_counter() - start)
