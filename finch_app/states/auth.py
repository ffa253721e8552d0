"""Sign-in in the Reflex app: who the tab's user is, the gate every event passes, and the
sign-in and settings pages' states.

The user comes from the websocket connection's own request (the HttpOnly session cookie,
or the trusted proxy's header), through `finch_app.auth` — the same rules as the HTTP API.
`AuthGate` (Reflex event middleware) runs before every event: signed out, only the sign-in
page's events and Reflex's own bookkeeping get through, everything else answers with a
redirect to `/login`; when the tab's user changes (sign-out, another person signing in),
the user's states are reset before anything is sent, so nothing of one user's ever
reaches another's screen.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import (
    BaseState,
    FrontendEventExceptionState,
    OnLoadInternalState,
    StateUpdate,
    UpdateVarsInternalState,
)
from reflex_base.event import Event, EventSpec

from finch_app.auth import Identity, NotSignedIn, browser_identity, store, uploads
from finch_app.config_check import SetupItem, setup_items
from finch_app.settings import get_settings

log = logging.getLogger("finch.auth")
LOGIN_PATH = "/login"


PEER_HEADER = "asgi-scope-client"
"""Where Reflex keeps the websocket's real peer address among the tab's headers (`router.session.client_ip`
is rewritten from X-Forwarded-For when REFLEX_TRUSTED_PROXY_HOPS is set; `api.security` drops a
client-sent header of this name)."""


def identity_for(state: BaseState) -> Identity | None:
    """The signed-in user of the tab `state` belongs to (None when signed out)."""
    headers = state.router.headers.raw_headers
    return browser_identity(get_settings(), headers, headers.get(PEER_HEADER, ""))


def _tab_token(state: BaseState) -> str:
    return state.router.session.client_token


def uploader_id(state: BaseState, tab_user: str | None = None) -> str:
    """The user who sent the upload being handled: the upload request's own user (noted by the HTTP
    layer, `auth.uploads`), who must be the tab's (`tab_user`, when the caller knows it already);
    anything else raises `NotSignedIn`."""
    tab_user = tab_user or current_user_id(state)
    if get_settings().auth == "none":
        return tab_user
    senders = uploads.senders(_tab_token(state))
    if not senders or any(sender != tab_user for sender in senders):
        log.warning("Refused an upload to a tab of another user (or without a sender)")
        raise NotSignedIn("This upload did not come from the signed-in user of this tab.")
    return tab_user


def current_user_id(state: BaseState) -> str:
    """The tab's user id; raises `NotSignedIn` (answered with a redirect to /login)."""
    identity = identity_for(state)
    if identity is None:
        raise NotSignedIn()
    return identity.user_id


def _login_redirect(state: BaseState) -> EventSpec:
    path = state.router.url.path or "/"
    if path.startswith(LOGIN_PATH):
        return rx.redirect(LOGIN_PATH)
    return rx.redirect(f"{LOGIN_PATH}?next={quote(path, safe='/')}")


class AuthState(rx.State):
    """The tab's user, as the page shows it (name, whether sign-out applies)."""

    user_name: str = ""
    auth_mode: str = "none"
    _user_id: str = ""

    @rx.var
    def can_sign_out(self) -> bool:
        return self.auth_mode == "password" and self.user_name != ""


class LoginState(rx.State):
    """The sign-in page: a plain HTML form posting to `/api/auth/login` (no event carries the password)."""

    message: str = ""
    notice: str = ""
    next_path: str = "/"
    mode: str = "password"
    signed_in_as: str = ""

    @rx.event
    async def on_load(self):
        from finch_app.api.routes.auth import safe_next

        settings = get_settings()
        params = self.router.url.query_parameters
        self.mode = settings.auth
        self.next_path = safe_next(params.get("next"))
        error = params.get("error", "")
        minutes = params.get("m", "")
        if error == "locked":
            count = minutes if minutes.isdigit() else "a few"
            self.message = (
                f"Too many failed sign-ins. Wait {count} minute{'s' if minutes != '1' else ''} and try again."
            )
        elif error == "bad":
            self.message = "Wrong name or password."
        else:
            self.message = ""
        self.notice = "You are signed out." if params.get("signed_out") else ""
        identity = await asyncio.to_thread(identity_for, self)
        self.signed_in_as = identity.name if identity and settings.auth != "none" else ""
        if settings.auth == "none":
            return rx.redirect("/")
        return None


@dataclass
class TokenItem:
    id: str
    name: str
    prefix: str
    created: str
    last_used: str
    expires: str
    """"2026-12-28 10:00 UTC", or "never" (until revoked)."""


TOKEN_LIFETIMES = {
    "never": None,
    "7": timedelta(days=7),
    "30": timedelta(days=30),
    "90": timedelta(days=90),
    "365": timedelta(days=365),
}
"""The settings page's choices for a new token's lifetime (form value → lifetime)."""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


