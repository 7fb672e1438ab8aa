"""Repairs in the JSON API (``/api/v1/repairs``): everything the pages do, for a mini-program."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.accounts.models import User
from app.accounts.permissions import can, require
from app.api import json_body
from app.api.openapi import doc
from app.errors import FieldErrors
from app.extensions import db
from app.repairs import operations as ops
from app.repairs import present, queries
from app.repairs.blueprint import is_staff, visible_ticket
from app.repairs.models import Ticket

bp = Blueprint("repairs_api", __name__, url_prefix="/api/v1/repairs")
T = ("repairs",)

TICKET = {"type": "object", "properties": {
    "id": {"type": "integer"}, "number": {"type": "string"}, "status": {"type": "string"},
    "category": {"type": "string"}, "area": {"type": "string"},
    "technician_id": {"type": ["integer", "null"]}, "rating": {"type": ["integer", "null"]},
    "not_rated": {"type": "boolean"}, "escalation_level": {"type": "integer"},
    "late_response": {"type": "boolean"}, "late_completion": {"type": "boolean"}}}
TICKETS = {"type": "object", "properties": {"items": {"type": "array", "items": TICKET}}}
NEW = {"type": "object", "required": ["category", "area", "description"], "properties": {
    "project_id": {"type": "integer"}, "requester_id": {"type": "integer",
                                                        "description": "staff registering"},
    "category": {"type": "string"}, "area": {"enum": ["unit", "public"]},
    "unit_id": {"type": "integer"}, "location": {"type": "string"},
    "description": {"type": "string"}, "urgency": {"enum": ["normal", "emergency"]},
    "preferred_time": {"type": "string"},
    "photos": {"type": "array", "maxItems": 6, "items": {"type": "string"}}}}
REASON = {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}
FEE = {"type": "object", "required": ["approve"], "properties": {
    "approve": {"type": "boolean"}, "comment": {"type": "string"}}}
RATING = {"type": "object", "required": ["rating"], "properties": {
    "rating": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": {"type": "string"}}}
TECHNICIAN = {"type": "object", "required": ["technician_id"], "properties": {
    "technician_id": {"type": "integer"}, "note": {"type": "string"}}}
STEP_DATA = {"type": "object", "description": "The form data of the step (forms/repair/…)."}
TIMELINE = {"type": "array", "items": {"type": "object", "properties": {
    "at": {"type": "string"}, "text": {"type": "string"}, "who": {"type": "string"},
    "kind": {"type": "string"}}}}


def _one(ticket: Ticket, status: int = 200) -> ResponseReturnValue:
    return jsonify(present.ticket_json(ticket)), status


@bp.get("")
@doc("Repairs: a resident's own; staff see their projects' (filters status, flag, q)",
     tags=T, response=TICKETS, query={"status": {"type": "string"}, "flag": {"type": "string"},
                                      "q": {"type": "string"}})
def list_repairs() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    if is_staff(current_user):
        flt = queries.TicketFilter(status=request.args.get("status", ""),
                                   flag=request.args.get("flag", ""), q=request.args.get("q", ""))
        items = queries.staff_tickets(flt)
    else:
        items = queries.my_tickets(current_user)
    return jsonify({"items": [present.ticket_json(t) for t in items]})


@bp.post("")
@doc("Report a repair (residents), or register one for an owner (customer service: "
     "requester_id). Photos are upload references.", tags=T, request=NEW, response=TICKET,
     status=201)
def create_repair() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    data = json_body(NEW)
    project_id = data.get("project_id") or min(current_user.project_ids, default=0)
    if data.get("requester_id") is not None:
        if not can("repairs.register"):
            abort(403)
        requester = db.session.get(User, data["requester_id"])
        if requester is None:
            raise FieldErrors({"requester_id": "no such user"})
        ticket = ops.submit_repair(project_id, requester, data, registered_by=current_user,
                                   channel="phone")
    else:
        if not can("repairs.submit"):
            abort(403)
        ticket = ops.submit_repair(project_id, current_user, data, channel="api")
    return _one(ticket, 201)


@bp.get("/<int:ticket_id>")
@doc("One repair with its timeline", tags=T, response={
    "type": "object", "properties": {"ticket": TICKET, "timeline": TIMELINE}})
def get_repair(ticket_id: int) -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    ticket = visible_ticket(ticket_id)
    entries = present.ticket_timeline(ticket, staff=is_staff(current_user))
    return jsonify({"ticket": present.ticket_json(ticket), "timeline": [
        {"at": e.at.isoformat(), "text": e.text, "who": e.who, "kind": e.kind}
        for e in entries]})


@bp.get("/jobs")
@require("repairs.work")
@doc("A technician's jobs and the pool of their teams", tags=T, response={
    "type": "object", "properties": {"mine": {"type": "array", "items": TICKET},
                                     "pool": {"type": "array", "items": TICKET}}})
def jobs() -> ResponseReturnValue:
    return jsonify({"mine": [present.ticket_json(t) for t in queries.my_jobs(current_user)],
                    "pool": [present.ticket_json(t) for t in queries.pool_jobs(current_user)]})


@bp.get("/stats")
@require("repairs.read")
@doc("Figures of the visible repairs (not-rated ones counted apart)", tags=T,
     query={"project_id": {"type": "integer"}})
def stats() -> ResponseReturnValue:
    figures = queries.statistics(request.args.get("project_id", type=int))
    body: dict[str, Any] = dict(vars(figures))
    body["satisfaction"] = figures.satisfaction
    return jsonify(body)


def _owner_action(ticket_id: int) -> Ticket:
    return visible_ticket(ticket_id)


@bp.post("/<int:ticket_id>/urge")
@require("repairs.submit")
@doc("Urge the job (催单): at most once an hour (429 otherwise)", tags=T, response=TICKET)
def urge(ticket_id: int) -> ResponseReturnValue:
    return _one(ops.urge_repair(_owner_action(ticket_id), current_user))


@bp.post("/<int:ticket_id>/cancel")
@doc("Cancel before a technician accepted (409 after)", tags=T, request=REASON,
     response=TICKET)
def cancel(ticket_id: int) -> ResponseReturnValue:
    if not (can("repairs.submit") or can("repairs.register")):
        abort(403)
    reason = json_body(REASON)["reason"]
    return _one(ops.cancel_repair(visible_ticket(ticket_id), current_user, reason))


@bp.post("/<int:ticket_id>/fee")
@require("repairs.submit")
@doc("Agree to or decline the quoted fee", tags=T, request=FEE, response=TICKET)
def fee(ticket_id: int) -> ResponseReturnValue:
    data = json_body(FEE)
    return _one(ops.confirm_fee(_owner_action(ticket_id), current_user, data["approve"],
                                data.get("comment", "")))


@bp.post("/<int:ticket_id>/rating")
@require("repairs.submit")
@doc("Confirm the job and rate it (1–5 stars)", tags=T, request=RATING, response=TICKET)
def rating(ticket_id: int) -> ResponseReturnValue:
    data = json_body(RATING)
    return _one(ops.rate_repair(_owner_action(ticket_id), current_user, data["rating"],
                                data.get("comment", "")))


@bp.post("/<int:ticket_id>/accept")
@require("repairs.work")
@doc("Grab a pool job (抢单) or accept a dispatched one", tags=T, response=TICKET)
def accept(ticket_id: int) -> ResponseReturnValue:
    return _one(ops.accept_job(visible_ticket(ticket_id), current_user))


@bp.post("/<int:ticket_id>/return")
@require("repairs.work")
@doc("Return a dispatched job with a reason (退单)", tags=T, request=REASON, response=TICKET)
def return_(ticket_id: int) -> ResponseReturnValue:
    reason = json_body(REASON)["reason"]
    return _one(ops.return_job(visible_ticket(ticket_id), current_user, reason))


@bp.post("/<int:ticket_id>/check-in")
@require("repairs.work")
@doc("Check in on site (forms/repair/check_in.json)", tags=T, request=STEP_DATA,
     response=TICKET)
def check_in(ticket_id: int) -> ResponseReturnValue:
    return _one(ops.check_in(visible_ticket(ticket_id), current_user, json_body(STEP_DATA)))


@bp.post("/<int:ticket_id>/work")
@require("repairs.work")
@doc("Record the work and finish (forms/repair/record_work.json)", tags=T,
     request=STEP_DATA, response=TICKET)
def work(ticket_id: int) -> ResponseReturnValue:
    return _one(ops.record_work(visible_ticket(ticket_id), current_user, json_body(STEP_DATA)))


@bp.post("/<int:ticket_id>/dispatch")
@require("repairs.dispatch")
@doc("Dispatch the job to a technician", tags=T, request=TECHNICIAN, response=TICKET)
def dispatch(ticket_id: int) -> ResponseReturnValue:
    data = json_body(TECHNICIAN)
    return _one(ops.dispatch_job(visible_ticket(ticket_id), current_user,
                                 data["technician_id"], data.get("note", "")))


@bp.post("/<int:ticket_id>/reassign")
@require("repairs.dispatch")
@doc("Give the job to another technician at any step", tags=T, request=TECHNICIAN,
     response=TICKET)
def reassign(ticket_id: int) -> ResponseReturnValue:
    data = json_body(TECHNICIAN)
    return _one(ops.reassign_job(visible_ticket(ticket_id), current_user,
                                 data["technician_id"]))
