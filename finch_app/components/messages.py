"""Transcript rows. Each row is an `rx.memo` component keyed by message id, so a new
row re-renders only itself and the live turn never re-renders the transcript.
"""

from __future__ import annotations

import reflex as rx

from finch_app.components.icons import icon
from finch_app.components.portfolio import connect_brokerage_button
from finch_app.components.tool_card import tool_card
from finch_app.settings import get_settings
from finch_app.states.chat import LiveTurnState
from finch_app.states.portfolio import PortfolioState
from finch_app.views import MessageView, StepView

_IMAGE_ALT = rx.Var(_js_expr="(props.alt || 'image')", _var_type=str)


def _image_as_text(*_children: rx.Var, **_props: rx.Var) -> rx.Component:
    """Images in model output are shown as their alt text: an `<img>` would be a beacon."""
    return rx.el.span("[", _IMAGE_ALT, "]", class_name="finch-md-img")


OWN_LINK = r"^(\/c\/[A-Za-z0-9_.:-]|\?r=[A-Za-z0-9_.:-])"
"""Finch's own links in answers: a conversation (`/c/<id>…`) or one of its tables (`?r=<id>`). Nothing
else is "own" — `//example.org` starts with "/" too, and would leave Finch in the same tab."""


def _link(*children: rx.Var, **_props: rx.Var) -> rx.Component:
    """Links to other sites open in a new tab and tell the target nothing; Finch's own links
    (an answer's "see <table>", exactly `OWN_LINK`) open here. react-markdown already drops
    `javascript:` and other unsafe URLs, and the CSP would block them too."""
    # Reflex renders anchors as router links, which navigate by `to`, not `href`.
    href = rx.Var("props.href", _var_type=str)
    own = rx.Var(f'/{OWN_LINK}/.test(props.href ?? "")', _var_type=bool)
    return rx.el.a(
        *children,
        rel="noopener noreferrer nofollow",
        target=rx.cond(own, "_self", "_blank"),
        class_name="finch-md-link",
        custom_attrs={"to": href, "reloadDocument": True},
    )


def _table(*children: rx.Var, **_props: rx.Var) -> rx.Component:
    """A table in an answer scrolls sideways on its own (a visible bar, not the whole answer)."""
    return rx.el.div(rx.el.table(*children), class_name="finch-md-table")


def _cell(*children: rx.Var, **_props: rx.Var) -> rx.Component:
    """A cell that can be focused by a tap: long text is cut (CSS) and shown whole on hover,
    tap or focus; react-markdown's alignment comes through in its props."""
    return rx.el.td(rx.el.span(*children, class_name="finch-cell"), tab_index=-1)


def markdown(text: rx.Var[str]) -> rx.Component:
    """Model and tool text as markdown: no raw HTML, no images, and `$` stays money, not math."""
    return rx.markdown(
        text,
        use_raw=False,
        use_math=False,
        use_katex=False,
        class_name="finch-md",
        component_map={"img": _image_as_text, "a": _link, "table": _table, "td": _cell},
    )


def _step(step: rx.Var[StepView]) -> rx.Component:
    return rx.el.li(
        rx.el.div(
            rx.el.span(step.tool_name, class_name="finch-step-name"),
            rx.el.span(step.arguments, class_name="finch-step-args"),
            rx.el.span(
                step.status, class_name="finch-step-status", custom_attrs={"data-status": step.status}
            ),
            rx.el.span(step.duration, class_name="finch-step-duration"),
            class_name="finch-step-head",
        ),
        rx.cond(step.summary != "", rx.el.div(step.summary, class_name="finch-step-summary")),
        rx.cond(step.error != "", rx.el.div(step.error, class_name="finch-step-error")),
        rx.cond(
            step.audit != "",
            rx.el.div(step.audit, class_name="finch-step-audit", custom_attrs={"data-testid": "step-audit"}),
        ),
        class_name="finch-step",
    )


def steps_summary(message: rx.Var[MessageView]) -> rx.Component:
    """The collapsed "Used 2 tools · 0.9 s" line that expands to each call (native <details>).

    Under an answer that just arrived, the turn's cards are still there, fading: the line takes
    their place once they have gone (CSS, same delay), so the two never say the same thing at once.
    """
    return rx.cond(
        message.steps_label != "",
        rx.el.details(
            rx.el.summary(message.steps_label, class_name="finch-steps-label"),
            rx.el.ul(rx.foreach(message.steps, _step), class_name="finch-steps"),
            class_name=rx.cond(
                message.cards.length() > 0, "finch-steps-box finch-steps-late", "finch-steps-box"
            ),
            style={"--finch-fade-delay": f"{get_settings().card_fade_ms}ms"},
            custom_attrs={"data-testid": "tool-steps", "data-failed": message.failed},
        ),
    )


def user_bubble(content: rx.Var[str], actions: rx.Component | None = None) -> rx.Component:
    return rx.el.div(
        rx.el.div(content, class_name="finch-user-text"),
        *([actions] if actions is not None else []),
        class_name="finch-row finch-row-user",
        custom_attrs={"data-testid": "user-message"},
    )


def _question_actions(message: rx.Var[MessageView]) -> rx.Component:
    """Edit a question: its text goes into the composer; sending asks it again in its place."""
    return rx.el.div(
        rx.el.button(
            icon("pencil", 14),
            on_click=[
                rx.set_value("composer", message.content),
                rx.set_focus("composer"),
                LiveTurnState.start_edit(message.id),
            ],
            type="button",
            class_name="finch-msg-action",
            title="Edit and send again",
            aria_label="Edit this question",
            custom_attrs={"data-testid": "edit-question"},
        ),
        class_name="finch-msg-actions finch-msg-actions-user",
    )


