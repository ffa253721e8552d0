"""Hardening without a browser: secrets are masked in logs and error messages, model output
is compiled into inert markdown (no images, no raw HTML), and the Reflex gate lets only the
sign-in page's and Reflex's own events through when signed out."""

from __future__ import annotations

import logging

import pytest

import finch_app.finch_app  # noqa: F401  (registers the app and its states now, not inside one test's event loop)
from finch_app import redact
from finch_app.settings import reset_settings


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRETKEY1234567890")
    monkeypatch.setenv("FMP_API_KEY", "fmp-SECRET-abcdef")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://finch:db-SECRET-pw@db.internal/finch")
    reset_settings()
    redact.forget_secrets()
    yield
    reset_settings()
    redact.forget_secrets()


@pytest.mark.parametrize(
    "text",
    [
        "GET https://financialmodelingprep.com/stable/senate-latest?page=0&apikey=fmp-SECRET-abcdef 401",
        "Incorrect API key provided: sk-test-SECRETKEY1234567890",
        "connect to postgresql+psycopg://finch:db-SECRET-pw@db.internal/finch failed",
        "Authorization: Bearer finch_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "cookie: finch_session=Zm9vYmFyYmF6cXV4; theme=dark",
        "https://user:hunter22@proxy.example/v1",
    ],
)
def test_secrets_are_masked(secrets, text):
    masked = redact.redact(text)
    for secret in ("SECRET", "finch_AAAA", "Zm9vYmFy", "hunter22"):
        assert secret not in masked
    assert redact.MASK in masked


def test_every_log_record_is_masked_message_args_and_traceback(secrets, caplog):
    redact.install_log_redaction()
    log = logging.getLogger("finch.test")
    with caplog.at_level(logging.INFO):
        log.info("calling %s", "https://x.test/q?apikey=fmp-SECRET-abcdef")
        try:
            raise RuntimeError("server said: Incorrect API key provided: sk-test-SECRETKEY1234567890")
        except RuntimeError:
            log.exception("model failed")
        logging.getLogger("httpx").info(
            'HTTP Request: GET https://h/?apikey=fmp-SECRET-abcdef "HTTP/1.1 401"'
        )
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "SECRET" not in text
    assert text.count(redact.MASK) >= 3


async def test_a_model_server_echoing_the_key_does_not_put_it_in_the_error():
    """The OpenAI client's error (what the card and the log show) never carries the key."""
    from finch_app.agent.model import ChatMessage, ModelError
    from finch_app.models.openai import OpenAIChatModel
    from tests.fakes.openai_server import OpenAIServer, http_error

    key = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
    with OpenAIServer() as server:
        server.enqueue(http_error(401, f"Incorrect API key provided: {key}."))
        model = OpenAIChatModel(api_key=key, base_url=server.base_url, model="gpt-test", max_retries=0)
        try:
            with pytest.raises(ModelError) as error:
                async for _ in model.stream([ChatMessage(role="user", content="hi")], []):
                    pass
        finally:
            await model.aclose()
    assert key not in error.value.message and key not in (error.value.details or "")
    assert "rejected the API key" in error.value.message


# --- markdown ----------------------------------------------------------------------------


def test_model_markdown_renders_no_images_and_no_raw_html():
    import reflex as rx

    from finch_app.components.messages import markdown

    component = markdown(rx.Var.create("![x](https://beacon.example/p.gif) [y](javascript:alert(1))"))
    code = str(component._get_all_custom_code())
    rendered = str(component.render())
    assert "rehype-raw" not in code + rendered and "rehypeRaw" not in code + rendered
    assert '"img"' in code or "img:" in code  # images have their own (text-only) renderer
    assert "finch-md-img" in code
    assert "noopener noreferrer nofollow" in code


# --- the Reflex gate -------------------------------------------------------------------


