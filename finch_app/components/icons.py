"""Icons from Lucide (shipped with Reflex): drawn as SVG, so they never depend on an emoji font."""

from __future__ import annotations

import reflex as rx


def icon(name: str, size: int = 16) -> rx.Component:
    """A decorative icon; the control it sits in carries the words (or an aria-label)."""
    return rx.icon(name, size=size, class_name="finch-icon", aria_hidden="true")
