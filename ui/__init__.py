"""Streamlit pieces shared by the pages: state, sidebar, training panel, images, figures."""

import logging

import streamlit as st

log = logging.getLogger(__name__)


def leave_pages_folder_mode() -> bool:
    """Turn off Streamlit's legacy mode for apps with a ``pages/`` folder; True if it was on.

    Until ``st.navigation`` has been called once in the process, Streamlit runs a first request
    for ``/vae`` as ``pages/vae.py`` alone, without the entry file's navigation and sidebar. The
    server's start-up (``ui.resources.serving``) calls this before anyone connects, so that a deep
    link runs ``app.py`` at once."""
    from streamlit.runtime.pages_manager import PagesManager

    was_on = bool(PagesManager.uses_pages_directory)
    PagesManager.uses_pages_directory = False
    return was_on


def require_app() -> None:
    """Make a deep link run through ``app.py`` where the server's start-up has not left the legacy
    mode (:func:`leave_pages_folder_mode`; e.g. Streamlit's ``AppTest``): leave it and rerun."""
    if leave_pages_folder_mode():
        log.info("a link ran its page alone (Streamlit's pages/ mode): running it again through app.py")
        st.rerun()
