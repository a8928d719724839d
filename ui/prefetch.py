"""The frontend code of the pages' charts and tables, loaded while the first page is read.

Streamlit's frontend loads the code of each kind of element the first time a page draws one
(``React.lazy``): Plotly's chunk alone is 4.7 MB of JavaScript, which the first page with a chart
paid for when the lecturer switched to it (the VAE page: 1.4-1.5 s from the click on the 2-core
machine, 0.25 s the second time). :class:`PrefetchChunks` (ASGI middleware of ``app.py``'s
``st.App``) adds one inline module script to the app's HTML shell: 3 s after the page has loaded,
once it has fetched nothing for a second (a student's page over a slow link is not competed with)
and the browser is idle, it imports the chunks of the elements the pages draw (:data:`CHUNKS`).
Streamlit's own import of the same address later finds the module ready (a browser keeps one
module per URL), so the switch costs what a second visit does (``bench/page_open.py``, "switched
to in the tab").

Not earlier than that on a page without charts: imported with the page itself (a first visit by
its address), the chunks' evaluation only competes with the page's own drawing in a busy browser
(the autoencoder page, which draws no chart, 1.49 -> 2.2 s). A page whose first view draws Plotly
charts (``chart_pages``, by address) needs the chunk anyway: its shell imports it at once, while
Streamlit's own code starts and waits for the server, instead of when the script's first chart
arrives (0.9-1.0x on the chart pages' first visits, ``bench/results/page_open.md``). Its
evaluation then delays the frontend's second server ping, and so the WebSocket; importing it only
once the script runs opened the WebSocket ~0.6 s sooner, yet the pages were no sooner (0.97-1.09x,
and 1.00-1.05x with the chunk fetched ahead): the tab's main thread is busy either way. Nor fetched
ahead without evaluating it (``<link rel="modulepreload">`` in the shell): Plotly's chunk was in
the browser 0.6-0.7 s after the navigation instead of 1.3-1.9 s, and the first visits stayed the
same (VAE 2.51 -> 2.48 s, anomaly 2.70 -> 2.65, denoise 2.37 -> 2.34, clustering 2.97 -> 3.00;
medians of 4, servers in turn; AMD EPYC). What is left after the script's last message (0.2-0.5 s
after the WebSocket opens) is the tab's main thread evaluating Plotly and drawing.

Only Streamlit's own ``index.html`` is changed (compared byte for byte, gzipped or not), nothing
else the server sends: components' pages, files, every other response pass through untouched.
"""

from __future__ import annotations

import gzip
import json
import logging

from ui.compress import FRONTEND, header

log = logging.getLogger(__name__)

SHELL = FRONTEND / "index.html"
# The lazily loaded chunks of the elements the pages draw, by the names Streamlit 1.67 gives their
# files (static/js/<name>.<hash>.js); the first switch to a page loads those it has not loaded yet.
CHARTS = "PlotlyChart"  # the chunk of Plotly's charts: 4.7 MB, ~0.6 s of a first visit's main thread
CHUNKS = (CHARTS, "ArrowVegaLiteChart",  # Vega-Lite: the clustering page's charts (0.8 MB with its embed chunk)
          "DataFrame", "Table", "Metric", "ImageList", "Html", "Slider", "Selectbox", "ButtonGroup", "Radio",
          "Multiselect", "Checkbox", "NumberInput", "DownloadButton",
          "BidiComponent", "rehype-katex")  # the drawing / clicking components' frame; formulas in markdown
AFTER_LOAD_MS = 3000  # the earliest start, after the page's load event
QUIET_MS = 1000  # ... and once the page has fetched nothing (scripts, images) for this long
MAX_SHELL_BYTES = 1 << 20  # an HTML response longer than this is not Streamlit's shell: sent as it comes


def chunk_files(names: tuple[str, ...] = CHUNKS) -> list[str]:
    """Each chunk's path under the frontend (``static/js/PlotlyChart.D9Z0_fxz.js``); a name with
    no file, or with more than one, is left out (another Streamlit)."""
    found = []
    for name in names:
        files = sorted(FRONTEND.glob(f"static/js/{name}.*.js"))
        if len(files) == 1:
            found.append(files[0].relative_to(FRONTEND).as_posix())
        else:
            log.info("frontend chunk %s not prefetched: %d files match", name, len(files))
    return found


