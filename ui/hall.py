"""Lecture-hall mode: the lecturer presents, the room follows and cannot take over.

Roles. With no presenter key configured (a lecturer alone on a laptop) every session presents,
exactly as without this module. With ``APCORE_PRESENTER_KEY`` in the environment, or
``presenter_key`` in ``.streamlit/secrets.toml``, a session presents once it has shown the key: in
the sidebar's password field, or in a link ``?presenter=KEY`` (removed from the address bar in the
same run, never logged). The browser then keeps a signed, expiring token in a cookie, so a reload
keeps the role and the key never reappears in a URL. Every other session is audience: it sees
every trained model and explores freely, but starts no training and no other costly computation.

Two presenter devices (a laptop on the projector and a tablet in hand) are both presenters; the
room follows whichever moved last.

Follow. A presenting session publishes its page and view state (the values of the page's widgets)
to one :class:`Hall` shared by every session; an audience session that follows applies them at the
start of its next run. Followers poll a version number, a cheap check, once a second, and the
lecturer's trainings (a job queued, started or ended: the live panel, then the new model).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import inspect
import io
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from .resources import registry

log = logging.getLogger(__name__)

ROLE = "_hall_role"                # "presenter" | "audience"
SESSION = "_hall_session"          # a random id for this browser tab
TOKEN_COOKIE = "apcore_presenter"
TOKEN_DAYS = 1                     # a token outlives a lecture, not a term
PRESENTER, AUDIENCE = "presenter", "audience"
TRAIN_REFUSED = "Only the lecturer trains models."
COMPUTE_REFUSED = "The lecturer has not computed this view yet; it appears here once they do."


def presenter_key() -> str | None:
    """The configured key, or None: then every session presents."""
    key = os.environ.get("APCORE_PRESENTER_KEY")
    if key:
        return key
    try:
        key = st.secrets.get("presenter_key")
    except Exception:  # no secrets file, or an unreadable one: no key
        return None
    return str(key) if key else None


def key_matches(given: str, key: str) -> bool:
    return hmac.compare_digest(given.encode(), key.encode())


def make_token(key: str, now: float | None = None, days: float = TOKEN_DAYS) -> str:
    """``<expiry>.<HMAC-SHA256 of it under the key>``: proves the key was shown, without it."""
    expiry = int((now or time.time()) + days * 86400)
    return f"{expiry}.{_sign(key, expiry)}"


def token_valid(token: str, key: str, now: float | None = None) -> bool:
    expiry, _, sig = token.partition(".")
    if not expiry.isdigit() or int(expiry) < (now or time.time()):
        return False
    return hmac.compare_digest(sig.encode(), _sign(key, int(expiry)).encode())


def _sign(key: str, expiry: int) -> str:
    return hmac.new(key.encode(), f"apcore-presenter:{expiry}".encode(), hashlib.sha256).hexdigest()


@dataclass
class View:
    """What the presenter shows: a page (its url path) and the page's widget values."""

    page: str
    state: dict
    version: int = 0
    at: float = field(default_factory=time.time)


class Hall:
    """Shared by every session of one server (``st.cache_resource``); thread-safe.

    Holds the presenter's published view and who has been seen lately (for the badge)."""

    SEEN_S = 5.0

    def __init__(self):
        self._lock = threading.Lock()
        self.view: View | None = None
        self.computed: set[tuple] = set()  # costly results a presenter's session has produced
        self._seen: dict[str, tuple[float, str, bool]] = {}  # session -> (when, role, following)

    def publish(self, page: str, state: dict) -> View:
        """Record the presenter's view; the version moves only when something changed."""
        with self._lock:
            if self.view is None or (self.view.page, self.view.state) != (page, state):
                version = self.view.version + 1 if self.view else 1
                self.view = View(page, dict(state), version)
            return self.view

    def seen(self, session: str, role: str, following: bool) -> None:
        now = time.time()
        with self._lock:
            self._seen[session] = (now, role, following)
            for s in [s for s, (t, _, _) in self._seen.items() if now - t > 10 * self.SEEN_S]:
                del self._seen[s]

    def counts(self) -> tuple[int, int]:
        """(presenters, followers) seen within the last ``SEEN_S`` seconds."""
        now = time.time()
        with self._lock:
            recent = [(role, f) for t, role, f in self._seen.values() if now - t <= self.SEEN_S]
        return sum(r == PRESENTER for r, _ in recent), sum(r == AUDIENCE and f for r, f in recent)

    def presenter_connected(self) -> bool:
        return self.counts()[0] > 0


