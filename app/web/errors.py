"""Error answers: plain-words pages for people, one JSON shape for the API."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError
from app.scoping import ScopeViolation
from app.web.security import is_api_request


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood. Check what you entered and try again.")),  # noqa: E501
        401: (_("Please sign in"), _("You need to sign in to see this page.")),
        403: (_("Not allowed"), _("Your account does not have permission to do this. Ask your administrator if you need it.")),  # noqa: E501
        404: (_("Not found"), _("This page or record does not exist, or it belongs to a project you cannot access.")),  # noqa: E501
        405: (_("Not allowed"), _("This action is not available here.")),
        409: (_("Conflict"), _("Someone else changed this at the same time, or it already exists. Reload the page and try again.")),  # noqa: E501
        413: (_("Too large"), _("The upload is larger than allowed.")),
        422: (_("Please check your input"), _("Some of what you entered is not valid. The fields are marked below.")),  # noqa: E501
        429: (_("Too many requests"), _("Please wait a moment before trying again.")),
        500: (_("Something went wrong"), _("An unexpected error happened on our side. Nothing you submitted was lost; please try again, and tell support if it keeps happening.")),  # noqa: E501
    }


CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large",
         422: "validation_failed", 429: "rate_limited", 500: "server_error"}


def api_error(status: int, message: str, code: str | None = None,
              fields: dict[str, str] | None = None) -> tuple[Response, int]:
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message,
                      "fields": fields or {}}}
    return jsonify(body), status


def error_answer(status: int, message: str | None = None, code: str | None = None,
                 fields: dict[str, str] | None = None) -> Any:
    title, explanation = _messages().get(status, _messages()[500])
    if is_api_request():
        return api_error(status, message or explanation, code, fields)
    if status == 401:
        return redirect(url_for("accounts.login", next=request.full_path))
    return render_template("errors/error.html", status=status, title=title,
                           explanation=explanation, detail=message, fields=fields or {}), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Any:
        return error_answer(exc.status, exc.message, exc.code, exc.fields)

    @app.errorhandler(ScopeViolation)
    def _scope(exc: ScopeViolation) -> Any:
        return error_answer(404)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return error_answer(400, _("The form expired or was not sent from this site. Reload the page and submit again."), "csrf_failed")  # noqa: E501

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        status = exc.code or 500
        detail = exc.description if is_api_request() else None
        return error_answer(status, detail)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error")
        return error_answer(500)