def test_only_sign_in_and_reflex_bookkeeping_events_are_public():
    import reflex as rx
    from reflex_base.event import Event

    from finch_app.states.auth import LoginState, SettingsState, _is_public, _user_states
    from finch_app.states.chat import ChatState, LiveTurnState

    root = rx.State.get_name()
    public = [f"{root}.hydrate", f"{root}.hydrate_and_load", f"{LoginState.get_full_name()}.on_load"]
    private = [
        f"{ChatState.get_full_name()}.on_load",
        f"{ChatState.get_full_name()}.delete_conversation",
        f"{LiveTurnState.get_full_name()}.submit",
        f"{LiveTurnState.get_full_name()}.follow_run",
        f"{SettingsState.get_full_name()}.create_token",
        f"{root}.hydrate_evil",
    ]
    assert all(_is_public(Event(name=n)) for n in public)
    assert not any(_is_public(Event(name=n)) for n in private)
    reset = _user_states()
    assert ChatState in reset and LiveTurnState in reset and SettingsState in reset
    assert LoginState not in reset


def test_every_public_method_of_a_state_is_a_deliberate_event_handler():
    """In Reflex every public method of a State is an event handler any tab may call: helpers are
    private (`_name`), and what is public says so with `@rx.event` (or is a computed `@rx.var`)."""
    import ast
    from pathlib import Path

    exposed = []
    for path in sorted((Path(__file__).parents[1] / "finch_app" / "states").glob("*.py")):
        for cls in (n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)):
            if not any(ast.unparse(base).endswith("State") for base in cls.bases):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and not fn.name.startswith("_"):
                    decorators = {ast.unparse(d).split("(")[0] for d in fn.decorator_list}
                    if not decorators & {"rx.event", "rx.var"}:
                        exposed.append(f"{path.name}: {cls.name}.{fn.name}")
    assert exposed == []


# --- the tab's user: the real peer, and the sender of an upload ------------------------------


def _tab_headers(**headers: str) -> dict:
    return {"host": "localhost:3000", "origin": "http://localhost:3000", **headers}


async def _set_router(tab, headers: dict, client_ip: str = "127.0.0.1") -> None:
    import reflex as rx

    async with tab.locked(rx.State) as root:
        router_data = {
            "pathname": "/",
            "query": {},
            "token": tab.token,
            "sid": "sid-1",
            "headers": headers,
            "ip": client_ip,
        }
        root.router_data = root._update_router_vars(router_data, {})


async def test_header_mode_believes_the_websockets_real_peer_not_x_forwarded_for(monkeypatch):
    """Reflex rewrites `client_ip` from X-Forwarded-For (REFLEX_TRUSTED_PROXY_HOPS); Finch takes the
    peer Reflex recorded from the connection itself."""
    import finch_app.finch_app as finch
    from finch_app.states.auth import identity_for
    from finch_app.states.chat import ChatState
    from tests.reflex_harness import HeadlessTab

    monkeypatch.setenv("FINCH_AUTH", "header")
    monkeypatch.setenv("FINCH_TRUSTED_PROXIES", "10.0.0.5/32")
    reset_settings()
    async with HeadlessTab(finch.app, token="peer") as tab:
        # A client at 203.0.113.9 claims to come through the proxy: XFF rewrote client_ip to it.
        forged = _tab_headers(
            **{"x-forwarded-email": "carol@example.com", "asgi-scope-client": "203.0.113.9"}
        )
        await _set_router(tab, forged, client_ip="10.0.0.5")
        async with tab.locked(ChatState) as state:
            assert identity_for(state) is None
        real = _tab_headers(**{"x-forwarded-email": "carol@example.com", "asgi-scope-client": "10.0.0.5"})
        await _set_router(tab, real, client_ip="10.0.0.5")
        async with tab.locked(ChatState) as state:
            assert identity_for(state).name == "carol@example.com"


