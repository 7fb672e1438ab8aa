"""Visitors in the JSON API (``/api/v1/visitors``): everything the pages do."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.accounts.permissions import can, require
from app.api import json_body
from app.api.openapi import doc
from app.clock import clock
from app.errors import FieldErrors, NotFound
from app.extensions import db
from app.projects.models import Project
from app.records.lookup import scoped_get
from app.scoping import unscoped
from app.visitors import gate, hosts, passes
from app.visitors import operations as ops
from app.visitors.models import PURPOSES, VisitBatch, VisitorPass, VisitRequest
from app.visitors.staff import current_project, period_from
from app.visitors.stats import export_batch, export_log, log_events, statistics

bp = Blueprint("visitors_api", __name__, url_prefix="/api/v1/visitors")
T = ("visitors",)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

S = {"type": "string"}
WINDOW = {"valid_from": {"type": "string", "format": "date-time"},
          "valid_until": {"type": "string", "format": "date-time"}}
VISIT = {"visitor_name": S, "visitor_phone": S, "plate": {"type": ["string", "null"]},
         "party_size": {"type": "integer", "minimum": 1, "maximum": ops.MAX_PARTY},
         "purpose": {"enum": list(PURPOSES)}, **WINDOW}
INVITATION = {"type": "object", "required": ["unit_id", "visitor_name", "visitor_phone",
                                             "valid_from", "valid_until"],
              "properties": {"unit_id": {"type": "integer"}, "multi_entry": {"type": "boolean"},
                             **VISIT}}
REQUEST = {"type": "object", "required": ["project", "building", "unit", "visitor_name",
                                          "visitor_phone", "valid_from", "valid_until"],
           "properties": {"project": S, "building": S, "unit": S, "note": S, **VISIT}}
DECISION = {"type": "object", "required": ["decision"],
            "properties": {"decision": {"enum": ["approve", "decline"]}, "decline_reason": S}}
BATCH = {"type": "object", "required": ["unit_id", "company", "count", "valid_from",
                                        "valid_until"],
         "properties": {"unit_id": {"type": "integer"}, "company": S,
                        "count": {"type": "integer", "minimum": 1, "maximum": ops.MAX_BATCH},
                        "purpose": {"enum": list(PURPOSES)}, "note": S,
                        "multi_entry": {"type": "boolean"}, **WINDOW}}
CHECK = {"type": "object", "required": ["code", "project_id"],
         "properties": {"code": S, "project_id": {"type": "integer"},
                        "direction": {"enum": ["entry", "exit"]}, "gate": S}}
PASS = {"type": "object", "properties": {
    "id": {"type": "integer"}, "code": S, "token": S, "status": S, "qr_svg": S,
    "share_url": S, "valid_from": S, "valid_until": S, "max_entries": {"type": ["integer",
                                                                                "null"]}}}
CHECK_RESULT = {"type": "object", "properties": {"ok": {"type": "boolean"}, "reason": S,
                                                 "message": S, "pass": {"type": "object"}}}
PERIOD_QUERY = {"project_id": {"type": "integer"}, "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"}}


def _me() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def pass_json(p: VisitorPass, with_qr: bool = False) -> dict[str, Any]:
    token = ops.pass_token(p)
    data: dict[str, Any] = {
        "id": p.id, "kind": p.kind, "code": passes.display_code(p.code), "token": token,
        "status": p.status(clock.now()), "unit": p.unit.label, "visitor_name": p.visitor_name,
        "visitor_phone": p.visitor_phone if p.host_user_id == current_user.id
        else gate.mask_phone(p.visitor_phone),
        "plate": p.plate, "party_size": p.party_size, "purpose": p.purpose,
        "valid_from": p.valid_from.isoformat(), "valid_until": p.valid_until.isoformat(),
        "max_entries": p.max_entries, "entries_used": p.entries_used,
        "revoked_at": p.revoked_at and p.revoked_at.isoformat(),
    }
    if with_qr:
        data["qr_svg"] = str(passes.qr_svg(token))
    return data


def request_json(r: VisitRequest) -> dict[str, Any]:
    return {"id": r.id, "number": r.number, "status": r.status, "unit": r.unit.label,
            "visitor_name": r.visitor_name, "visitor_phone": gate.mask_phone(r.visitor_phone),
            "party_size": r.party_size, "purpose": r.purpose, "note": r.note,
            "valid_from": r.valid_from.isoformat(), "valid_until": r.valid_until.isoformat(),
            "answer_by": r.task.due_at.isoformat() if r.task and r.task.due_at else None}


def batch_json(b: VisitBatch, with_passes: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": b.id, "number": b.number, "status": b.status, "company": b.company,
        "count": b.count, "unit": b.unit.label, "purpose": b.purpose,
        "multi_entry": b.multi_entry, "valid_from": b.valid_from.isoformat(),
        "valid_until": b.valid_until.isoformat(), "decline_reason": b.decline_reason}
    if with_passes:
        data["passes"] = [pass_json(p) for p in b.passes]
    return data


# --- residents --------------------------------------------------------------------------------


@bp.get("/units")
@require("portal.use")
@doc("Units the signed-in resident hosts visitors for", tags=T)
def units() -> ResponseReturnValue:
    return jsonify({"items": [{"id": u.id, "label": u.label, "project_id": u.project_id}
                              for u in hosts.hosted_units(current_user.id, clock.now().date())]})


@bp.post("/invitations")
@require("portal.use")
@doc("Invite a visitor: a pass is issued at once", tags=T, request=INVITATION, response=PASS,
     status=201)
def invite() -> ResponseReturnValue:
    created = ops.invite_visitor(_me(), json_body(INVITATION))
    return jsonify(pass_json(created, with_qr=True)), 201


@bp.get("/passes")
@require("portal.use")
@doc("The passes the signed-in resident issued", tags=T)
def my_passes() -> ResponseReturnValue:
    rows = db.session.scalars(select(VisitorPass).where(
        VisitorPass.host_user_id == current_user.id).order_by(VisitorPass.valid_from.desc())
        .limit(100))
    return jsonify({"items": [pass_json(p) for p in rows]})


def _pass(pass_id: int) -> VisitorPass:
    found = scoped_get(VisitorPass, pass_id)
    if found is None or not ops.may_revoke(found, _me()):
        raise NotFound("no such pass")
    return found


@bp.get("/passes/<int:pass_id>")
@require("tokens.own")
@doc("One pass with its QR code (SVG)", tags=T, response=PASS)
def get_pass(pass_id: int) -> ResponseReturnValue:
    return jsonify(pass_json(_pass(pass_id), with_qr=True))


@bp.get("/passes/<int:pass_id>/qr.png")
@require("tokens.own")
@doc("A pass's QR code as PNG", tags=T, response={"type": "string", "format": "binary"})
def pass_png(pass_id: int) -> ResponseReturnValue:
    return Response(passes.qr_png(ops.pass_token(_pass(pass_id))), mimetype="image/png")


@bp.post("/passes/<int:pass_id>/revoke")
@require("tokens.own")
@doc("Revoke a pass (its host or visitor management)", tags=T, response=PASS)
def revoke(pass_id: int) -> ResponseReturnValue:
    return jsonify(pass_json(ops.revoke_pass(_pass(pass_id), _me())))


@bp.get("/requests")
@require("portal.use")
@doc("Pending visitor requests to the signed-in resident's units", tags=T)
def pending_requests() -> ResponseReturnValue:
    unit_ids = [u.id for u in hosts.hosted_units(current_user.id, clock.now().date())]
    rows = db.session.scalars(select(VisitRequest).where(
        VisitRequest.unit_id.in_(unit_ids), VisitRequest.status == "pending")
        .order_by(VisitRequest.created_at)).all() if unit_ids else []
    return jsonify({"items": [request_json(ops.sync_request(r)) for r in rows
                              if r.status == "pending"]})


@bp.post("/requests/<int:request_id>/decision")
@require("portal.use")
@doc("Approve (a pass is issued) or decline a visitor's request", tags=T, request=DECISION)
def decide_request(request_id: int) -> ResponseReturnValue:
    found = scoped_get(VisitRequest, request_id)
    if found is None or not hosts.hosts(current_user.id, found.unit_id, clock.now().date()):
        raise NotFound("no such request")
    data = json_body(DECISION)
    ops.decide_request(found, _me(), data["decision"], data.get("decline_reason"))
    return jsonify(request_json(found))


# --- visitors without an account --------------------------------------------------------------


@bp.post("/public/requests")
@doc("A visitor asks a unit for a pass (no sign-in; rate-limited per IP and phone)", tags=T,
     request=REQUEST, status=201, public=True)
def submit_request() -> ResponseReturnValue:
    data = json_body(REQUEST)
    with unscoped():
        unit = ops.find_unit(data["project"], data["building"], data["unit"])
        if unit is None:
            raise FieldErrors({"unit": "no such unit in this estate"})
        created = ops.submit_request(unit, data, request.remote_addr)
        body = {"number": created.number, "status": created.status,
                "status_token": created.status_token}
    return jsonify(body), 201


@bp.get("/public/requests/<token>")
@doc("A visitor follows their request; the pass once approved (no sign-in)", tags=T,
     public=True)
def request_status(token: str) -> ResponseReturnValue:
    with unscoped():
        found = db.session.scalar(select(VisitRequest).where(VisitRequest.status_token == token))
        if found is None or found.purged_at is not None:
            raise NotFound("no such request")
        ops.sync_request(found)
        issued = found.passes[0] if found.passes else None
        body = {"number": found.number, "status": found.status, "unit": found.unit.label,
                "valid_from": found.valid_from.isoformat(),
                "valid_until": found.valid_until.isoformat(),
                "pass": None if issued is None else {
                    "code": passes.display_code(issued.code), "token": ops.pass_token(issued),
                    "status": issued.status(clock.now())}}
    return jsonify(body)


# --- batches ----------------------------------------------------------------------------------


@bp.post("/batches")
@require("portal.use")
@doc("A business tenant asks for N passes for a group visit", tags=T, request=BATCH,
     status=201)
def new_batch() -> ResponseReturnValue:
    return jsonify(batch_json(ops.request_batch(_me(), json_body(BATCH)))), 201


def _batch(batch_id: int) -> VisitBatch:
    found = scoped_get(VisitBatch, batch_id)
    if found is None or not (found.requested_by_id == current_user.id
                             or can("visitors.manage")):
        raise NotFound("no such batch")
    return ops.sync_batch(found)


@bp.get("/batches")
@require("tokens.own")
@doc("Batches: one's own, or every batch of a project for visitor management", tags=T,
     query={"project_id": {"type": "integer"}, "status": {"type": "string"}})
def batches() -> ResponseReturnValue:
    stmt = select(VisitBatch).order_by(VisitBatch.created_at.desc()).limit(200)
    if can("visitors.manage"):
        stmt = stmt.where(VisitBatch.project_id == current_project().id)
    else:
        stmt = stmt.where(VisitBatch.requested_by_id == current_user.id)
    if request.args.get("status"):
        stmt = stmt.where(VisitBatch.status == request.args["status"])
    return jsonify({"items": [batch_json(ops.sync_batch(b)) for b in db.session.scalars(stmt)]})


@bp.get("/batches/<int:batch_id>")
@require("tokens.own")
@doc("One batch with its passes", tags=T)
def get_batch(batch_id: int) -> ResponseReturnValue:
    return jsonify(batch_json(_batch(batch_id), with_passes=True))


@bp.post("/batches/<int:batch_id>/decision")
@require("visitors.manage")
@doc("A supervisor approves (passes are generated) or declines a batch", tags=T,
     request=DECISION)
def decide_batch(batch_id: int) -> ResponseReturnValue:
    found = _batch(batch_id)
    data = json_body(DECISION)
    ops.decide_batch(found, _me(), data["decision"], data.get("decline_reason"))
    return jsonify(batch_json(found, with_passes=True))


@bp.get("/batches/<int:batch_id>/export.xlsx")
@require("tokens.own")
@doc("A batch's passes as an Excel workbook", tags=T,
     response={"type": "string", "format": "binary"})
def batch_xlsx(batch_id: int) -> ResponseReturnValue:
    found = _batch(batch_id)
    return Response(export_batch(found), mimetype=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{found.number}.xlsx"'})


# --- gate, log, statistics --------------------------------------------------------------------


@bp.post("/gate/check")
@require("gate.check")
@doc("Check a scanned token or typed code at the gate; records the entry, exit or refusal",
     tags=T, request=CHECK, response=CHECK_RESULT)
def gate_check() -> ResponseReturnValue:
    data = json_body(CHECK)
    project = scoped_get(Project, data["project_id"])
    if project is None:
        raise NotFound("no such project")
    result = gate.check_pass(data["code"], project.id, _me(), data.get("direction", "entry"),
                             data.get("gate"))
    return jsonify({"ok": result.ok, "reason": result.reason, "message": result.message,
                    "direction": result.direction, "pass": result.details or None})


@bp.get("/gate/inside")
@require("gate.check")
@doc("Visitors inside now (entered, not yet left)", tags=T,
     query={"project_id": {"type": "integer"}})
def inside() -> ResponseReturnValue:
    project = current_project()
    zone = ops.project_zone(project.id)
    return jsonify({"items": [gate.pass_details(p, zone) for p in gate.inside_now(project.id)]})


@bp.get("/log")
@require("visitors.read")
@doc("The visit log of a period (entries, exits, refusals)", tags=T, query=PERIOD_QUERY)
def visit_log() -> ResponseReturnValue:
    project = current_project()
    period = period_from(request.args, project.id)
    return jsonify({"items": [{
        "at": e.at.isoformat(), "kind": e.kind, "reason": e.reason,
        "pass": pass_json(e.visitor_pass) if e.visitor_pass else None,
    } for e in log_events(project.id, period)]})


@bp.get("/stats")
@require("visitors.read")
@doc("Visits per day, unit and purpose in a period", tags=T, query=PERIOD_QUERY)
def stats() -> ResponseReturnValue:
    project = current_project()
    return jsonify(statistics(project.id, period_from(request.args, project.id)))


@bp.get("/log/export.xlsx")
@require("visitors.read")
@doc("The visit log and figures of a period as an Excel workbook", tags=T, query=PERIOD_QUERY,
     response={"type": "string", "format": "binary"})
def log_xlsx() -> ResponseReturnValue:
    project = current_project()
    period = period_from(request.args, project.id)
    return Response(export_log(project.id, period), mimetype=XLSX, headers={
        "Content-Disposition": f'attachment; filename="visits-{project.code}.xlsx"'})
