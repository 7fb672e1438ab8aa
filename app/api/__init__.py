"""The JSON API under ``/api/v1``: shared helpers and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import jsonschema
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.openapi import build_spec, doc
from app.errors import FieldErrors

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON object, validated against ``schema`` (422 naming each bad field)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise FieldErrors({"body": "a JSON object is required"})
    validator = jsonschema.Draft202012Validator(schema)
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        if error.validator == "required":
            missing = error.message.split("'")[1]
            errors[missing] = "required"
            continue
        field = ".".join(str(p) for p in error.path) or "body"
        errors.setdefault(field, error.message)
    if errors:
        raise FieldErrors(errors)
    return data


def page_args() -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (1–100) from the query string."""
    try:
        page = max(int(request.args.get("page", 1)), 1)
        per_page = min(max(int(request.args.get("per_page", 20)), 1), 100)
    except ValueError as exc:
        raise FieldErrors({"page": "page and per_page must be whole numbers"}) from exc
    return page, per_page


PAGE_QUERY = {"page": {"type": "integer", "minimum": 1},
              "per_page": {"type": "integer", "minimum": 1, "maximum": 100}}


@bp.get("/openapi.json")
@doc("This OpenAPI document", tags=("meta",), public=True)
def openapi() -> ResponseReturnValue:
    return jsonify(build_spec(current_app._get_current_object()))  # type: ignore[attr-defined]