@st.cache_resource(show_spinner=False)
def hall() -> Hall:
    return Hall()


def session_id() -> str:
    return st.session_state.setdefault(SESSION, uuid.uuid4().hex)


def role() -> str:
    """This session's role, settled once per run by :func:`settle_role`."""
    return st.session_state.get(ROLE, PRESENTER if presenter_key() is None else AUDIENCE)


def is_presenter() -> bool:
    return role() == PRESENTER


def settle_role() -> None:
    """Decide this session's role at the start of a run (``app.py``): no key -> presenter; a
    ``?presenter=`` link (removed from the address bar at once), a valid token cookie or an
    earlier sign-in -> presenter; otherwise audience."""
    key = presenter_key()
    given = st.query_params.get("presenter")
    if given is not None:
        del st.query_params["presenter"]
    if key is None:
        st.session_state[ROLE] = PRESENTER
        return
    if st.session_state.get(ROLE) == PRESENTER and token_valid(st.session_state.get("_hall_token", ""), key):
        return
    if given is not None and key_matches(given, key):
        _become_presenter(key)
        return
    cookie = st.context.cookies.get(TOKEN_COOKIE) if st.context.cookies else None
    if cookie and token_valid(cookie, key):
        st.session_state[ROLE] = PRESENTER
        st.session_state["_hall_token"] = cookie
        return
    if given is not None:
        st.session_state["_hall_notice"] = "That presenter link is not valid (wrong or changed key)."
    st.session_state[ROLE] = AUDIENCE


def _become_presenter(key: str) -> None:
    st.session_state[ROLE] = PRESENTER
    st.session_state["_hall_token"] = make_token(key)
    st.session_state["_hall_set_cookie"] = True


# -- costly computations -------------------------------------------------------------------------

def costly(when=None):
    """Decorate a cached computation that takes seconds (t-SNE, UMAP, a PSNR sweep): a presenter
    computes it; the audience gets it only once a presenter has (then it is a cache hit), else a
    notice in its place and the run stops there. ``when(arguments)`` limits the rule to the costly calls (e.g. t-SNE, not
    PCA). Arguments starting with ``_`` are left out of the key, as ``st.cache_resource`` does.
    ``fn.ahead(...)`` computes it outside any session (the server's preload), as a presenter would."""

    def decorate(fn):
        signature = inspect.signature(fn)

        def key(arguments) -> tuple:
            return fn.__qualname__, tuple((k, v) for k, v in arguments.items() if not k.startswith("_"))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs).arguments
            if when is not None and not when(arguments):
                return fn(*args, **kwargs)
            if is_presenter():
                return ahead(*args, **kwargs)
            if key(arguments) in hall().computed:
                return fn(*args, **kwargs)
            st.info(COMPUTE_REFUSED, icon=":material/hourglass_empty:")
            st.stop()

        def ahead(*args, **kwargs):
            result = fn(*args, **kwargs)
            hall().computed.add(key(signature.bind(*args, **kwargs).arguments))
            return result

        wrapper.ahead = ahead
        return wrapper

    return decorate


# -- follow the lecturer ---------------------------------------------------------------------------

FOLLOWING = "_hall_following"
VERSION = "_hall_version"
JOBS = "_hall_jobs"  # the trainings a follower's page was drawn with (JobRegistry.signature)
FOLLOW_EVERY_S = 1.0
# Widgets whose value cannot be set through st.session_state (buttons, uploads, chat input).
NOT_SETTABLE = {"trigger_value", "string_trigger_value", "json_trigger_value", "chat_input_value",
                "file_uploader_state_value"}
