"""The chat page: conversation list, transcript, live turn and composer.

One layout for every width. Beside the chat on a laptop, the conversation list and the Results
panel become drawers on a phone (below 760 px and 1100 px): native popovers, so they open and
close in the browser (Escape and a tap outside close them) without a round trip or a script.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.vars.base import Var

from finch_app.components.elements import KeyArea, ScrollArea
from finch_app.components.icons import icon
from finch_app.components.messages import avatar, markdown, markdown_block, message_row, user_bubble
from finch_app.components.portfolio import portfolio_panel
from finch_app.components.results import RESULTS_DRAWER, resource_viewer, results_panel
from finch_app.components.tool_card import tool_card
from finch_app.pages.account import sign_out_button
from finch_app.settings import get_settings
from finch_app.states import visit
from finch_app.states.auth import AuthState
from finch_app.states.chat import ChatState, ConversationItem, LiveTurnState
from finch_app.states.portfolio import PortfolioState
from finch_app.states.results import ResultsState

SUGGESTIONS = (
    ("Review my portfolio", "Holdings, value and gains"),
    ("What's trending on Reddit?", "Most-mentioned tickers today"),
    ("Get recent Senate trades", "Latest disclosures"),
    ("Compare my portfolio with recent Senate trades", "Overlap with your holdings"),
)
NAV = "finch-nav"
"""The id of the conversation list's drawer (a popover below 760 px)."""
LOAD_EARLIER_PX = 400
"""Older messages load when the reader scrolls this close to the top."""


def popover_target(target: str | Var[str], action: str = "toggle") -> dict[str, str | Var[str]]:
    """Attributes of a button that opens, closes or toggles a popover (no script: the browser does it)."""
    return {"popoverTarget": target, "popoverTargetAction": action}


# --- the conversation list ---------------------------------------------------------------------------


def _menu_id(item: rx.Var[ConversationItem]) -> rx.Var[str]:
    return "conv-menu-" + item.id


def _conversation_menu(item: rx.Var[ConversationItem]) -> rx.Component:
    """Rename, export, delete: a menu button that Tab reaches (not a hover-only control)."""
    menu = _menu_id(item)
    anchor = "--conv-" + item.id

    def entry(label: str, name: str, on_click, testid: str, danger: bool = False) -> rx.Component:
        return rx.el.button(
            icon(name, 15),
            label,
            on_click=on_click,
            type="button",
            role="menuitem",
            class_name="finch-menu-item finch-menu-danger" if danger else "finch-menu-item",
            custom_attrs={"data-testid": testid, **popover_target(menu, "hide")},
        )

    return rx.fragment(
        rx.el.button(
            icon("ellipsis", 16),
            type="button",
            class_name="finch-conv-more",
            aria_label="Actions for " + item.title,
            aria_haspopup="menu",
            title="Rename, export or delete",
            style={"anchorName": anchor},
            custom_attrs={"data-testid": "conversation-menu", **popover_target(menu)},
        ),
        rx.el.div(
            entry("Rename", "pencil", ChatState.start_rename(item.id), "rename-conversation"),
            entry(
                "Export as Markdown",
                "file-down",
                ChatState.export_conversation(item.id),
                "export-conversation",
            ),
            entry("Delete…", "trash-2", ChatState.ask_delete(item.id), "delete-conversation", danger=True),
            id=menu,
            role="menu",
            class_name="finch-menu",
            style={"positionAnchor": anchor},
            custom_attrs={"popover": "auto"},
        ),
    )


def _rename_form(item: rx.Var[ConversationItem]) -> rx.Component:
    return rx.el.form(
        rx.el.input(
            name="title",
            default_value=item.title,
            auto_focus=True,
            max_length=120,
            class_name="finch-field finch-rename-input",
            aria_label="Conversation title",
            on_key_down=lambda key, _info: rx.cond(key == "Escape", ChatState.cancel_rename(), rx.noop()),
            custom_attrs={"data-testid": "rename-input"},
        ),
        rx.el.button(
            icon("check", 16),
            type="submit",
            class_name="finch-icon-btn",
            aria_label="Save title",
            custom_attrs={"data-testid": "rename-save"},
        ),
        rx.el.button(
            icon("x", 16),
            type="button",
            on_click=ChatState.cancel_rename,
            class_name="finch-icon-btn",
            aria_label="Cancel renaming",
        ),
        on_submit=ChatState.rename,
        reset_on_submit=False,
        class_name="finch-rename",
    )


