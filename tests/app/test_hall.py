"""Lecture-hall roles: who presents, and that the audience never starts a training."""

import time

import pytest

from tests.app.conftest import page_test
from ui import hall

KEY = "correct horse battery staple"


def test_token_proves_the_key_and_expires():
    now = 1_800_000_000
    token = hall.make_token(KEY, now=now, days=1)
    assert KEY not in token
    assert hall.token_valid(token, KEY, now=now + 3600)
    assert not hall.token_valid(token, KEY, now=now + 2 * 86400)          # expired
    assert not hall.token_valid(token, "another key", now=now)             # key changed
    expiry, sig = token.split(".")
    assert not hall.token_valid(f"{int(expiry) + 86400}.{sig}", KEY, now=now)  # expiry stretched
    assert not hall.token_valid("garbage", KEY, now=now) and not hall.token_valid("", KEY, now=now)


def test_key_compare():
    assert hall.key_matches(KEY, KEY) and not hall.key_matches(KEY[:-1], KEY) and not hall.key_matches("", KEY)


def test_hall_counts_recent_sessions_and_versions_views():
    h = hall.Hall()
    h.seen("a", hall.PRESENTER, False)
    h.seen("b", hall.AUDIENCE, True)
    h.seen("c", hall.AUDIENCE, False)  # exploring on their own
    assert h.counts() == (1, 1) and h.presenter_connected()
    v1 = h.publish("vae", {"vae_latent": 2})
    assert h.publish("vae", {"vae_latent": 2}).version == v1.version == 1  # nothing changed
    assert h.publish("vae", {"vae_latent": 3}).version == 2
    h._seen["a"] = (time.time() - 60, hall.PRESENTER, False)
    assert not h.presenter_connected()


def _role_script():
    import streamlit as st

    from ui import hall

    hall.settle_role()
    st.write(f"role: {hall.role()}")


def _role(at) -> str:
    at.run()
    assert not at.exception, at.exception
    return next(m.value for m in at.markdown if m.value.startswith("role: ")).split(": ")[1]


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("APCORE_PRESENTER_KEY", KEY)


def test_no_key_every_session_presents(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("APCORE_PRESENTER_KEY", raising=False)
    assert _role(AppTest.from_function(_role_script)) == hall.PRESENTER


def test_presenter_link_grants_the_role_and_leaves_the_address_bar(keyed):
    from streamlit.testing.v1 import AppTest

    assert _role(AppTest.from_function(_role_script)) == hall.AUDIENCE
    at = AppTest.from_function(_role_script)
    at.query_params["presenter"] = KEY
    assert _role(at) == hall.PRESENTER
    assert "presenter" not in at.query_params
    assert KEY not in at.session_state["_hall_token"] and hall.token_valid(at.session_state["_hall_token"], KEY)
    assert _role(at) == hall.PRESENTER  # the next run keeps it without the link


def test_wrong_presenter_link_is_audience(keyed):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_role_script)
    at.query_params["presenter"] = "guess"
    assert _role(at) == hall.AUDIENCE and "presenter" not in at.query_params


def test_audience_cannot_train(keyed):
    from ui.resources import registry

    at = page_test("autoencoder")
    at.query_params["latent"] = "17"  # a size nobody trained
    at.run()
    assert not at.exception, at.exception
    assert registry().active() == [] and registry().get(hall_config(17)) is None
    retrain = next(b for b in at.button if b.label == "Retrain")
    assert retrain.disabled and retrain.help == hall.TRAIN_REFUSED
    assert any("not trained yet: only the lecturer trains models" in i.value for i in at.info)


def _crafted_submit_script():
    import streamlit as st

    from apcore.defaults import default_config
    from ui import hall, training

    hall.settle_role()
    training._submit(default_config("ae-mlp", latent_dim=19), retrain=True)
    st.write(st.session_state.get("_ui_job_message", "submitted"))


def test_audience_submission_refused_where_jobs_are_submitted(keyed):
    # A click that reaches the server whatever the widget showed (a crafted request, a stale page).
    from streamlit.testing.v1 import AppTest

    from ui.resources import registry

    at = AppTest.from_function(_crafted_submit_script)
    at.run()
    assert not at.exception, at.exception
    assert at.markdown[0].value == hall.TRAIN_REFUSED
    assert registry().get(hall_config(19)) is None


def hall_config(latent: int):
    from apcore.defaults import default_config

    return default_config("ae-mlp", latent_dim=latent)