class SettingsState(rx.State):
    """Personal API tokens: create (shown once) and revoke."""

    tokens: list[TokenItem] = []
    created_name: str = ""
    """Name of the token just created: its value is put straight into the page's field, never in state."""
    error: str = ""
    auth_mode: str = "none"
    setup: list[SetupItem] = []
    """This Finch's setup and how to change it: for admins only (users get plain words in the chat)."""

    async def _refresh(self, user_id: str) -> None:
        rows = await asyncio.to_thread(store.list_tokens, user_id)
        self.tokens = [
            TokenItem(
                id=t.id,
                name=t.name,
                prefix=t.prefix,
                created=_when(t.created_at),
                last_used=_when(t.last_used_at),
                expires=_when(t.expires_at),
            )
            for t in rows
        ]

    @rx.event
    async def on_load(self):
        self.created_name = ""
        self.error = ""
        self.auth_mode = get_settings().auth
        identity = identity_for(self)
        self.setup = setup_items(get_settings()) if identity is not None and identity.is_admin else []
        await self._refresh(current_user_id(self))

    @rx.event
    async def create_token(self, form_data: dict):
        user_id = current_user_id(self)
        name = str(form_data.get("token_name", "")).strip()
        if not name:
            self.error = "Give the token a name, e.g. “notebook”."
            return None
        lifetime = TOKEN_LIFETIMES.get(str(form_data.get("token_expires", "never")), None)
        if user_id == store.LOCAL_USER_ID:
            await asyncio.to_thread(store.ensure_local_user)
        try:
            info, token = await asyncio.to_thread(store.create_token, user_id, name, lifetime=lifetime)
        except store.AccountError as exc:
            self.error = str(exc)
            return None
        self.error = ""
        self.created_name = info.name
        await self._refresh(user_id)
        # The token goes to the field on the page and nowhere else (not into saved state).
        return [rx.set_value("new-token", token), rx.set_value("token-name", "")]

    @rx.event
    async def revoke(self, token_id: str):
        user_id = current_user_id(self)
        await asyncio.to_thread(store.revoke_token, user_id, token_id)
        self.created_name = ""
        await self._refresh(user_id)
        return rx.set_value("new-token", "")


# --- the gate ---------------------------------------------------------------------------

_PUBLIC_STATES = (LoginState, FrontendEventExceptionState, UpdateVarsInternalState, OnLoadInternalState)
_KEEP_ON_SWITCH = (AuthState, LoginState)


_PUBLIC_ROOT_HANDLERS = ("hydrate", "hydrate_and_load", "set_is_hydrated")
"""Reflex's own events on the root state (sending the tab its state; the gate has already
reset it if its user changed)."""


def _is_public(event: Event) -> bool:
    root = rx.State.get_name()
    if any(event.name == f"{root}.{handler}" for handler in _PUBLIC_ROOT_HANDLERS):
        return True
    return any(event.name.startswith(cls.get_full_name() + ".") for cls in _PUBLIC_STATES)


def _is_upload(event: Event) -> bool:
    """An event Reflex made from a `/_upload` request (its payload carries the files)."""
    return any(
        isinstance(value, list) and value and all(isinstance(item, rx.UploadFile) for item in value)
        for value in event.payload.values()
    )


def _user_states() -> list[type[BaseState]]:
    """Every state of the app that may hold a user's data (all but the gate's own)."""
    found: list[type[BaseState]] = []
    pending = list(rx.State.get_substates())
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        if cls.__module__.startswith("finch_app.") and not issubclass(cls, _KEEP_ON_SWITCH):
            found.append(cls)
    return found


async def _switch_user(root: BaseState, auth: AuthState, identity: Identity | None) -> None:
    if auth._user_id:
        for cls in _user_states():
            substate = await root.get_state(cls)
            substate.reset()
    auth._user_id = identity.user_id if identity else ""
    auth.user_name = identity.name if identity else ""


class AuthGate(Middleware):
    """Runs before every event: resolves the tab's user, resets the tab if the user changed,
    and answers events that need a user with a redirect to /login when there is none."""

    async def preprocess(self, app, state: BaseState, event: Event) -> StateUpdate | None:  # type: ignore[override]
        settings = get_settings()
        if settings.auth == "none":
            return None
        identity = await asyncio.to_thread(identity_for, state)
        auth = await state.get_state(AuthState)
        if auth.auth_mode != settings.auth:
            auth.auth_mode = settings.auth
        if (identity.user_id if identity else "") != auth._user_id:
            await _switch_user(state, auth, identity)
        if identity is not None and _is_upload(event):
            try:
                uploader_id(state, identity.user_id)
            except NotSignedIn:
                # Dropped: someone else's upload with this tab's token.
                return StateUpdate(delta={}, events=[])
        if identity is not None or _is_public(event):
            return None
        from reflex.istate.delta import _resolve_delta

        delta = await _resolve_delta(state.get_delta())
        state._clean()
        return StateUpdate(delta=delta, events=Event.from_event_type([_login_redirect(state)]))


def handle_backend_exception(exception: Exception) -> EventSpec | None:
    """Signed-out events end on the sign-in page; anything else is Reflex's usual answer."""
    if isinstance(exception, NotSignedIn):
        return rx.redirect(LOGIN_PATH)
    from reflex.app import default_backend_exception_handler

    return default_backend_exception_handler(exception)
