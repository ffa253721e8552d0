"""The live tool card: the hot path, so plain elements and CSS only.

Status-dependent bits (spinner, live timer, fade-out, the status and table glyphs) are driven
by CSS from the `data-status` attribute: an event changes one attribute and one label, nothing
else. No icon components here: the glyphs are CSS masks, so a card stays a few plain elements.
"""

from __future__ import annotations

import reflex as rx

from finch_app.settings import get_settings
from finch_app.states.chat import ChatState
from finch_app.states.results import ResultsState
from finch_app.views import CardView


def approval_form(card: rx.Var[CardView]) -> rx.Component:
    """The question a change asks: what it would do, in plain words and exactly, and the user's answer."""
    return rx.cond(
        card.decision == "",
        rx.el.form(
            rx.el.p(
                card.description,
                class_name="finch-card-ask",
                custom_attrs={"data-testid": "approval-description"},
            ),
            rx.el.input(type="hidden", name="run_id", value=card.run_id),
            rx.el.input(type="hidden", name="tool_call_id", value=card.tool_call_id),
            rx.el.div(
                rx.el.button(
                    "Approve",
                    type="button",
                    on_click=ChatState.approve(card.run_id, card.tool_call_id),
                    class_name="finch-btn finch-btn-send",
                    custom_attrs={"data-testid": "approve"},
                ),
                rx.el.button(
                    "Always allow " + card.tool_label,
                    type="button",
                    on_click=ChatState.approve_always(card.run_id, card.tool_call_id),
                    class_name="finch-action",
                    custom_attrs={"data-testid": "approve-always"},
                ),
                rx.el.input(
                    name="reason",
                    placeholder="Reason (optional)",
                    max_length=500,
                    aria_label="Reason for denying",
                    class_name="finch-card-reason",
                    custom_attrs={"data-testid": "deny-reason"},
                ),
                rx.el.button(
                    "Deny", type="submit", class_name="finch-action", custom_attrs={"data-testid": "deny"}
                ),
                class_name="finch-card-decide",
            ),
            on_submit=ChatState.deny,
            reset_on_submit=False,
            class_name="finch-card-approval",
        ),
    )


def _odometer_digit(place: str) -> rx.Component:
    return rx.el.span(rx.el.span("\n".join("0123456789")), class_name=f"finch-digit finch-digit-{place}")


def elapsed_timer(delay: rx.Var[str]) -> rx.Component:
    """A running card's "12.3 s", counted by the browser's compositor (see .finch-timer in
    finch.css): the server sends nothing while a tool runs."""
    return rx.el.span(
        *(_odometer_digit(place) for place in ("thousands", "hundreds", "tens", "ones")),
        ".",
        _odometer_digit("tenths"),
        "\u00a0s",
        class_name="finch-timer",
        aria_hidden="true",
        style={"--finch-timer-delay": delay},
    )


def tool_card(card: rx.Var[CardView]) -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.el.span(class_name="finch-card-icon"),
            rx.el.span(rx.el.strong(card.tool_label), class_name="finch-card-name"),
            rx.el.span(card.arguments, class_name="finch-card-args"),
            rx.el.span(
                rx.el.span(card.status_label, class_name="finch-card-label"),
                elapsed_timer(card.timer_delay),
                class_name="finch-card-status",
            ),
            class_name="finch-card-head",
        ),
        rx.cond(
            card.progress_message != "",
            rx.el.div(
                rx.el.span(card.progress_message, class_name="finch-card-progress-text"),
                rx.cond(
                    card.progress_pct >= 0,
                    rx.el.div(
                        rx.el.div(
                            class_name="finch-bar-fill", style={"width": card.progress_pct.to_string() + "%"}
                        ),
                        class_name="finch-bar",
                        role="progressbar",
                    ),
                ),
                class_name="finch-card-progress",
            ),
        ),
        rx.cond(card.summary != "", rx.el.div(card.summary, class_name="finch-card-summary")),
        rx.cond(card.can_decide, approval_form(card)),
        rx.cond(card.decision != "", rx.el.div(card.decision, class_name="finch-card-decision")),
        rx.cond(
            card.resource_id != "",
            rx.el.button(
                card.resource_label,
                on_click=ResultsState.open(card.resource_id),
                type="button",
                class_name="finch-card-resource",
                custom_attrs={"data-testid": "resource-link"},
            ),
        ),
        class_name="finch-card",
        style={"--finch-fade-delay": f"{get_settings().card_fade_ms}ms"},
        custom_attrs={
            "data-testid": "tool-card",
            "data-tool": card.tool_name,
            "data-status": card.status,
            "data-started-at": card.started_at_ms,
        },
    )
