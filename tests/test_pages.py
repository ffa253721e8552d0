"""Every page builds: the component tree evaluates against the states (what `reflex run`
compiles first), so a mistake there fails here in a second rather than in a browser test."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("page", ["chat_page", "login_page", "settings_page"])
def test_the_page_builds(page):
    from finch_app import finch_app  # noqa: F401  (the app and its states, as Reflex loads them)
    from finch_app.pages import account, chat

    build = getattr(chat, page, None) or getattr(account, page)
    component = build()
    assert component.render()
