"""The sign-in page (`/login`) and the settings page (`/settings`: API tokens).

The sign-in form and the sign-out button are plain HTML forms posting to `/api/auth/…`:
the password never travels over the websocket, and the session cookie is set by an HTTP
response, so it can be HttpOnly.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML

from finch_app.components.icons import icon
from finch_app.config_check import SetupItem
from finch_app.states.auth import AuthState, LoginState, SettingsState, TokenItem
from finch_app.states.mcp import McpServerItem, McpServersState
from finch_app.states.permissions import PermissionsState


class PostForm(BaseHTML):
    """A `<form>` that the browser submits itself (rx.el.form always prevents that)."""

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]


def sign_out_button(**props) -> rx.Component:
    return PostForm.create(
        rx.el.button(
            "Sign out", type="submit", class_name="finch-link-btn", custom_attrs={"data-testid": "sign-out"}
        ),
        action="/api/auth/logout",
        method="post",
        class_name="finch-inline-form",
        **props,
    )


def _brand() -> rx.Component:
    return rx.el.div(
        rx.el.span(icon("bird", 20), class_name="finch-logo"),
        rx.el.span("Finch", class_name="finch-brand-name"),
        class_name="finch-brand",
    )


def _password_form() -> rx.Component:
    return PostForm.create(
        rx.el.label(
            rx.el.span("Name"),
            rx.el.input(
                name="name",
                auto_complete="username",
                required=True,
                max_length=120,
                auto_focus=True,
                class_name="finch-field",
                custom_attrs={"data-testid": "login-name"},
            ),
            class_name="finch-label",
        ),
        rx.el.label(
            rx.el.span("Password"),
            rx.el.input(
                name="password",
                type="password",
                auto_complete="current-password",
                required=True,
                class_name="finch-field",
                custom_attrs={"data-testid": "login-password"},
            ),
            class_name="finch-label",
        ),
        rx.el.input(type="hidden", name="next", value=LoginState.next_path),
        rx.el.button(
            "Sign in",
            type="submit",
            class_name="finch-btn finch-btn-send",
            custom_attrs={"data-testid": "login-submit"},
        ),
        action="/api/auth/login",
        method="post",
        class_name="finch-login-form",
    )


def login_page() -> rx.Component:
    return rx.el.main(
        rx.el.div(
            _brand(),
            rx.el.h1("Sign in", class_name="finch-panel-title"),
            rx.cond(
                LoginState.notice != "", rx.el.div(LoginState.notice, class_name="finch-ok", role="status")
            ),
            rx.cond(
                LoginState.message != "",
                rx.el.div(
                    LoginState.message,
                    class_name="finch-notice",
                    role="alert",
                    custom_attrs={"data-testid": "login-error"},
                ),
            ),
            rx.cond(
                LoginState.signed_in_as != "",
                rx.el.div(
                    rx.el.p("Signed in as ", rx.el.strong(LoginState.signed_in_as), "."),
                    rx.el.a("Continue to Finch", href="/", class_name="finch-action"),
                    sign_out_button(),
                    class_name="finch-login-signed-in",
                ),
                rx.cond(
                    LoginState.mode == "header",
                    rx.el.p(
                        "Finch signs you in through your company's sign-on. This request did not come "
                        "through it: open Finch at its usual address.",
                        class_name="finch-muted",
                        custom_attrs={"data-testid": "login-proxy"},
                    ),
                    _password_form(),
                ),
            ),
            class_name="finch-login-card",
        ),
        class_name="finch-login",
    )


def _token_row(item: rx.Var[TokenItem]) -> rx.Component:
    return rx.el.tr(
        rx.el.td(rx.el.strong(item.name)),
        rx.el.td(rx.el.code(item.prefix, "…")),
        rx.el.td(item.created, class_name="finch-muted"),
        rx.el.td(item.last_used, class_name="finch-muted"),
        rx.el.td(item.expires, class_name="finch-muted", custom_attrs={"data-testid": "token-expires"}),
        rx.el.td(
            rx.el.button(
                "Revoke",
                on_click=SettingsState.revoke(item.id),
                class_name="finch-link-btn",
                type="button",
                aria_label="Revoke " + item.name,
                custom_attrs={"data-testid": "revoke-token"},
            )
        ),
        custom_attrs={"data-testid": "token-row"},
    )


def _setup_item(item: rx.Var[SetupItem]) -> rx.Component:
    return rx.el.li(
        rx.el.div(item.what, class_name="finch-setup-what"),
        rx.cond(item.how != "", rx.el.div(item.how, class_name="finch-setup-how")),
        custom_attrs={"data-ok": item.ok},
    )


def _setup() -> rx.Component:
    """For whoever runs this Finch (admins): what users get, and the variables that change it."""
    return rx.el.section(
        rx.el.h2("This Finch's setup", class_name="finch-section-title"),
        rx.el.p(
            "Only admins see this. Change these in Finch's environment (or .env) and restart; "
            "the README explains each.",
            class_name="finch-muted finch-small",
        ),
        rx.el.ul(rx.foreach(SettingsState.setup, _setup_item), class_name="finch-setup"),
        custom_attrs={"data-testid": "operator-setup"},
    )


def settings_page() -> rx.Component:
    return rx.el.main(
        rx.el.div(
            rx.el.div(
                rx.el.a(icon("arrow-left", 15), "Back to chat", href="/", class_name="finch-link-btn"),
                rx.cond(
                    AuthState.user_name != "",
                    rx.el.span(
                        "Signed in as ",
                        rx.el.strong(AuthState.user_name, custom_attrs={"data-testid": "user-name"}),
                        class_name="finch-muted",
                    ),
                ),
                rx.cond(AuthState.can_sign_out, sign_out_button()),
                class_name="finch-settings-head",
            ),
            rx.el.h1("API tokens", class_name="finch-panel-title"),
            rx.el.p(
                "Programs use Finch's HTTP API with a personal token: ",
                rx.el.code("Authorization: Bearer <token>"),
                ". A token acts as you until it expires; revoke it when it is no longer needed. "
                "A new password ends every token.",
                rx.cond(
                    SettingsState.auth_mode == "none",
                    " (This Finch has no sign-in, so programs on this computer can use the API "
                    "without a token.)",
                    "",
                ),
                class_name="finch-muted finch-small",
            ),
            rx.cond(
                SettingsState.error != "",
                rx.el.div(SettingsState.error, class_name="finch-notice", role="alert"),
            ),
            rx.el.div(
                rx.el.p(
                    "New token ",
                    rx.el.strong(SettingsState.created_name),
                    " — copy it now, it is shown only once:",
                ),
                rx.el.input(
                    id="new-token",
                    read_only=True,
                    class_name="finch-field finch-token-value",
                    aria_label="New API token",
                    custom_attrs={"data-testid": "new-token"},
                ),
                class_name=rx.cond(SettingsState.created_name != "", "finch-ok", "finch-hidden"),
            ),
            rx.el.form(
                rx.el.input(
                    id="token-name",
                    name="token_name",
                    placeholder="What is it for? e.g. notebook",
                    max_length=120,
                    class_name="finch-field",
                    custom_attrs={"data-testid": "token-name"},
                ),
                rx.el.select(
                    rx.el.option("No expiry", value="never"),
                    rx.el.option("Expires in 7 days", value="7"),
                    rx.el.option("Expires in 30 days", value="30"),
                    rx.el.option("Expires in 90 days", value="90"),
                    rx.el.option("Expires in a year", value="365"),
                    name="token_expires",
                    default_value="30",
                    class_name="finch-field",
                    aria_label="When the token expires",
                    custom_attrs={"data-testid": "token-expires-select"},
                ),
                rx.el.button(
                    "Create token",
                    type="submit",
                    class_name="finch-btn finch-btn-send",
                    custom_attrs={"data-testid": "create-token"},
                ),
                on_submit=SettingsState.create_token,
                reset_on_submit=False,
                class_name="finch-holding-form",
            ),
            rx.cond(
                SettingsState.tokens.length() > 0,
                rx.el.table(
                    rx.el.thead(
                        rx.el.tr(
                            rx.el.th("Name"),
                            rx.el.th("Token"),
                            rx.el.th("Created"),
                            rx.el.th("Last used"),
                            rx.el.th("Expires"),
                            rx.el.th(""),
                        )
                    ),
                    rx.el.tbody(rx.foreach(SettingsState.tokens, _token_row)),
                    class_name="finch-holdings",
                ),
                rx.el.p("No tokens yet.", class_name="finch-muted"),
            ),
            rx.cond(SettingsState.setup.length() > 0, _setup()),
            class_name="finch-settings-card",
        ),
        allowed_tools_card(),
        mcp_servers_card(),
        class_name="finch-settings",
    )


def _allowed_tool(name: rx.Var[str]) -> rx.Component:
    return rx.el.li(
        rx.el.code(name),
        rx.el.button(
            "Ask me again",
            on_click=PermissionsState.revoke(name),
            type="button",
            class_name="finch-action",
            custom_attrs={"data-testid": "revoke-allowed-tool"},
        ),
        class_name="finch-allowed-tool",
        custom_attrs={"data-testid": "allowed-tool"},
    )


def allowed_tools_card() -> rx.Component:
    """Tools that change data ask before each change; these the user chose to always allow."""
    return rx.el.div(
        rx.el.h2("Changes Finch may make without asking", class_name="finch-panel-title"),
        rx.el.p(
            "Tools that change your data (your holdings) ask for your approval each time, unless you chose "
            "“Always allow” on one of their cards.",
            class_name="finch-muted finch-small",
        ),
        rx.cond(
            PermissionsState.allowed.length() > 0,
            rx.el.ul(rx.foreach(PermissionsState.allowed, _allowed_tool), class_name="finch-allowed-tools"),
            rx.el.p(
                "None: every change asks first.",
                class_name="finch-muted",
                custom_attrs={"data-testid": "no-allowed-tools"},
            ),
        ),
        class_name="finch-settings-card",
    )


def _mcp_server(item: rx.Var[McpServerItem]) -> rx.Component:
    return rx.el.li(
        rx.el.strong(item.name),
        rx.el.span(" · ", item.kind, " · ", class_name="finch-muted"),
        rx.el.span(item.label, custom_attrs={"data-testid": "mcp-server-state"}),
        rx.el.div(item.approval, class_name="finch-muted finch-small"),
        rx.el.div(
            "Tools: ", item.tools, class_name="finch-small", custom_attrs={"data-testid": "mcp-server-tools"}
        ),
        class_name="finch-allowed-tool",
        custom_attrs={"data-testid": "mcp-server", "data-state": item.state, "data-server": item.name},
    )


def mcp_servers_card() -> rx.Component:
    """The tool servers (MCP) the operator connected Finch to: only their file adds servers."""
    return rx.cond(
        McpServersState.configured,
        rx.el.div(
            rx.el.h2("Tools from other servers (MCP)", class_name="finch-panel-title"),
            rx.el.p(
                "Your operator connected Finch to these servers; "
                "their tools show on cards as “server · tool”.",
                class_name="finch-muted finch-small",
            ),
            rx.el.ul(rx.foreach(McpServersState.servers, _mcp_server), class_name="finch-allowed-tools"),
            class_name="finch-settings-card",
            custom_attrs={"data-testid": "mcp-servers"},
        ),
    )