@pytest.mark.persistence
async def test_an_upload_acts_for_its_own_sender_and_is_refused_for_another_tabs_user(monkeypatch):
    """An upload names a tab by its token; the upload request's own user must be that tab's user."""
    from datetime import timedelta
    from pathlib import Path

    import reflex as rx

    import finch_app.finch_app as finch
    from finch_app.auth import NotSignedIn, store, uploads
    from finch_app.providers.portfolio import HoldingsBook
    from finch_app.states.portfolio import PortfolioState
    from tests.reflex_harness import HeadlessTab

    monkeypatch.setenv("FINCH_AUTH", "password")
    reset_settings()
    alice = store.add_user("alice", "a long password")
    mallory = store.add_user("mallory", "a long password")
    alice_cookie = store.create_session(alice.id, timedelta(days=1))

    def csv_file() -> rx.UploadFile:
        import io

        data = io.BytesIO(b"Symbol,Quantity,Average Cost\nTSLA,1000,1\n")
        return rx.UploadFile(file=data, path=Path("evil.csv"))

    async with HeadlessTab(finch.app, token="alices-tab") as tab:
        await _set_router(tab, _tab_headers(cookie=f"finch_session={alice_cookie}"))
        # Mallory posts to /_upload with alice's tab token and her own session.
        with uploads.sending(tab.token, mallory.id):
            async with tab.locked(PortfolioState) as state:
                with pytest.raises(NotSignedIn):
                    await PortfolioState.import_csv.fn(state, [csv_file()])
        assert await HoldingsBook().list(alice.id) == [] and await HoldingsBook().list(mallory.id) == []
        # The gate drops such an upload event before any handler runs; alice's own goes through.
        from reflex_base.event import Event

        from finch_app.states.auth import AuthGate

        event = Event(name=PortfolioState.get_full_name() + ".import_csv", payload={"files": [csv_file()]})
        for sender, dropped in ((mallory.id, True), (alice.id, False)):
            with uploads.sending(tab.token, sender):
                async with tab.locked(rx.State) as root:
                    update = await AuthGate().preprocess(finch.app, root, event)
            assert (update is not None and not update.events) if dropped else update is None
        # No sender noted at all (the upload did not come through Finch's HTTP layer): refused too.
        async with tab.locked(PortfolioState) as state:
            with pytest.raises(NotSignedIn):
                await PortfolioState.import_csv.fn(state, [csv_file()])
        # Alice's own upload.
        with uploads.sending(tab.token, alice.id):
            async with tab.locked(PortfolioState) as state:
                await PortfolioState.import_csv.fn(state, [csv_file()])
                assert state.error == "" and "Imported 1 holdings" in state.message
        assert [p.symbol for p in await HoldingsBook().list(alice.id)] == ["TSLA"]


@pytest.mark.persistence
async def test_the_import_reads_at_most_one_byte_past_the_limit():
    import io
    from pathlib import Path

    import reflex as rx

    import finch_app.finch_app as finch
    from finch_app.providers.portfolio import MAX_IMPORT_BYTES
    from finch_app.states.portfolio import PortfolioState
    from tests.reflex_harness import HeadlessTab

    class Endless(io.RawIOBase):
        """A file as large as anyone likes; counts what is read of it."""

        def __init__(self) -> None:
            self.served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            n = min(len(buffer), 64 * 1024)
            buffer[:n] = b"A" * n
            self.served += n
            return n

    endless = Endless()
    async with HeadlessTab(finch.app, token="big-file") as tab:
        async with tab.locked(PortfolioState) as state:
            await PortfolioState.import_csv.fn(
                state, [rx.UploadFile(file=io.BufferedReader(endless), path=Path("huge.csv"))]
            )
            assert "larger than 2 MB" in state.error
    assert MAX_IMPORT_BYTES < endless.served <= MAX_IMPORT_BYTES + 64 * 1024


def test_only_conversation_and_table_links_count_as_finchs_own():
    """`//example.org` starts with "/" too: own links are exactly `/c/<id>…` and `?r=<id>`."""
    import re

    import reflex as rx

    from finch_app.components.messages import OWN_LINK, markdown

    code = str(markdown(rx.Var.create("x"))._get_all_custom_code())
    assert OWN_LINK.replace("\\", "") in code.replace("\\", "") and 'startsWith("/")' not in code
    own = re.compile(OWN_LINK)
    assert all(own.search(h) for h in ("/c/0123abcd", "/c/abc?r=1", "?r=0123abcd"))
    assert not any(
        own.search(h) for h in ("//example.org", "/settings", "/", "https://x.test", "/\\evil.test", "?r=")
    )
