"""Page settings in the URL's query string, so that a slide can link to a prepared view
(``/vae?latent=2&beta=4``), and kept for the session when the user leaves a page.

Streamlit does this where it can: :func:`bound` gives a widget ``bind="query-params"`` (its key is
the parameter; an invalid value in a link is dropped) and ``persist_state="session"``; tabs take
``bind`` too and say which one is open. :func:`linked` is this module's own mirror, one call per
widget, for what binding cannot do without breaking the links already on slides:

- a parameter several pages use (``latent``, ``arch``, and ``k``, also the transposed-convolution
  kernel): a bound widget's key *is* the parameter, and one session key serves every page, so one
  page's latent size would become another's (their options even differ);
- options shown by a label (radio, select box, segmented control, multiselect, select slider): a
  bound widget writes the label to the URL (``rep=AE+latent``, ``dataset=MNIST+digits``, one
  ``normal=`` per class) and reads back only that exact text, where links say ``rep=ae``,
  ``dataset=mnist``, ``normal=3,8``, ``beta=4.0``;
- toggles: a bound one reads only true/false, links say ``umap=0``;
- values that are not widgets (the transposed-convolution grids ``x``, ``k`` and their ``seed``).

Either way a link's invalid value is ignored with a notice (:func:`show_notices`). Keys of
:func:`linked` widgets carry their page's name as prefix, so values kept per page stay per page.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import streamlit as st

_NOTICES = "_ui_link_notices"
_SEEDED = "_ui_link_seeded"  # bound widget key -> the link's text it was seeded from, until checked


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


def _note(param: str, raw: str, shown: Any) -> None:
    st.session_state.setdefault(_NOTICES, []).append(
        f"Ignored `{param}={raw}` in the link: not a valid value. Showing `{_format(shown)}` instead.")


def init(key: str, param: str, default: Any, valid: Collection | Callable[[Any], bool] = ()) -> None:
    """Give ``st.session_state[key]`` its first value in this session: from the link (``?param=``)
    when ``valid`` accepts it (a collection of the allowed values, or a predicate; empty: any value
    of ``default``'s type), else ``default``."""
    if key in st.session_state:
        return
    value = default
    raw = st.query_params.get(param)
    if raw is not None:
        try:
            parsed = _parse(raw, default)
            if not (valid(parsed) if callable(valid) else not valid or parsed in valid):
                raise ValueError(raw)
            value = parsed
        except (ValueError, TypeError):
            _note(param, raw, default)
    st.session_state[key] = value


def sync(key: str, param: str) -> Any:
    """Write ``st.session_state[key]`` into the URL as ``?param=`` (when it differs); returns it."""
    value = st.session_state[key]
    text = _format(value)
    if st.query_params.get(param) != text:
        st.query_params[param] = text
    return value


def linked(key: str, param: str, default: Any, valid: Collection | Callable[[Any], bool] = ()) -> dict:
    """Keyword arguments for a widget whose value this module keeps in the URL as ``?param=``:
    ``st.radio(..., **state.linked("cluster_rep", "rep", "ae", REPRESENTATIONS))``. Its first value
    comes from :func:`init`; the value the widget holds as the page runs goes to the URL."""
    init(key, param, default, valid)
    sync(key, param)
    return {"key": key, "persist_state": "session"}


def bound(key: str, persist: bool = True) -> dict:
    """Keyword arguments binding a widget (or tabs: ``persist=False``) to the query parameter
    ``key``: ``st.slider(..., **state.bound("pca"))``. Streamlit drops an invalid value in the link
    silently; :func:`show_notices` says so."""
    if key not in st.session_state and key in st.query_params:
        st.session_state.setdefault(_SEEDED, {})[key] = st.query_params[key]
    return {"key": key, "bind": "query-params", **({"persist_state": "session"} if persist else {})}


def show_notices() -> None:
    """Show (once) what was ignored in the link. Called after the page ran, when Streamlit has
    seeded each bound widget: a link value it dropped (gone from the URL, and not just the default
    written differently) was invalid."""
    seeded = st.session_state.get(_SEEDED, {})
    for key in [k for k in seeded if k in st.session_state]:
        raw, value = seeded.pop(key), st.session_state[key]
        try:
            same = _parse(raw, value) == value
        except (ValueError, TypeError):
            same = False
        if key not in st.query_params and not same:
            _note(key, raw, value)
    for text in st.session_state.pop(_NOTICES, []):
        st.toast(text, icon="⚠️")
