"""Reflex configuration. Finch's own settings live in finch_app/settings.py."""

import reflex as rx

from finch_app.settings import get_settings

config = rx.Config(
    app_name="finch_app",
    db_url=get_settings().database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
