"""Reflex configuration. Finch's own settings live in finch_app/settings.py."""

import reflex as rx

from finch_app.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="finch_app",
    db_url=settings.database_url,
    # Other websites may not drive a local Finch from a visitor's browser.
    cors_allowed_origins=settings.cors_origins,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
