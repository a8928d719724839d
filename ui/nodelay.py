"""Nagle's algorithm off on the server's connections, as asyncio means it to be.

asyncio sets ``TCP_NODELAY`` on every TCP connection it serves (``asyncio.base_events._set_nodelay``),
but only on a socket whose protocol reads ``IPPROTO_TCP``. Streamlit 1.67 binds the listening
socket itself, with ``socket.socket(family)`` (protocol 0), and hands it to uvicorn, so each
connection it accepts keeps Nagle's algorithm on. uvicorn writes a response in two pieces, the
headers and then the body. On a kept-alive connection the body then waits for the browser to
acknowledge the headers, and the browser delays that acknowledgement (40 ms on Linux). So every
file after a connection's first came 40 ms late, and a first visit fetches ~100 of Streamlit's
scripts, six connections at a time. (A slider's answer over the WebSocket did not change
measurably: 77 against 80 ms, medians of 32 key presses in turn.)

:func:`install` (the server's lifespan, ``ui.resources.serving``, before uvicorn accepts anyone)
widens asyncio's check to every TCP stream socket. A script on a kept-alive connection then
arrives in 0.2 ms instead of 44 ms (``bench/keepalive.py``), and a first visit to a page of a
server up 15 s takes 0.78-0.98x as long (``bench/page_open.py``; AMD EPYC, Chromium on the same
two cores). ``tests/app/test_nodelay.py`` fails if a Streamlit or Python upgrade removes the
cause, and then this module can go.
"""

from __future__ import annotations

import asyncio.base_events
import logging
import socket

log = logging.getLogger(__name__)

_STREAM_FAMILIES = (socket.AF_INET, socket.AF_INET6)
ASYNCIO_SET_NODELAY = getattr(asyncio.base_events, "_set_nodelay", None)  # asyncio's own, before install()


def set_nodelay(sock: socket.socket) -> None:
    """``TCP_NODELAY`` on ``sock`` if it is a TCP stream socket, whatever protocol number it was made with."""
    if sock.family in _STREAM_FAMILIES and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def install() -> bool:
    """Have asyncio turn Nagle's algorithm off on every TCP connection it opens or accepts from now
    on, in this process. Returns False, changing nothing, where asyncio has no such step to widen
    (another Python) or the system has no ``TCP_NODELAY``."""
    if not hasattr(socket, "TCP_NODELAY") or not callable(ASYNCIO_SET_NODELAY):
        log.info("TCP_NODELAY left to asyncio: no asyncio.base_events._set_nodelay here")
        return False
    asyncio.base_events._set_nodelay = set_nodelay
    return True
