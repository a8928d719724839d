"""Page state that survives a reload: widget values mirrored in the URL's query string.

A slide can link to a prepared view (``/vae?latent=2&beta=4``); an invalid value in the link falls
back to the default with a notice. Each page prefixes its keys with its own name.
"""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

_NOTICES = "_ui_link_notices"


def _parse(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, (tuple, list)):
        return type(default)(int(x) for x in raw.split(",") if x.strip())
    return raw


def _format(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def init(key: str, param: str, default: Any, valid: Callable[[Any], bool] = lambda v: True) -> None:
    """Give widget ``key`` its first value: from the link (``?param=``), else the value it had when
    the user left the page, else ``default``. Call before creating the widget with ``key=key``."""
    if key in st.session_state:
        return
    kept = st.session_state.get(f"_kept_{key}")
    value = default if kept is None else kept
    raw = st.query_params.get(param)
    if raw is not None:
        try:
            parsed = _parse(raw, default)
            if not valid(parsed):
                raise ValueError(raw)
            value = parsed
        except (ValueError, TypeError):
            st.session_state.setdefault(_NOTICES, []).append(
                f"Ignored `{param}={raw}` in the link: not a valid value. Showing `{_format(default)}` instead.")
    st.session_state[key] = value


def sync(key: str, param: str) -> Any:
    """Mirror widget ``key``'s value into the URL and keep it for the next visit; returns it."""
    value = st.session_state[key]
    st.session_state[f"_kept_{key}"] = value
    text = _format(value)
    if st.query_params.get(param) != text:
        st.query_params[param] = text
    return value


def show_notices() -> None:
    """Show (once) what was ignored in the link."""
    for text in st.session_state.pop(_NOTICES, []):
        st.toast(text, icon="⚠️")
