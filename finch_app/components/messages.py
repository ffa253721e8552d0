"""Transcript rows. Each row is an `rx.memo` component keyed by message id, so a new
row re-renders only itself and the live turn never re-renders the transcript.
"""

from __future__ import annotations

import reflex as rx

from finch_app.states.portfolio import PortfolioState
from finch_app.views import MessageView, StepView


_IMAGE_ALT = rx.Var(_js_expr="(props.alt || 'image')", _var_type=str)


def _image_as_text(*_children: rx.Var, **_props: rx.Var) -> rx.Component:
    """Images in model output are shown as their alt text: an `<img>` would be a beacon."""
    return rx.el.span("[", _IMAGE_ALT, "]", class_name="finch-md-img")


def _link(*children: rx.Var, **_props: rx.Var) -> rx.Component:
    """Links open in a new tab and tell the target nothing (react-markdown already drops
    `javascript:` and other unsafe URLs; the CSP would block them too)."""
    return rx.el.a(*children, rel="noopener noreferrer nofollow", target="_blank", class_name="finch-md-link")


def markdown(text: rx.Var[str]) -> rx.Component:
    """Model and tool text as markdown: no raw HTML, no images, and `$` stays money, not math."""
    return rx.markdown(
        text,
        use_raw=False,
        use_math=False,
        use_katex=False,
        class_name="finch-md",
        component_map={"img": _image_as_text, "a": _link},
    )


def _step(step: rx.Var[StepView]) -> rx.Component:
    return rx.el.li(
        rx.el.div(
            rx.el.span(step.tool_name, class_name="finch-step-name"),
            rx.el.span(step.arguments, class_name="finch-step-args"),
            rx.el.span(step.status, class_name="finch-step-status", custom_attrs={"data-status": step.status}),
            rx.el.span(step.duration, class_name="finch-step-duration"),
            class_name="finch-step-head",
        ),
        rx.cond(step.summary != "", rx.el.div(step.summary, class_name="finch-step-summary")),
        rx.cond(step.error != "", rx.el.div(step.error, class_name="finch-step-error")),
        class_name="finch-step",
    )


def steps_summary(message: rx.Var[MessageView]) -> rx.Component:
    """The collapsed "Used 2 tools · 0.9 s" line that expands to each call (native <details>)."""
    return rx.cond(
        message.steps_label != "",
        rx.el.details(
            rx.el.summary(message.steps_label, class_name="finch-steps-label"),
            rx.el.ul(rx.foreach(message.steps, _step), class_name="finch-steps"),
            class_name="finch-steps-box",
            custom_attrs={"data-testid": "tool-steps"},
        ),
    )


def user_bubble(content: rx.Var[str]) -> rx.Component:
    return rx.el.div(
        rx.el.div(content, class_name="finch-user-text"),
        class_name="finch-row finch-row-user",
        custom_attrs={"data-testid": "user-message"},
    )


def assistant_bubble(message: rx.Var[MessageView]) -> rx.Component:
    return rx.el.div(
        rx.el.div("F", class_name="finch-avatar", aria_hidden="true"),
        rx.el.div(
            steps_summary(message),
            rx.cond(message.content != "", markdown(message.content)),
            rx.cond(
                message.needs_auth,
                rx.el.div(
                    rx.el.div(rx.el.strong("No portfolio yet. "), "Add your holdings, import a broker CSV, or try the demo."),
                    rx.el.div(
                        rx.el.button("Add holdings", on_click=PortfolioState.open_panel, class_name="finch-action", type="button"),
                        rx.el.button("Import CSV", on_click=PortfolioState.open_panel, class_name="finch-action", type="button"),
                        rx.el.button(
                            "Load demo portfolio",
                            on_click=PortfolioState.load_demo_and_ask_again,
                            class_name="finch-action finch-action-primary",
                            type="button",
                            custom_attrs={"data-testid": "load-demo-and-ask"},
                        ),
                        class_name="finch-callout-actions",
                    ),
                    class_name="finch-callout finch-callout-auth",
                    custom_attrs={"data-testid": "needs-auth"},
                ),
            ),
            rx.match(
                message.status,
                ("error", rx.el.div("⚠ ", message.error, rx.cond(message.retryable, " — you can try again.", ""), class_name="finch-callout finch-callout-error")),
                ("stopped", rx.el.div("■ Stopped", class_name="finch-mark")),
                ("interrupted", rx.el.div("⚠ Interrupted: ", message.error, class_name="finch-callout finch-callout-error")),
                rx.fragment(),
            ),
            class_name="finch-assistant-body",
        ),
        class_name="finch-row finch-row-assistant",
        custom_attrs={"data-testid": "assistant-message", "data-status": message.status},
    )


@rx.memo
def message_row(message: rx.Var[MessageView], rest: rx.RestProp) -> rx.Component:
    """One transcript row; `rest` forwards the list's `key` so React can skip unchanged rows."""
    return rx.el.div(
        rx.cond(message.role == "user", user_bubble(message.content), assistant_bubble(message)),
        rest,
        class_name="finch-row-wrap",
    )
