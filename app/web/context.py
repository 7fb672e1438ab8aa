"""Template globals and filters shared by every page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import format_datetime, get_locale
from flask_login import current_user

from app.accounts.labels import role_label
from app.accounts.permissions import can
from app.web.navigation import nav_items


def current_language() -> str:
    """The code of the page's language as the switcher names it: ``zh_CN`` or ``en``."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def init_app(app: Flask) -> None:
    @app.context_processor
    def _globals() -> dict[str, Any]:
        user = current_user
        return {
            "current_locale": current_language(),
            "nav": nav_items(user) if user and user.is_authenticated else [],
            "can": can,
            "role_label": role_label,
        }

    @app.template_filter("datetimeformat")
    def _datetimeformat(value: datetime | None, fmt: str = "medium") -> str:
        return format_datetime(value, fmt) if value else ""

    @app.template_filter("reject_page")
    def _reject_page(args: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in args.items() if k != "page"}