_PLAIN = (bool, int, float, str, type(None))


def following() -> bool:
    """An audience session follows the lecturer unless it chose to explore on its own."""
    return not is_presenter() and st.session_state.get(FOLLOWING, True)


def _widget_value_type(key: str) -> str | None:
    """The widget kind behind a session-state key ("" for a plain value). Streamlit has no public
    way to tell a button's key from a slider's; this reads its widget registry."""
    from streamlit.runtime.state import get_session_state

    try:
        state = get_session_state()._state
        wid = state._key_id_mapper.get_id_from_key(key, None)
        if wid is None:
            return ""
        meta = state._new_widget_state.widget_metadata.get(wid)
        return meta.value_type if meta else ""
    except AttributeError:  # internals moved: publish nothing rather than break the page
        return None


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN)


def view_state() -> dict:
    """This session's view: every page-level value a follower can take over (widget values and
    plain page state; no private ``_`` keys, no buttons or uploads, no hall controls)."""
    out = {}
    for key in list(st.session_state.keys()):
        if not isinstance(key, str) or key.startswith(("_", "hall_")):
            continue
        kind = _widget_value_type(key)
        if kind is None or kind in NOT_SETTABLE:
            continue
        value = st.session_state[key]
        if _plain(value):
            out[key] = list(value) if isinstance(value, list) else value
    return out


def publish(page: str) -> None:
    """A presenter's run ends: publish its page and view (cheap when nothing changed)."""
    if is_presenter() and presenter_key() is not None:
        hall().publish(page, view_state())


def follow(pages: dict, current: str) -> None:
    """Start of a follower's run, before any widget: go to the lecturer's page and take over the
    lecturer's view. ``pages`` maps url paths to ``st.Page`` objects."""
    h = hall()
    view = h.view
    if not following() or view is None or not h.presenter_connected():
        return
    st.session_state[VERSION] = view.version
    st.session_state[JOBS] = registry().signature()
    if view.page != current and view.page in pages:
        # An explicit empty dict, not None: switch_page would clear() the query string, which
        # raises while a widget of this page is bound to it. The next run sets the values.
        st.switch_page(pages[view.page], query_params={})
    for key, value in view.state.items():
        try:
            if st.session_state.get(key, ...) != value:
                st.session_state[key] = list(value) if isinstance(value, list) else value
        except Exception as exc:  # a value this session's widget cannot take: keep its own
            log.debug("not following %s: %s", key, exc)


@st.fragment(run_every=FOLLOW_EVERY_S)
def _heartbeat() -> None:
    """Once a second: count this session, redraw a presenter's badge; a follower reruns when the
    lecturer moved, or started a training or one ended (the live panel, then the new model)."""
    h = hall()
    h.seen(session_id(), role(), following())
    if is_presenter():
        followers = h.counts()[1]
        st.success(f"**Presenting** · {followers} following", icon=":material/co_present:")
        return
    view = h.view
    if following() and view is not None and h.presenter_connected() and (
            view.version != st.session_state.get(VERSION) or registry().signature() != st.session_state.get(JOBS)):
        st.rerun(scope="app")


def _set_following(on: bool) -> None:
    st.session_state[FOLLOWING] = on


def _sign_in() -> None:
    key = presenter_key()
    given = st.session_state.pop("hall_key_input", "")
    if key is not None and given and key_matches(given, key):
        _become_presenter(key)
    elif given:
        st.session_state["_hall_notice"] = "Wrong presenter key."


def _sign_out() -> None:
    st.session_state[ROLE] = AUDIENCE
    st.session_state.pop("_hall_token", None)
    st.session_state["_hall_clear_cookie"] = True


def _write_cookie(value: str, max_age: int) -> None:
    """Set or clear the token cookie from the browser (an iframe with same-origin access)."""
    import json

    st.iframe(f"<script>parent.document.cookie = {json.dumps(f'{TOKEN_COOKIE}={value}')} + "
              f"'; path=/; max-age={max_age}; SameSite=Strict';</script>", height=1)


