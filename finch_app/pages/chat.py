"""The chat page: conversation list, transcript, live turn and composer."""

from __future__ import annotations

import reflex as rx

from finch_app.components.messages import markdown, markdown_block, message_row, user_bubble
from finch_app.components.portfolio import portfolio_panel
from finch_app.components.results import resource_viewer, results_panel
from finch_app.components.tool_card import tool_card
from finch_app.pages.account import sign_out_button
from finch_app.settings import get_settings
from finch_app.states.auth import AuthState
from finch_app.states import visit
from finch_app.states.chat import ChatState, ConversationItem, LiveTurnState
from finch_app.states.portfolio import PortfolioState

SUGGESTIONS = (
    ("Review my portfolio", "Holdings, value and gains"),
    ("What's trending on Reddit?", "Most-mentioned tickers today"),
    ("Get recent Senate trades", "Latest disclosures"),
    ("Compare my portfolio with recent Senate trades", "Overlap with your holdings"),
)


def _conversation_link(item: rx.Var[ConversationItem]) -> rx.Component:
    return rx.el.div(
        rx.link(
            item.title,
            href=item.href,
            class_name="finch-conv-link",
            custom_attrs={"data-testid": "conversation-link", "data-active": item.id == ChatState.conversation_id},
        ),
        rx.el.button(
            "×",
            on_click=ChatState.delete_conversation(item.id),
            class_name="finch-conv-delete",
            title="Delete conversation",
            aria_label="Delete conversation",
        ),
        class_name="finch-conv",
        custom_attrs={"data-active": item.id == ChatState.conversation_id},
    )


def sidebar() -> rx.Component:
    return rx.el.aside(
        rx.el.div(
            rx.el.span("🐦", class_name="finch-logo", aria_hidden="true"),
            rx.el.span("Finch", class_name="finch-brand-name"),
            class_name="finch-brand",
        ),
        rx.el.button("＋ New chat", on_click=ChatState.new_chat, class_name="finch-new-chat", custom_attrs={"data-testid": "new-chat"}),
        rx.el.button(
            "💼 Portfolio",
            on_click=PortfolioState.open_panel,
            class_name="finch-side-btn",
            type="button",
            custom_attrs={"data-testid": "open-portfolio"},
        ),
        rx.el.nav(
            rx.cond(
                ChatState.conversations.length() > 0,
                rx.foreach(ChatState.conversations, _conversation_link),
                rx.el.p("Your conversations will appear here.", class_name="finch-muted finch-conv-empty"),
            ),
            class_name="finch-conv-list",
            aria_label="Conversations",
        ),
        rx.el.div(
            rx.el.span("Model: ", rx.el.strong(ChatState.model_label), custom_attrs={"data-testid": "model-label"}),
            rx.el.div(
                rx.cond(
                    AuthState.user_name != "",
                    rx.el.span(AuthState.user_name, custom_attrs={"data-testid": "user-name"}),
                ),
                rx.el.a("Settings", href="/settings", class_name="finch-link-btn", custom_attrs={"data-testid": "settings-link"}),
                rx.cond(AuthState.can_sign_out, sign_out_button()),
                class_name="finch-user",
            ),
            class_name="finch-sidebar-foot",
        ),
        class_name="finch-sidebar",
    )


def offline_banner() -> rx.Component:
    return rx.cond(
        ChatState.offline_model,
        rx.el.div(
            rx.el.strong("Offline model"),
            " — answers come from built-in rules and bundled sample data. Set ",
            rx.el.code("OPENAI_API_KEY"),
            " (and optionally ",
            rx.el.code("OPENAI_BASE_URL"),
            ", ",
            rx.el.code("FINCH_MODEL"),
            ") and restart to chat with a real model.",
            class_name="finch-banner",
            custom_attrs={"data-testid": "offline-banner"},
        ),
    )


def _suggestion(text: str, hint: str) -> rx.Component:
    return rx.el.button(
        rx.el.span(text, class_name="finch-suggestion-text"),
        rx.el.span(hint, class_name="finch-suggestion-hint"),
        on_click=LiveTurnState.send_suggestion(text),
        class_name="finch-suggestion",
        type="button",
    )


def empty_state() -> rx.Component:
    return rx.el.div(
        rx.el.h1("What would you like to know about your investments?", class_name="finch-empty-title"),
        rx.el.p(
            "Finch looks things up with tools and shows you each call as it happens.",
            class_name="finch-muted",
        ),
        rx.el.div(*[_suggestion(t, h) for t, h in SUGGESTIONS], class_name="finch-suggestions"),
        class_name="finch-empty",
    )


def load_earlier() -> rx.Component:
    """Older messages on demand, at the top of the transcript (the recent ones load first)."""
    return rx.el.button(
        "Load earlier messages",
        on_click=ChatState.load_earlier,
        type="button",
        hidden=~ChatState.has_earlier,
        class_name="finch-load-earlier",
        custom_attrs={"data-testid": "load-earlier"},
    )


def visit_turns() -> rx.Component:
    """The turns finished during this visit, one slot each, in the order `turn_order` gives them."""
    return rx.el.div(
        *[
            rx.el.div(
                rx.foreach(getattr(ChatState, visit.slot_var("turn", index)), lambda m: message_row(message=m, key=m.id)),
                class_name="finch-visit-turn",
                style={"order": ChatState.turn_order[index]},
            )
            for index in range(visit.SLOTS)
        ],
        class_name="finch-visit",
    )