def _confirm_delete(item: rx.Var[ConversationItem]) -> rx.Component:
    """Deleting asks first, and says what goes."""
    return KeyArea.create(
        rx.el.p(
            "Delete “",
            rx.el.strong(item.title),
            "”? Its messages and results are removed.",
            class_name="finch-confirm-text",
        ),
        rx.el.div(
            rx.el.button(
                icon("trash-2", 14),
                "Delete",
                on_click=ChatState.delete_conversation(item.id),
                type="button",
                class_name="finch-action finch-action-danger",
                custom_attrs={"data-testid": "confirm-delete"},
            ),
            rx.el.button(
                "Cancel",
                on_click=ChatState.cancel_delete,
                type="button",
                auto_focus=True,
                class_name="finch-action",
                custom_attrs={"data-testid": "cancel-delete"},
            ),
            class_name="finch-callout-actions",
        ),
        on_key_down=lambda key, _info: rx.cond(key == "Escape", ChatState.cancel_delete(), rx.noop()),
        class_name="finch-confirm finch-confirm-conv",
        role="alertdialog",
        aria_label="Delete conversation",
        custom_attrs={"data-testid": "delete-confirm"},
    )


def _conversation(item: rx.Var[ConversationItem]) -> rx.Component:
    active = item.id == ChatState.conversation_id
    return rx.el.div(
        rx.cond(
            item.id == ChatState.renaming_id,
            _rename_form(item),
            rx.cond(
                item.id == ChatState.deleting_id,
                _confirm_delete(item),
                rx.fragment(
                    rx.link(
                        item.title,
                        href=item.href,
                        class_name="finch-conv-link",
                        title=item.title,
                        aria_current=rx.cond(active, "page", "false"),
                        custom_attrs={"data-testid": "conversation-link", "data-active": active},
                    ),
                    _conversation_menu(item),
                ),
            ),
        ),
        class_name="finch-conv",
        custom_attrs={"data-active": active},
    )


def _side_button(label: str, name: str, on_click, testid: str) -> rx.Component:
    return rx.el.button(
        icon(name, 17),
        label,
        on_click=on_click,
        type="button",
        class_name="finch-side-btn",
        custom_attrs={"data-testid": testid, **popover_target(NAV, "hide")},
    )


def sidebar() -> rx.Component:
    return rx.el.aside(
        rx.el.div(
            rx.el.span(icon("bird", 20), class_name="finch-logo"),
            rx.el.span("Finch", class_name="finch-brand-name"),
            rx.el.button(
                icon("x", 18),
                type="button",
                class_name="finch-icon-btn finch-drawer-close",
                aria_label="Hide conversations",
                custom_attrs={"data-testid": "close-sidebar", **popover_target(NAV, "hide")},
            ),
            class_name="finch-brand",
        ),
        rx.el.button(
            icon("square-pen", 17),
            "New chat",
            on_click=ChatState.new_chat,
            type="button",
            class_name="finch-new-chat",
            custom_attrs={"data-testid": "new-chat", **popover_target(NAV, "hide")},
        ),
        _side_button("Portfolio", "briefcase", PortfolioState.open_panel, "open-portfolio"),
        rx.el.div(
            icon("search", 15),
            rx.el.input(
                type="search",
                placeholder="Search conversations",
                default_value=ChatState.search,
                on_change=ChatState.search_conversations.debounce(250),
                class_name="finch-search-input",
                aria_label="Search conversations",
                custom_attrs={"data-testid": "conversation-search"},
            ),
            class_name="finch-search",
        ),
        rx.el.nav(
            rx.cond(
                ChatState.conversations.length() > 0,
                rx.foreach(ChatState.conversations, _conversation),
                rx.el.p(
                    rx.cond(
                        ChatState.search != "",
                        "No conversation matches.",
                        "Your conversations will appear here.",
                    ),
                    class_name="finch-muted finch-conv-empty",
                ),
            ),
            class_name="finch-conv-list",
            aria_label="Conversations",
        ),
        rx.el.div(
            rx.el.span(
                "Model: ", rx.el.strong(ChatState.model_label), custom_attrs={"data-testid": "model-label"}
            ),
            rx.el.div(
                rx.cond(
                    AuthState.user_name != "",
                    rx.el.span(AuthState.user_name, custom_attrs={"data-testid": "user-name"}),
                ),
                rx.el.a(
                    icon("settings", 14),
                    "Settings",
                    href="/settings",
                    class_name="finch-link-btn",
                    custom_attrs={"data-testid": "settings-link"},
                ),
                rx.cond(AuthState.can_sign_out, sign_out_button()),
                class_name="finch-user",
            ),
            class_name="finch-sidebar-foot",
        ),
        id=NAV,
        # A new conversation in the list (a link's page, New chat) remounts the list: an open
        # drawer closes as the page changes, as a phone user expects.
        key=ChatState.conversation_id,
        class_name="finch-sidebar",
        aria_label="Finch",
        custom_attrs={"popover": "auto"},
    )