def sidebar_controls(page: str) -> None:
    """The role badge, sign-in / sign-out, the token cookie and *Share this view*; in the sidebar.
    ``page`` is the current page's url path."""
    announce_room(st.get_option("server.port"))
    if st.button("Share this view", icon=":material/qr_code_2:", key="hall_share", width="stretch"):
        share_dialog(page)
    key = presenter_key()
    if key is None:
        return  # a lecturer alone: no roles to show
    if st.session_state.pop("_hall_set_cookie", False):
        _write_cookie(st.session_state["_hall_token"], TOKEN_DAYS * 86400)
    if st.session_state.pop("_hall_clear_cookie", False):
        _write_cookie("", 0)
    if notice := st.session_state.pop("_hall_notice", None):
        st.warning(notice)
    _heartbeat()
    if is_presenter():
        st.button("Stop presenting on this device", on_click=_sign_out, key="hall_sign_out")
        return
    with st.expander("Lecturer sign-in"):
        st.text_input("Presenter key", type="password", key="hall_key_input", on_change=_sign_in)


def follow_bar() -> None:
    """Above the page, for the audience while a lecturer presents: following or not, and the one
    button that switches (in the main area: a phone's sidebar is folded away)."""
    if presenter_key() is None or is_presenter() or not hall().presenter_connected():
        return
    left, right = st.columns([3, 1], vertical_alignment="center")
    if following():
        left.caption(":material/visibility: **Following the lecturer**: this page shows what they show.")
        right.button("Explore on my own", on_click=_set_following, args=(False,), key="hall_explore", width="stretch")
    else:
        left.caption(":material/explore: **Exploring on your own**: the lecturer's moves do not change this page.")
        right.button("Back to the lecturer", on_click=_set_following, args=(True,), key="hall_follow",
                     type="primary", width="stretch")


# -- sharing the view ----------------------------------------------------------------------------

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0")
NEVER_SHARED = ("presenter",)  # query parameters a shared link never carries


def room_base(browser_url: str | None) -> str:
    """The address the room can open: ``APCORE_PUBLIC_URL``, else the browser's address with
    ``localhost`` replaced by this machine's network address (the projector laptop's case)."""
    public = os.environ.get("APCORE_PUBLIC_URL")
    if public:
        return public.rstrip("/")
    parts = urlsplit(browser_url or "http://localhost:8501")
    host = parts.hostname or "localhost"
    if host in LOCAL_HOSTS:
        from streamlit import net_util

        lan = net_util.get_internal_ip()
        if lan:
            host = lan
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme or "http", netloc, "", "", "")).rstrip("/")


def view_link(base: str, page: str, params: dict[str, str]) -> str:
    """``base/page?params`` without anything secret."""
    query = urlencode({k: v for k, v in params.items() if k not in NEVER_SHARED})
    return f"{base}/{page}" + (f"?{query}" if query else "")


def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as PNG bytes, large enough to scan from the back of a room."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=12, border=2, dark="#1a1a1a")
    return buf.getvalue()


@st.dialog("Share this view", width="medium")
def share_dialog(page: str) -> None:
    link = view_link(room_base(st.context.url), page, st.query_params.to_dict())
    st.markdown("Scan to open this page, as it is now, on your own device:")
    st.image(qr_png(link), width=360)
    st.code(link, language=None)
    if urlsplit(link).hostname in LOCAL_HOSTS:
        st.warning("This server only knows itself as localhost: set `APCORE_PUBLIC_URL` to the address "
                   "the room can reach.")


@st.cache_resource(show_spinner=False)
def announce_room(port: int | None) -> str:
    """Log the room's address once per server (the lecturer's terminal), with the presenter hint."""
    base = room_base(f"http://localhost:{port or 8501}")
    hint = " Presenter: open it once with ?presenter=<your key>." if presenter_key() else ""
    log.warning("Room address: %s%s", base, hint)
    return base
