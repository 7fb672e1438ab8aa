"""Projects, buildings and units in the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.accounts.permissions import require
from app.api import json_body
from app.api.openapi import doc
from app.extensions import db
from app.projects import operations as ops
from app.projects.models import Building, Project, Unit
from app.projects.views import get_project_or_404

bp = Blueprint("projects_api", __name__, url_prefix="/api/v1/projects")

PROJECT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"},
    "address": {"type": ["string", "null"]}}}
UNIT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "building": {"type": "string"}, "number": {"type": "string"},
    "floor": {"type": ["integer", "null"]}, "area_m2": {"type": ["string", "null"]},
    "use": {"type": "string"}, "status": {"type": "string"}}}
NEW_PROJECT = {"type": "object", "required": ["code", "name"], "additionalProperties": False,
               "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 32},
                              "name": {"type": "string", "minLength": 1, "maxLength": 200},
                              "address": {"type": ["string", "null"]}}}


def project_json(p: Project) -> dict[str, Any]:
    return {"id": p.id, "code": p.code, "name": p.name, "address": p.address}


def unit_json(u: Unit) -> dict[str, Any]:
    return {"id": u.id, "building": u.building.name, "number": u.number, "floor": u.floor,
            "area_m2": None if u.area_m2 is None else str(u.area_m2), "use": u.use,
            "status": u.status}


@bp.get("")
@require("projects.read")
@doc("Projects I may see", tags=("projects",), response={"type": "array", "items": PROJECT})
def list_projects() -> ResponseReturnValue:
    rows = db.session.scalars(select(Project).order_by(Project.name))
    return jsonify([project_json(p) for p in rows])


@bp.post("")
@require("projects.manage")
@doc("Create a project", tags=("projects",), request=NEW_PROJECT, response=PROJECT, status=201)
def create_project() -> ResponseReturnValue:
    data = json_body(NEW_PROJECT)
    project = ops.create_project(data["code"], data["name"], data.get("address"))
    return jsonify(project_json(project)), 201


@bp.get("/<int:project_id>")
@require("projects.read")
@doc("One project", tags=("projects",), response=PROJECT)
def get_project(project_id: int) -> ResponseReturnValue:
    return jsonify(project_json(get_project_or_404(project_id)))


@bp.get("/<int:project_id>/units")
@require("projects.read")
@doc("Units of a project", tags=("projects",), response={"type": "array", "items": UNIT})
def list_units(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    rows = db.session.scalars(select(Unit).join(Building).where(Unit.project_id == project.id)
                              .order_by(Building.name, Unit.number))
    return jsonify([unit_json(u) for u in rows])
