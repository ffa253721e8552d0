"""The tools a user chose to always allow (they no longer ask first): listed and revocable."""

from __future__ import annotations

import reflex as rx

from finch_app.context import app_context
from finch_app.states.auth import current_user_id


class PermissionsState(rx.State):
    allowed: list[str] = []
    """Names of the tools that change data without asking this user first."""

    @rx.event
    async def on_load(self):
        self.allowed = await app_context().reads.allowed_tools(current_user_id(self))

    @rx.event
    async def revoke(self, tool_name: str):
        """The tool asks again before each change."""
        user_id = current_user_id(self)
        await app_context().runs.revoke_tool(user_id=user_id, tool_name=tool_name)
        self.allowed = await app_context().reads.allowed_tools(user_id)
