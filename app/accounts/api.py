"""Accounts in the JSON API: who am I, tokens, and user administration."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.accounts import operations as ops
from app.accounts.models import ApiToken, User
from app.accounts.permissions import require
from app.accounts.roles import ROLE_CODES
from app.api import PAGE_QUERY, json_body, page_args
from app.api.openapi import doc
from app.extensions import db
from app.uow import keep_changes_on_error
from app.web.errors import api_error

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")

USER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "username": {"type": "string"},
        "display_name": {"type": "string"}, "email": {"type": ["string", "null"]},
        "active": {"type": "boolean"}, "locale": {"type": ["string", "null"]},
        "roles": {"type": "array", "items": {"type": "string"}},
        "project_ids": {"type": "array", "items": {"type": "integer"}},
    },
}
TOKEN_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                   "prefix": {"type": "string"}, "created_at": {"type": "string"},
                   "last_used_at": {"type": ["string", "null"]},
                   "revoked_at": {"type": ["string", "null"]},
                   "token": {"type": "string", "description": "only in the answer to create"}},
}
ROLES_ENUM = {"type": "array", "items": {"type": "string", "enum": sorted(ROLE_CODES)}}
NEW_USER = {
    "type": "object",
    "required": ["username", "password", "display_name"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 8},
        "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": ["string", "null"]},
        "roles": ROLES_ENUM,
        "project_ids": {"type": "array", "items": {"type": "integer"}},
    },
    "additionalProperties": False,
}
USER_PATCH = {
    "type": "object",
    "properties": {
        "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": ["string", "null"]},
        "active": {"type": "boolean"},
        "roles": ROLES_ENUM,
        "project_ids": {"type": "array", "items": {"type": "integer"}},
        "password": {"type": "string", "minLength": 8},
    },
    "additionalProperties": False,
}


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "email": user.email, "active": user.active, "locale": user.locale,
            "roles": sorted(r.value for r in user.roles),
            "project_ids": sorted(user.project_ids)}


def token_json(token: ApiToken) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None
    return {"id": token.id, "name": token.name, "prefix": token.prefix,
            "created_at": iso(token.created_at), "last_used_at": iso(token.last_used_at),
            "revoked_at": iso(token.revoked_at)}


@bp.get("/me")
@doc("The signed-in user", tags=("accounts",), response=USER_SCHEMA)
def me() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    return jsonify(user_json(current_user))


@bp.post("/auth/token")
@doc("Exchange a username and password for a bearer token", tags=("accounts",), public=True,
     request={"type": "object", "required": ["username", "password", "name"],
              "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                             "name": {"type": "string", "minLength": 1}}},
     response=TOKEN_SCHEMA, status=201)
def issue_token() -> ResponseReturnValue:
    data = json_body({"type": "object", "required": ["username", "password", "name"],
                      "properties": {"username": {"type": "string"},
                                     "password": {"type": "string"},
                                     "name": {"type": "string", "minLength": 1}}})
    result = ops.authenticate(data["username"], data["password"])
    if result.user is None:
        keep_changes_on_error()
        if result.locked:
            return api_error(429, "too many failed attempts; the account is locked for a while",
                             "locked")
        return api_error(401, "wrong username or password")
    token, plain = ops.create_api_token(result.user, data["name"])
    return jsonify({**token_json(token), "token": plain}), 201


@bp.get("/tokens")
@require("tokens.own")
@doc("My API tokens", tags=("accounts",), response={"type": "array", "items": TOKEN_SCHEMA})
def list_tokens() -> ResponseReturnValue:
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                              .order_by(ApiToken.id))
    return jsonify([token_json(t) for t in rows])


@bp.post("/tokens")
@require("tokens.own")
@doc("Create an API token (its value is shown once)", tags=("accounts",), status=201,
     request={"type": "object", "required": ["name"],
              "properties": {"name": {"type": "string"}}}, response=TOKEN_SCHEMA)
def create_token() -> ResponseReturnValue:
    data = json_body({"type": "object", "required": ["name"],
                      "properties": {"name": {"type": "string", "minLength": 1}}})
    token, plain = ops.create_api_token(current_user, data["name"])
    return jsonify({**token_json(token), "token": plain}), 201


@bp.delete("/tokens/<int:token_id>")
@require("tokens.own")
@doc("Revoke one of my API tokens", tags=("accounts",), response=TOKEN_SCHEMA)
def delete_token(token_id: int) -> ResponseReturnValue:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    ops.revoke_api_token(token)
    return jsonify(token_json(token))


@bp.get("/users")
@require("users.manage")
@doc("List users", tags=("admin",), query=PAGE_QUERY,
     response={"type": "object", "properties": {
         "items": {"type": "array", "items": USER_SCHEMA}, "total": {"type": "integer"}}})
def list_users() -> ResponseReturnValue:
    page, per_page = page_args()
    pagination = db.paginate(select(User).order_by(User.id), page=page, per_page=per_page,
                             error_out=False)
    return jsonify({"items": [user_json(u) for u in pagination.items],
                    "total": pagination.total})


@bp.post("/users")
@require("users.manage")
@doc("Create a user", tags=("admin",), request=NEW_USER, response=USER_SCHEMA, status=201)
def create_user() -> ResponseReturnValue:
    data = json_body(NEW_USER)
    user = ops.create_user(data["username"], data["password"], data["display_name"],
                           data.get("roles", []), data.get("project_ids", []), data.get("email"))
    return jsonify(user_json(user)), 201


@bp.patch("/users/<int:user_id>")
@require("users.manage")
@doc("Change a user: roles, projects, enable or disable, reset password", tags=("admin",),
     request=USER_PATCH, response=USER_SCHEMA)
def update_user(user_id: int) -> ResponseReturnValue:
    user = db.get_or_404(User, user_id)
    data = json_body(USER_PATCH)
    if "display_name" in data:
        user.display_name = data["display_name"]
    if "email" in data:
        user.email = data["email"]
    if "roles" in data:
        ops.set_roles(user, data["roles"])
    if "project_ids" in data:
        ops.set_grants(user, data["project_ids"])
    if "active" in data:
        ops.set_active(user, data["active"])
    if "password" in data:
        ops.reset_password(user, data["password"])
    db.session.flush()
    return jsonify(user_json(user))
