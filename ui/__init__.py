"""Streamlit pieces shared by the pages: state, sidebar, training panel, images, figures."""