def _answer_actions(message: rx.Var[MessageView]) -> rx.Component:
    """Copy an answer as Markdown or as plain text (in the browser: nothing goes to the server)."""
    return rx.el.div(
        rx.el.button(
            icon("copy", 14),
            rx.el.span("Copy", class_name="finch-action-text"),
            on_click=[rx.set_clipboard(message.content), rx.toast("Copied as Markdown")],
            type="button",
            class_name="finch-msg-action",
            title="Copy as Markdown",
            aria_label="Copy answer as Markdown",
            custom_attrs={"data-testid": "copy-markdown"},
        ),
        rx.el.button(
            icon("type", 14),
            rx.el.span("Copy text", class_name="finch-action-text"),
            on_click=[rx.set_clipboard(message.plain), rx.toast("Copied as plain text")],
            type="button",
            class_name="finch-msg-action",
            title="Copy as plain text",
            aria_label="Copy answer as plain text",
            custom_attrs={"data-testid": "copy-text"},
        ),
        class_name="finch-msg-actions",
    )


@rx.memo
def markdown_block(text: rx.Var[str], rest: rx.RestProp) -> rx.Component:
    """A finished block of a streaming answer: rendered once, skipped while later ones stream."""
    return rx.el.div(markdown(text), rest)


@rx.memo
def needs_auth_callout() -> rx.Component:
    """The ways to give Finch a portfolio, under a "no portfolio yet" answer. Its own memo
    component, so only it (not every transcript row) follows `PortfolioState`."""
    return rx.el.div(
        rx.el.div(
            rx.el.strong("No portfolio yet. "),
            "Add your holdings, import a broker CSV",
            rx.cond(PortfolioState.brokerage_available, ", connect your brokerage", ""),
            ", or try the demo.",
        ),
        rx.el.div(
            rx.el.button(
                "Add holdings", on_click=PortfolioState.open_panel, class_name="finch-action", type="button"
            ),
            rx.el.button(
                "Import CSV", on_click=PortfolioState.open_panel, class_name="finch-action", type="button"
            ),
            rx.cond(PortfolioState.brokerage_available, connect_brokerage_button()),
            rx.el.button(
                "Load demo portfolio",
                on_click=PortfolioState.load_demo_and_ask_again,
                class_name="finch-action finch-action-primary",
                type="button",
                custom_attrs={"data-testid": "load-demo-and-ask"},
            ),
            class_name="finch-callout-actions",
        ),
        rx.cond(
            PortfolioState.portal_url != "",
            rx.el.div(
                "Linked your account in the SnapTrade window? ",
                rx.el.button(
                    "Ask again",
                    on_click=LiveTurnState.retry,
                    class_name="finch-action",
                    type="button",
                    custom_attrs={"data-testid": "ask-again"},
                ),
                class_name="finch-callout-actions",
            ),
        ),
        class_name="finch-callout finch-callout-auth",
        custom_attrs={"data-testid": "needs-auth"},
    )


def avatar() -> rx.Component:
    return rx.el.div(icon("bird", 15), class_name="finch-avatar", aria_hidden="true")


def assistant_bubble(message: rx.Var[MessageView]) -> rx.Component:
    return rx.el.div(
        avatar(),
        rx.el.div(
            steps_summary(message),
            rx.cond(
                message.failed & (message.status == "completed"),
                rx.el.div(
                    icon("triangle-alert", 15),
                    "Finch couldn't get the data this answer needed.",
                    class_name="finch-failed-note",
                ),
            ),
            rx.cond(message.content != "", markdown(message.content)),
            rx.cond(message.needs_auth, needs_auth_callout()),
            rx.match(
                message.status,
                (
                    "error",
                    rx.el.div(
                        icon("triangle-alert", 15),
                        rx.el.span(message.error, rx.cond(message.retryable, " — you can try again.", "")),
                        class_name="finch-callout finch-callout-error",
                    ),
                ),
                ("cancelled", rx.el.div(icon("square", 12), "Stopped", class_name="finch-mark")),
                (
                    "interrupted",
                    rx.el.div(
                        icon("triangle-alert", 15),
                        rx.el.span("Interrupted: ", message.error),
                        class_name="finch-callout finch-callout-error",
                    ),
                ),
                rx.fragment(),
            ),
            rx.cond(message.content != "", _answer_actions(message)),
            class_name="finch-assistant-body",
        ),
        class_name="finch-row finch-row-assistant",
        custom_attrs={
            "data-testid": "assistant-message",
            "data-status": message.status,
            "data-failed": message.failed,
        },
    )


@rx.memo
def message_row(message: rx.Var[MessageView], rest: rx.RestProp) -> rx.Component:
    """One transcript row; `rest` forwards the list's `key` so React can skip unchanged rows.

    An answer that just arrived brings its turn's cards, which stay where the live cards were
    and fade out like them (CSS), so moving the turn into the transcript changes nothing on screen.
    """
    return rx.el.div(
        rx.cond(
            message.role == "user",
            user_bubble(message.content, _question_actions(message)),
            rx.fragment(
                rx.cond(
                    message.cards.length() > 0,
                    rx.el.div(rx.foreach(message.cards, tool_card), class_name="finch-cards"),
                ),
                assistant_bubble(message),
            ),
        ),
        rest,
        class_name="finch-row-wrap",
    )