def test_share_link_uses_the_room_address_and_never_the_key(monkeypatch):
    monkeypatch.setenv("APCORE_PUBLIC_URL", "http://lecture.example.org:8501/")
    base = hall.room_base("http://localhost:8501")
    assert base == "http://lecture.example.org:8501"
    link = hall.view_link(base, "vae", {"latent": "2", "beta": "4", "presenter": KEY})
    assert link == "http://lecture.example.org:8501/vae?latent=2&beta=4"
    monkeypatch.delenv("APCORE_PUBLIC_URL")
    assert hall.room_base("http://192.168.1.20:8502/vae") == "http://192.168.1.20:8502"
    local = hall.room_base("http://localhost:8502/vae")
    assert local.startswith("http://") and local.endswith(":8502")  # the LAN address where there is one
    png = hall.qr_png(link)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 300


def _share_script():
    import streamlit as st

    from ui import hall

    st.query_params["latent"] = "5"
    hall.sidebar_controls("autoencoder")


def test_share_dialog_shows_the_view_link(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("APCORE_PUBLIC_URL", "http://room:8501")
    at = AppTest.from_function(_share_script)
    at.run()
    at.button(key="hall_share").click().run()
    assert not at.exception, at.exception
    assert [c.value for c in at.code] == ["http://room:8501/autoencoder?latent=5"]
    assert len(at.get("image")) == 1  # the QR code


def _costly_script():
    import streamlit as st

    from ui import hall

    calls = st.session_state.setdefault("calls", [])

    @hall.costly(when=lambda a: a["method"] == "slow")
    def compute(name: str, method: str, _model=None):
        calls.append((name, method))
        return f"{name}/{method}"

    st.session_state["_hall_role"] = st.session_state.get("as_role", hall.PRESENTER)
    name = st.session_state.get("name", "x")
    if st.session_state.get("ahead"):
        compute.ahead(name, "slow", _model=object())   # as the server's preload does, whatever the role
    for method in ("fast", "slow"):
        st.write(compute(name, method, _model=object()))


def test_costly_results_reach_the_audience_only_once_computed(keyed):
    from streamlit.testing.v1 import AppTest

    audience = AppTest.from_function(_costly_script)
    audience.session_state["as_role"] = hall.AUDIENCE
    audience.run()
    assert [m.value for m in audience.markdown] == ["x/fast"]
    assert [i.value for i in audience.info] == [hall.COMPUTE_REFUSED]  # in its place, and the run stops
    presenter = AppTest.from_function(_costly_script)
    presenter.run()  # the lecturer computes the slow one; the hall remembers it
    assert [m.value for m in presenter.markdown] == ["x/fast", "x/slow"]
    audience.run()
    assert [m.value for m in audience.markdown] == ["x/fast", "x/slow"]


def test_costly_result_computed_ahead_reaches_the_audience(keyed):
    from streamlit.testing.v1 import AppTest

    audience = AppTest.from_function(_costly_script)
    audience.session_state["as_role"] = hall.AUDIENCE
    audience.session_state["name"] = "ahead"
    audience.run()
    assert [m.value for m in audience.markdown] == ["ahead/fast"]
    audience.session_state["ahead"] = True
    audience.run()
    assert [m.value for m in audience.markdown] == ["ahead/fast", "ahead/slow"]
    audience.session_state["ahead"] = False
    audience.run()   # remembered by the hall: no notice, whoever asks
    assert [m.value for m in audience.markdown] == ["ahead/fast", "ahead/slow"] and not audience.info


def test_audience_tsne_needs_the_lecturer(keyed, monkeypatch):
    from tests.app.conftest import run_until_trained

    monkeypatch.delenv("APCORE_PRESENTER_KEY")
    at = page_test("autoencoder")
    at.query_params["latent"] = "7"  # a size no other page test trains (they count trained sizes)
    at.query_params["ae_tab"] = "Latent space"
    run_until_trained(at)  # the lecturer alone trains it
    monkeypatch.setenv("APCORE_PRESENTER_KEY", KEY)
    at.radio(key="ae_projection").set_value("tsne").run()
    assert not at.exception, at.exception
    assert any(hall.COMPUTE_REFUSED in i.value for i in at.info)


def test_a_selected_point_is_plain_state_a_follower_can_take(monkeypatch):
    from tests.app.conftest import run_until_trained

    monkeypatch.delenv("APCORE_PRESENTER_KEY", raising=False)
    at = page_test("autoencoder")
    at.query_params["ae_tab"] = "Latent space"
    run_until_trained(at)
    assert any("Click a point" in i.value for i in at.info)
    at.session_state["ae_picked"] = 7  # what follow() sets from the lecturer's published view
    at.run()
    assert any(m.value.startswith("**Test image 7**") for m in at.markdown)


def test_view_state_publishes_plain_values_not_buttons_or_selections():
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        from ui import hall

        st.slider("s", 0, 10, 3, key="p_slider")
        st.button("b", key="p_button")
        st.session_state.setdefault("p_plain", 5)
        st.session_state.setdefault("_p_private", 1)
        st.text(repr(sorted(hall.view_state().items())))

    at = AppTest.from_function(script)
    at.run()
    assert at.text[-1].value == repr([("p_plain", 5), ("p_slider", 3)])
