"""Who is asking: session or bearer token, CSRF, and the project scope of the request."""

from __future__ import annotations

from flask import Flask, Request, request
from flask_login import current_user

from app.accounts.models import User
from app.accounts.operations import active_user, user_for_token
from app.extensions import csrf, login_manager
from app.scoping import set_scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return active_user(int(user_id))


@login_manager.request_loader
def _load_user_from_token(req: Request) -> User | None:
    token = bearer_token(req)
    return user_for_token(token) if token else None


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None

    @app.before_request
    def _protect() -> None:
        # Bearer-token API calls carry no cookie, so they cannot be forged cross-site, and
        # public API endpoints act on no session; every other write (forms, or the API from
        # our own pages) needs the CSRF token.
        if request.method in SAFE_METHODS:
            return
        if is_api_request():
            view = app.view_functions.get(request.endpoint or "")
            if bearer_token(request) or getattr(view, "openapi", {}).get("public"):
                return
        csrf.protect(apply_exemptions=True)  # honours @csrf.exempt (signed webhooks)

    @app.before_request
    def _scope() -> None:
        if current_user.is_authenticated:
            set_scope(None if current_user.sees_all_projects else current_user.project_ids)
        else:
            set_scope(frozenset())
