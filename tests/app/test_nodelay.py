"""``ui.nodelay``: Nagle's algorithm off on the connections of a server whose listening socket is
bound as Streamlit 1.67 binds its own (``socket.socket(family)``: protocol 0)."""

import asyncio
import asyncio.base_events
import concurrent.futures
import socket

import pytest
from streamlit.web.server.starlette.starlette_server import _bind_socket

from ui import nodelay, resources


@pytest.fixture
def asyncios_own(monkeypatch):
    """asyncio's own ``_set_nodelay`` for the test, whatever an earlier test installed; restored after."""
    monkeypatch.setattr(asyncio.base_events, "_set_nodelay", nodelay.ASYNCIO_SET_NODELAY)


def accepted_nodelay() -> int:
    """``TCP_NODELAY`` of a connection that an asyncio server accepts on a listening socket bound by
    Streamlit's own function, as uvicorn serves it (``loop.create_server(sock=...)``)."""
    async def serve_one() -> int:
        listener = _bind_socket("127.0.0.1", 0, 8)
        seen = asyncio.get_running_loop().create_future()

        async def handle(reader, writer):
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listener)
        async with server:
            _, client = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
            value = await asyncio.wait_for(seen, 10)
            client.close()
        return value

    with concurrent.futures.ThreadPoolExecutor(1) as thread:   # its own event loop (Playwright may run one here)
        return thread.submit(asyncio.run, serve_one()).result()


def test_streamlits_listening_socket_leaves_nagle_on_with_asyncios_own_check(asyncios_own):
    """Why ``ui.nodelay`` exists: protocol 0 fails asyncio's check. Failing here after a Streamlit or
    Python upgrade means the cause is gone and ``ui.nodelay`` can go too."""
    assert _bind_socket("127.0.0.1", 0, 1).proto == 0
    assert accepted_nodelay() == 0


def test_install_turns_nagle_off_on_those_connections(asyncios_own):
    assert nodelay.install()
    assert asyncio.base_events._set_nodelay is nodelay.set_nodelay
    assert accepted_nodelay() != 0


def test_set_nodelay_sets_tcp_streams_of_protocol_0_and_leaves_other_sockets_alone():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket(socket.AF_UNIX) as unix:
        nodelay.set_nodelay(udp)    # no TCP option on them, and no error either
        nodelay.set_nodelay(unix)
    with socket.socket(socket.AF_INET) as tcp:  # protocol 0, as Streamlit's: a TCP stream all the same
        nodelay.set_nodelay(tcp)
        assert tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_the_servers_lifespan_installs_it_before_anyone_connects(asyncios_own, monkeypatch):
    monkeypatch.setattr(resources, "_start_up", lambda: None)   # not the start-up's imports and loading

    async def lifespan() -> bool:
        async with resources.serving(None):
            return asyncio.base_events._set_nodelay is nodelay.set_nodelay

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        assert thread.submit(asyncio.run, lifespan()).result()
