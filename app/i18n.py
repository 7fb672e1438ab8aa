"""Language selection: the ``lang`` query parameter, the session, the user, the browser."""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_login import current_user

from app.extensions import babel


def select_locale() -> str:
    supported: list[str] = current_app.config["LANGUAGES"]
    wanted = request.args.get("lang") or session.get("lang")
    if wanted in supported:
        return wanted
    if current_user and current_user.is_authenticated and current_user.locale in supported:
        return str(current_user.locale)
    best = request.accept_languages.best_match([*supported, "zh", "zh-CN", "en-US", "en-GB"])
    if best:
        return "en" if best.startswith("en") else "zh_CN"
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def select_timezone() -> str:
    return str(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
