"""Streamlit pieces shared by the pages: state, sidebar, training panel, images, figures."""

import streamlit as st


def require_app() -> None:
    """Make a deep link on a freshly started server run through ``app.py``.

    Streamlit keeps a legacy mode for apps with a ``pages/`` folder: until ``st.navigation`` has
    been called once in the process, a first request for ``/vae`` runs ``pages/vae.py`` alone,
    without the entry file's navigation and sidebar. Leave that mode and rerun through ``app.py``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