def script(files: list[str], chart_pages: tuple[str, ...] = ()) -> bytes:
    """The inline module script that imports ``files`` once the page has loaded, fetched nothing
    for a while and the browser is idle (addresses relative to the page, as Streamlit's own; a
    failed import is only skipped); on a page whose address ends in one of ``chart_pages``, Plotly's
    chunk (if among ``files``) at once."""
    urls = json.dumps([f"./{f}" for f in files])
    plotly = next((i for i, f in enumerate(files) if f.split("/")[-1].startswith(f"{CHARTS}.")), None)
    at_once = "" if plotly is None or not chart_pages else f"""
if ({json.dumps(list(chart_pages))}.includes(location.pathname.split("/").filter(Boolean).pop()))
  import(urls[{plotly}]).catch(() => {{}});"""
    return f"""<script type="module">
const urls = {urls};{at_once}
addEventListener("load", () => {{
  let last = performance.now();
  new PerformanceObserver(() => {{ last = performance.now(); }}).observe({{type: "resource"}});
  const idle = window.requestIdleCallback || setTimeout;
  const start = () => performance.now() - last < {QUIET_MS}
    ? setTimeout(start, 250) : idle(() => {{ for (const u of urls) import(u).catch(() => {{}}); }});
  setTimeout(start, {AFTER_LOAD_MS});
}});
</script>""".encode()


def with_prefetch(shell: bytes, files: list[str], chart_pages: tuple[str, ...] = ()) -> bytes:
    """``shell`` with the prefetching script at the end of its head (unchanged if no files or no head)."""
    if not files or b"</head>" not in shell:
        return shell
    return shell.replace(b"</head>", script(files, chart_pages) + b"</head>", 1)


class PrefetchChunks:
    """ASGI middleware: Streamlit's HTML shell sent with the prefetching script (above);
    ``chart_pages``: the addresses (url paths) of the pages whose first view draws Plotly charts."""

    def __init__(self, app, shell: bytes | None = None, files: list[str] | None = None,
                 chart_pages: tuple[str, ...] = ()):
        self.app = app
        if shell is None:  # no frontend installed (a bare Streamlit): nothing to change
            shell = SHELL.read_bytes() if SHELL.exists() else b""
        self.shell = shell
        self.page = with_prefetch(self.shell, chunk_files() if files is None else files, chart_pages)
        self.page_gz = gzip.compress(self.page, mtime=0)
        self.active = self.page != self.shell

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or not self.active:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._replacing(send))

    def _replacing(self, send):
        """``send`` that holds back a complete ``200`` HTML response and, if it is the shell, sends
        the shell with the script instead (its length; no validators: it is not the file's bytes)."""
        start: dict = {}
        chunks: list[bytes] = []

        async def replace(message):
            if message["type"] == "http.response.start":
                if message["status"] == 200 and header(message.get("headers", []), b"content-type").startswith("text/html"):
                    start.update(message)
                    return
            elif message["type"] == "http.response.body" and start:
                chunks.append(message.get("body", b""))
                held = sum(map(len, chunks))
                if message.get("more_body", False) and held <= MAX_SHELL_BYTES:
                    return
                body = b"".join(chunks)
                headers = start["headers"]
                complete = not message.get("more_body", False)
                page = self._page_for(body, header(headers, b"content-encoding")) if complete else None
                if page is not None:
                    body = page
                    headers = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"etag", b"last-modified")]
                    headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                start.clear()  # anything after this passes through
                message = {**message, "body": body}
            elif start:  # a response that goes on otherwise (a file sent by its path): as it is
                await send(dict(start))
                start.clear()
            await send(message)

        return replace

    def _page_for(self, body: bytes, coding: str) -> bytes | None:
        """The shell with the script in the coding of ``body`` if ``body`` is the shell, else None."""
        coding = coding.strip().lower()
        try:
            plain = gzip.decompress(body) if coding == "gzip" else body if not coding else None
        except (OSError, EOFError):
            return None
        if plain != self.shell:
            return None
        return self.page_gz if coding == "gzip" else self.page