# --- header, banner, empty state ---------------------------------------------------------------------


def header() -> rx.Component:
    return rx.el.header(
        rx.el.button(
            icon("menu", 20),
            type="button",
            class_name="finch-icon-btn finch-nav-btn",
            aria_label="Conversations and settings",
            custom_attrs={"data-testid": "open-sidebar", **popover_target(NAV, "show")},
        ),
        rx.el.h1(rx.cond(ChatState.title != "", ChatState.title, "New chat"), class_name="finch-title"),
        rx.el.button(
            icon("table-2", 18),
            rx.el.span("Results", class_name="finch-results-btn-text"),
            rx.cond(ResultsState.count > 0, rx.el.span(ResultsState.count, class_name="finch-badge")),
            type="button",
            class_name="finch-results-btn",
            aria_label="Results (tables and charts)",
            custom_attrs={"data-testid": "open-results", **popover_target(RESULTS_DRAWER, "show")},
        ),
        class_name="finch-header",
    )


def offline_banner() -> rx.Component:
    """What the offline model means for the user, in a line (how to set up a real model is in the
    README and on the settings page, for whoever runs this Finch)."""
    return rx.cond(
        ChatState.offline_model,
        rx.el.div(
            icon("info", 15),
            rx.el.span(rx.el.strong("Offline mode"), " · sample data, not live markets"),
            class_name="finch-banner",
            role="note",
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
        custom_attrs={"data-testid": "suggestion"},
    )


def empty_state() -> rx.Component:
    return rx.el.div(
        rx.el.h2("What would you like to know about your investments?", class_name="finch-empty-title"),
        rx.el.p(
            "Finch looks things up with tools and shows you each call as it happens.",
            class_name="finch-muted",
        ),
        rx.el.div(*[_suggestion(t, h) for t, h in SUGGESTIONS], class_name="finch-suggestions"),
        class_name="finch-empty",
    )


# --- the transcript ---------------------------------------------------------------------------------


def load_earlier() -> rx.Component:
    """Older messages on demand at the top of the transcript; scrolling near it loads them too."""
    return rx.el.button(
        icon("arrow-up", 14),
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
                rx.foreach(
                    getattr(ChatState, visit.slot_var("turn", index)),
                    lambda m: message_row(message=m, key=m.id),
                ),
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
                avatar(),
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


def _action(
    label: str, name: str, title: str, testid: str, on_click: Any = LiveTurnState.retry
) -> rx.Component:
    return rx.el.button(
        icon(name, 14),
        label,
        on_click=on_click,
        class_name="finch-action",
        title=title,
        type="button",
        custom_attrs={"data-testid": testid},
    )


def answer_actions() -> rx.Component:
    """Retry a failed or stopped answer; regenerate a good one."""
    status = ChatState.last_status
    return rx.cond(
        ~LiveTurnState.running & (ChatState.conversation_id != ""),
        rx.el.div(
            rx.cond(
                ChatState.last_failed,
                _action("Retry", "rotate-ccw", "Ask the last question again", "retry"),
                rx.match(
                    status,
                    (
                        "error",
                        "cancelled",
                        "interrupted",
                        _action("Retry", "rotate-ccw", "Ask the last question again", "retry"),
                    ),
                    (
                        "completed",
                        _action("Regenerate", "refresh-cw", "Answer the last question again", "regenerate"),
                    ),
                    (
                        "awaiting_approval",
                        _action(
                            "Stop",
                            "square",
                            "Stop this answer: the change it asks about is not made",
                            "stop",
                            on_click=ChatState.stop_waiting,
                        ),
                    ),
                    rx.fragment(),
                ),
            ),
            class_name="finch-actions",
        ),
    )


def _near_top(top: Var[float], height: Var[float], client: Var[float]):
    """Load the page of older messages when the reader nears the top (the column is reversed, so
    `scrollTop` runs from 0 at the bottom to minus the overflow at the top). Only then is an event
    sent: plain scrolling costs the server nothing."""
    return rx.cond(
        ChatState.has_earlier & (height - client + top < LOAD_EARLIER_PX),
        ChatState.load_earlier.throttle(700),
        rx.noop(),
    )


def thread() -> rx.Component:
    return rx.el.div(
        ScrollArea.create(
            # The very bottom of the thread (first in the reversed column, below its padding):
            # "Latest" and sending scroll it into view, which pins the view to new content again.
            rx.el.div(id="finch-end", class_name="finch-end", aria_hidden="true"),
            rx.el.div(
                rx.cond(
                    ChatState.not_found,
                    rx.el.div(
                        "This conversation does not exist or was deleted.",
                        class_name="finch-callout finch-callout-error",
                    ),
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
            on_scroll=_near_top,
            class_name="finch-scroll",
            tab_index=0,
            aria_label="Conversation",
            custom_attrs={"data-testid": "thread"},
        ),
        rx.el.button(
            icon("arrow-down", 16),
            rx.el.span("Latest"),
            on_click=rx.scroll_to("finch-end", False),
            type="button",
            class_name="finch-jump",
            aria_label="Jump to the latest message",
            custom_attrs={"data-testid": "jump-latest"},
        ),
        class_name="finch-scroll-wrap",
    )


# --- the composer -----------------------------------------------------------------------------------


def composer() -> rx.Component:
    limit = get_settings().max_message_chars
    return rx.el.div(
        rx.cond(
            LiveTurnState.notice != "",
            rx.el.div(
                LiveTurnState.notice,
                class_name="finch-notice",
                role="alert",
                custom_attrs={"data-testid": "notice"},
            ),
        ),
        rx.cond(
            LiveTurnState.editing_id != "",
            rx.el.div(
                icon("pencil", 14),
                rx.el.span("Editing your question: sending it replaces it and the answers after it."),
                rx.el.button(
                    "Cancel",
                    on_click=LiveTurnState.cancel_edit,
                    type="button",
                    class_name="finch-link-btn",
                    custom_attrs={"data-testid": "cancel-edit"},
                ),
                class_name="finch-editing",
                custom_attrs={"data-testid": "editing"},
            ),
        ),
        rx.el.form(
            rx.el.textarea(
                name="message",
                id="composer",
                placeholder="Ask about a stock or your portfolio",
                rows=1,
                # A new conversation's first answer moves to its own page (a fresh composer):
                # focus starts here there too, as on any page of the chat.
                auto_focus=True,
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
                    icon("square", 14),
                    rx.el.span("Stop", class_name="finch-btn-text"),
                    type="button",
                    on_click=LiveTurnState.stop,
                    class_name="finch-btn finch-btn-stop",
                    aria_label="Stop",
                    custom_attrs={"data-testid": "stop"},
                ),
                rx.el.button(
                    icon("arrow-up", 16),
                    rx.el.span("Send", class_name="finch-btn-text"),
                    type="submit",
                    class_name="finch-btn finch-btn-send",
                    aria_label="Send",
                    custom_attrs={"data-testid": "send"},
                ),
            ),
            # Sending from higher up the thread (an edited question) brings the reader to the answer.
            on_submit=[LiveTurnState.submit, rx.scroll_to("finch-end", False)],
            reset_on_submit=False,
            class_name="finch-composer",
        ),
        rx.el.p(
            "Finch can be wrong. Not financial advice.",
            rx.el.span(" Enter to send · Shift+Enter for a new line.", class_name="finch-keys-hint"),
            class_name="finch-fineprint",
        ),
        class_name="finch-composer-wrap",
    )


NEW_CHAT_ROUTE = "/"
CONVERSATION_ROUTE = "/c/[cid]"


def chat_page(route: str = NEW_CHAT_ROUTE) -> rx.Component:
    """The chat, at `/` (a new chat) or `/c/<id>`. These are two pages to the router, so a new
    chat's first answer, which moves the address to `/c/<id>`, draws the page anew; `data-route`
    says which one is on screen."""
    return rx.el.div(
        sidebar(),
        rx.el.main(
            header(),
            offline_banner(),
            thread(),
            composer(),
            class_name="finch-main",
        ),
        results_panel(),
        portfolio_panel(),
        resource_viewer(),
        class_name="finch-app",
        custom_attrs={"data-route": route},
    )
