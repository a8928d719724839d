"""One request through an ASGI app, as the server's middleware tests drive them."""

import asyncio
import concurrent.futures


def get(app, path: str, method: str = "GET", **headers) -> tuple[int, dict[str, str], bytes]:
    """One request through the ASGI app: (status, headers, body)."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "scheme": "http", "server": ("127.0.0.1", 80), "http_version": "1.1",
             "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]}
    sent, requested = [], []

    async def receive():
        if requested:                  # the client stays until the response ends
            await asyncio.Event().wait()
        requested.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    with concurrent.futures.ThreadPoolExecutor(1) as thread:   # its own event loop (Playwright may run one here)
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    start = sent[0]
    head = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], head, b"".join(m.get("body", b"") for m in sent[1:])
