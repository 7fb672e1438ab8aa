"""The OpenAPI 3 document, built from the routes themselves.

Each API view is decorated with :func:`doc`; :func:`build_spec` walks the URL map, so the
document cannot forget a route that exists, and a test fails for any ``/api/v1`` route without
``@doc``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

F = TypeVar("F", bound=Callable[..., Any])

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def doc(
    summary: str,
    *,
    tags: tuple[str, ...] = (),
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    status: int = 200,
    query: dict[str, dict[str, Any]] | None = None,
    public: bool = False,
) -> Callable[[F], F]:
    """Describe an API view: summary, JSON request/response schemas, query parameters."""

    def decorator(view: F) -> F:
        view.openapi = {  # type: ignore[attr-defined]
            "summary": summary,
            "tags": list(tags),
            "request": request,
            "response": response or {"type": "object"},
            "status": status,
            "query": query or {},
            "public": public,
        }
        return view

    return decorator


_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>[a-zA-Z_]+)>")


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in _PARAM.finditer(rule):
        kind = "integer" if match.group("conv") == "int" else "string"
        params.append({"name": match.group("name"), "in": "path", "required": True,
                       "schema": {"type": kind}})
    return _PARAM.sub(lambda m: "{" + m.group("name") + "}", rule), params


def undocumented_routes(app: Flask) -> list[str]:
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            view = app.view_functions[rule.endpoint]
            if not hasattr(view, "openapi"):
                missing.append(f"{sorted(rule.methods or [])} {rule.rule}")
    return missing


def build_spec(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1"):
            continue
        meta = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if meta is None:
            continue
        path, params = _path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": meta["summary"],
                "tags": meta["tags"],
                "parameters": params + [
                    {"name": name, "in": "query", "required": False, "schema": schema}
                    for name, schema in meta["query"].items()
                ],
                "responses": {
                    str(meta["status"]): {
                        "description": "OK",
                        "content": {"application/json": {"schema": meta["response"]}},
                    },
                    "default": {
                        "description": "Error",
                        "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    },
                },
            }
            if meta["request"] is not None and method in {"POST", "PUT", "PATCH"}:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": meta["request"]}},
                }
            if meta["public"]:
                operation["security"] = []
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "EstateFlow API", "version": "1",
                 "description": "Everything a person can do in EstateFlow's pages."},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }
