"""Entry point: ``streamlit run app.py``. Navigation over the lecture's pages and the shared sidebar.

The file has two roles. ``streamlit run`` first imports it to find its server (``app``, an
``st.App``: found by name), whose start-up loads what the pages need before anyone connects
(``ui.resources.serving``) and whose middleware sends Streamlit's frontend gzipped to the room
(``ui.compress``) and has the browser load the charts' code while the first page is read, or at
once on a page that draws charts (``ui.prefetch``, :data:`CHART_PAGES`); then every page view runs
it as the script (``__name__`` is ``"__main__"``): :func:`main`.
"""

import logging

import streamlit as st
from starlette.middleware import Middleware

from ui import compress, hall, prefetch, resources, sidebar, state

# The pages whose first view draws Plotly charts, by url path: their address fetches Plotly's code at once.
# (The clustering page draws its two charts with Vega-Lite, whose code is a sixth of Plotly's: ui.clustering.)
CHART_PAGES = ("vae", "anomaly", "denoise")

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    # An emoji: the tab's icon drawn in the browser. A :material/...: icon is fetched from fonts.gstatic.com
    # by every browser in the room (and fails on a hall's offline network).
    st.set_page_config(page_title="Autoencoders & VAEs — lecture dashboard", page_icon="🧠", layout="wide")

    pages = [
        st.Page("pages/home.py", title="Overview", icon=":material/home:", default=True),
        st.Page("pages/autoencoder.py", title="Autoencoder", icon=":material/compress:", url_path="autoencoder"),
        st.Page("pages/transposed_conv.py", title="Transposed convolution", icon=":material/grid_on:", url_path="transposed_conv"),
        st.Page("pages/vae.py", title="Variational autoencoder", icon=":material/casino:", url_path="vae"),
        st.Page("pages/anomaly.py", title="Anomaly detection", icon=":material/warning:", url_path="anomaly"),
        st.Page("pages/denoise.py", title="Denoising", icon=":material/auto_fix_high:", url_path="denoise"),
        st.Page("pages/clustering.py", title="Clustering", icon=":material/hub:", url_path="clustering"),
    ]

    # url paths are the file names: where the server's start-up has not turned off Streamlit's legacy
    # pages/ mode (AppTest), a deep link is resolved by file name before app.py has run once (ui.require_app).
    hall.settle_role()  # first: a ?presenter= link leaves the address bar in this very run
    page = st.navigation(pages)
    hall.follow({p.url_path: p for p in pages}, page.url_path)  # a follower takes the lecturer's view first
    device_slot = sidebar.render()
    with st.sidebar:
        hall.sidebar_controls(page.url_path)
    hall.follow_bar()
    hall.publish(page.url_path)  # at once: a long run (a first UMAP) must not hold the room back
    try:
        page.run()
    finally:  # again with the widgets this run created; pages may st.stop() halfway
        hall.publish(page.url_path)
        sidebar.show_device(device_slot)
    state.show_notices()
    resources.preload()  # once per server, after the first page is drawn: the others open without loading


if __name__ == "__main__":  # a page view
    with resources.Activity.drawing():
        main()
else:  # imported by `streamlit run` for its server: no page is being drawn
    app = st.App(__file__, lifespan=resources.serving,
                 middleware=[Middleware(resources.Activity), Middleware(compress.GzipStatic),
                             Middleware(prefetch.PrefetchChunks, chart_pages=CHART_PAGES)])
