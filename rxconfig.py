"""Reflex configuration. Finch's own settings live in finch_app/settings.py."""

import os

import reflex as rx

from finch_app.settings import get_settings

if os.environ.get("FINCH_HOPTRACE") == "1":
    # Per-hop trace of tool cards for `make bench` (scripts/hoptrace.py); off unless asked for.
    from scripts.hoptrace import install

    install()

# The settings read here configure the backend (database, CORS) and never shape the page:
# `python -m finch_app serve` leaves them out of what decides whether to compile again.
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
    # Redis state locks (several workers). A plain handler holds its tab's lock for the whole
    # handler: opening a conversation reads the database, which under load (200 chats on two
    # cores) queues behind other work for seconds. Background runs take the lock only to copy
    # one batch of events. An expired lock silently drops the handler's writes, so leave room;
    # the price is how long a tab waits for a lock held by a worker that died (ms).
    redis_lock_expiration=30_000,
    redis_lock_warning_threshold=3_000,
)
