"""Hardening without a browser: secrets are masked in logs and error messages, model output
is compiled into inert markdown (no images, no raw HTML), and the Reflex gate lets only the
sign-in page's and Reflex's own events through when signed out."""

from __future__ import annotations

import logging

import pytest

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
        logging.getLogger("httpx").info('HTTP Request: GET https://h/?apikey=fmp-SECRET-abcdef "HTTP/1.1 401"')
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

    import finch_app.finch_app  # noqa: F401  (registers every state)
    from finch_app.states.auth import LoginState, SettingsState, _is_public, _user_states
    from finch_app.states.chat import ChatState, LiveTurnState
    from reflex_base.event import Event

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