def live_turn() -> rx.Component:
    """The running (or just finished) turn; reads only LiveTurnState."""
    return rx.el.div(
        rx.cond(LiveTurnState.user_text != "", user_bubble(LiveTurnState.user_text)),
        rx.el.div(
            rx.foreach(LiveTurnState.cards, tool_card),
            class_name="finch-cards",
            aria_live="polite",
        ),
        rx.cond(
            (LiveTurnState.text != "") | (LiveTurnState.streamed.length() > 0),
            rx.el.div(
                rx.el.div("F", class_name="finch-avatar", aria_hidden="true"),
                rx.el.div(
                    rx.foreach(LiveTurnState.streamed, lambda block, i: markdown_block(text=block, key=i)),
                    markdown(LiveTurnState.text),
                    class_name="finch-assistant-body finch-streaming",
                ),
                class_name="finch-row finch-row-assistant",
                custom_attrs={"data-testid": "streaming-message"},
            ),
            rx.cond(
                LiveTurnState.running & (LiveTurnState.user_text != "") & (LiveTurnState.cards.length() == 0),
                rx.el.div(rx.el.span(class_name="finch-dots"), "Thinking…", class_name="finch-thinking"),
            ),
        ),
        class_name="finch-live",
        custom_attrs={"data-seq": LiveTurnState.last_seq},
    )


def _action(label: str, title: str, testid: str) -> rx.Component:
    return rx.el.button(
        label,
        on_click=LiveTurnState.retry,
        class_name="finch-action",
        title=title,
        type="button",
        custom_attrs={"data-testid": testid},
    )


def answer_actions() -> rx.Component:
    """Retry after an error or a stop; regenerate a finished answer."""
    status = ChatState.last_status
    return rx.cond(
        ~LiveTurnState.running & (ChatState.conversation_id != ""),
        rx.el.div(
            rx.match(
                status,
                ("error", "cancelled", "interrupted", _action("↻ Retry", "Send the last question again", "retry")),
                ("completed", _action("↻ Regenerate", "Answer the last question again", "regenerate")),
                (
                    "awaiting_approval",
                    rx.el.button(
                        "■ Stop",
                        on_click=ChatState.stop_waiting,
                        class_name="finch-action",
                        title="Stop this answer: the change it asks about is not made",
                        type="button",
                        custom_attrs={"data-testid": "stop"},
                    ),
                ),
                rx.fragment(),
            ),
            class_name="finch-actions",
        ),
    )


def composer() -> rx.Component:
    limit = get_settings().max_message_chars
    return rx.el.div(
        rx.cond(
            LiveTurnState.notice != "",
            rx.el.div(LiveTurnState.notice, class_name="finch-notice", role="alert", custom_attrs={"data-testid": "notice"}),
        ),
        rx.el.form(
            rx.el.textarea(
                name="message",
                id="composer",
                placeholder="Ask about your portfolio, Reddit buzz, congressional trades…",
                rows=1,
                auto_height=True,
                enter_key_submit=True,
                max_length=limit * 2,
                class_name="finch-input",
                aria_label="Message",
                custom_attrs={"data-testid": "composer"},
            ),
            rx.cond(
                LiveTurnState.running,
                rx.el.button(
                    "■ Stop",
                    type="button",
                    on_click=LiveTurnState.stop,
                    class_name="finch-btn finch-btn-stop",
                    custom_attrs={"data-testid": "stop"},
                ),
                rx.el.button("Send ↑", type="submit", class_name="finch-btn finch-btn-send", custom_attrs={"data-testid": "send"}),
            ),
            on_submit=LiveTurnState.submit,
            reset_on_submit=False,
            class_name="finch-composer",
        ),
        rx.el.p(
            "Finch can be wrong. Not financial advice. Enter to send · Shift+Enter for a new line.",
            class_name="finch-fineprint",
        ),
        class_name="finch-composer-wrap",
    )


def chat_page() -> rx.Component:
    return rx.el.div(
        sidebar(),
        rx.el.main(
            rx.el.header(
                rx.el.span(rx.cond(ChatState.title != "", ChatState.title, "New chat"), class_name="finch-title"),
                class_name="finch-header",
            ),
            offline_banner(),
            rx.el.div(
                rx.el.div(
                    rx.cond(
                        ChatState.not_found,
                        rx.el.div("This conversation does not exist or was deleted.", class_name="finch-callout finch-callout-error"),
                    ),
                    rx.cond(
                        (ChatState.messages.length() == 0)
                        & (ChatState.turn_0.length() == 0)
                        & (LiveTurnState.user_text == ""),
                        empty_state(),
                    ),
                    load_earlier(),
                    rx.foreach(ChatState.earlier, lambda m: message_row(message=m, key=m.id)),
                    rx.foreach(ChatState.messages, lambda m: message_row(message=m, key=m.id)),
                    visit_turns(),
                    live_turn(),
                    answer_actions(),
                    class_name="finch-thread",
                ),
                class_name="finch-scroll",
            ),
            composer(),
            class_name="finch-main",
        ),
        results_panel(),
        portfolio_panel(),
        resource_viewer(),
        class_name="finch-app",
    )
