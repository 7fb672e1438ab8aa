"""Lost and found in the JSON API (``/api/v1/lost-found``): every action of the pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.accounts.permissions import can, require
from app.api import PAGE_QUERY, json_body, page_args
from app.api.openapi import doc
from app.extensions import db
from app.lostfound import matching
from app.lostfound import operations as ops
from app.lostfound.models import Claim, Item
from app.lostfound.views import item_filter

bp = Blueprint("lostfound_api", __name__, url_prefix="/api/v1/lost-found")
T = ("lost-found",)
S = {"type": "string"}
NS = {"type": ["string", "null"]}

ITEM = {"type": "object", "properties": {
    "id": {"type": "integer"}, "number": S, "kind": {"enum": ["lost", "found"]},
    "category": S, "description": S, "place": S, "occurred_at": S, "status": S,
    "photos": {"type": "array", "items": S}, "published_at": NS, "expires_at": NS,
    "contact": NS, "reject_reason": NS, "disposal_action": NS, "disposal_to": NS,
    "open_tasks": {"type": "array"}, "claims": {"type": "array"}}}
CLAIM = {"type": "object", "properties": {
    "id": {"type": "integer"}, "item_id": {"type": "integer"}, "status": S,
    "claimant_name": S, "details": S, "decision_note": NS, "received_by_name": NS,
    "receiver_id_masked": NS, "handed_over_at": NS}}
REPORT = {"type": "object", "description": "The fields of forms/lost_found/report.json, "
          "plus project_id when the user has several projects.",
          "properties": {"project_id": {"type": "integer"}}}
CLAIM_IN = {"type": "object", "required": ["details"], "properties": {
    "details": S, "name": S, "phone": S}}
REASON = {"type": "object", "properties": {"reason": S}}
HAND_OVER = {"type": "object", "required": ["receiver_name", "id_number"], "properties": {
    "receiver_name": S, "id_number": {"type": "string", "description":
                                      "18-digit resident ID number; stored masked only"},
    "handed_over_at": {"type": "string", "format": "date-time"}, "note": S}}
TASK_DATA = {"type": "object", "description": "The task's form data (review.json, "
             "verify_claim.json, reminder.json, disposal.json)"}
MATCH = {"type": "object", "properties": {"item": ITEM, "score": {"type": "number"},
                                          "reasons": {"type": "array"}}}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def claim_json(c: Claim) -> dict[str, Any]:
    return {"id": c.id, "item_id": c.item_id, "status": c.status,
            "claimant_name": c.claimant_name, "details": c.details,
            "decision_note": c.decision_note, "received_by_name": c.received_by_name,
            "receiver_id_masked": c.receiver_id_masked, "handed_over_at": _iso(c.handed_over_at)}


def item_json(i: Item, full: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": i.id, "number": i.number, "kind": i.kind, "category": i.category,
        "description": i.description, "place": i.place, "occurred_at": _iso(i.occurred_at),
        "status": i.status, "published_at": _iso(i.published_at),
        "expires_at": _iso(i.expires_at),
        "photos": [url_for("uploads.serve", upload_id=p) for p in i.photo_ids],
    }
    staff = ops.is_staff(current_user)
    if full and (staff or i.reporter_id == current_user.id):
        body.update(contact=i.contact, reject_reason=i.reject_reason,
                    disposal_action=i.disposal_action, disposal_to=i.disposal_to)
    if full and staff:
        body["open_tasks"] = [{"id": t.id, "element_id": t.element_id, "title": t.title}
                              for t in ops.open_tasks(i)]
        body["claims"] = [claim_json(c) for c in i.claims]
    return body


@bp.get("/items")
@require("lostfound.view")
@doc("Search lost-and-found items (residents: listed items only)", tags=T,
     response={"type": "object", "properties": {"items": {"type": "array", "items": ITEM},
                                                "total": {"type": "integer"}}},
     query={**PAGE_QUERY, "kind": S, "category": S, "place": S, "q": S,
            "date_from": {"type": "string", "format": "date"},
            "date_to": {"type": "string", "format": "date"}, "status": S})
def list_items() -> ResponseReturnValue:
    page, per_page = page_args()
    result = db.paginate(ops.search_query(item_filter(request.args, ops.is_staff(current_user))),
                         page=page, per_page=per_page, error_out=False)
    return jsonify({"items": [item_json(i) for i in result.items], "total": result.total})


@bp.post("/items")
@require("lostfound.view")
@doc("Report a lost or found item (staff: logged and listed at once)", tags=T,
     request=REPORT, response=ITEM, status=201)
def create_item() -> ResponseReturnValue:
    if not (can("lostfound.report") or can("lostfound.log")):
        abort(403)
    body = json_body(REPORT)
    project_id = body.pop("project_id", None)
    item = ops.report_item(current_user, body, project_id)
    return jsonify(item_json(item, full=True)), 201


@bp.get("/items/<int:item_id>")
@require("lostfound.view")
@doc("One item (contact and claims for its reporter and staff)", tags=T, response=ITEM)
def get_item(item_id: int) -> ResponseReturnValue:
    return jsonify(item_json(ops.get_item(item_id, current_user), full=True))


@bp.get("/items/<int:item_id>/matches")
@require("lostfound.view")
@doc("Listed items of the other kind that look alike, with the reasons", tags=T,
     response={"type": "array", "items": MATCH})
def matches(item_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    if not (ops.is_staff(current_user) or item.reporter_id == current_user.id):
        abort(403)
    return jsonify([{"item": item_json(m.item), "score": m.score,
                     "reasons": [{"code": c, "detail": d} for c, d in m.reasons]}
                    for m in matching.suggestions(item)])


@bp.post("/items/<int:item_id>/claims")
@require("lostfound.view")
@doc("Claim a listed found item (staff may claim for a walk-in with name and phone)", tags=T,
     request=CLAIM_IN, response=CLAIM, status=201)
def create_claim(item_id: int) -> ResponseReturnValue:
    if not (can("lostfound.claim") or can("lostfound.manage")):
        abort(403)
    item = ops.get_item(item_id, current_user)
    body = json_body(CLAIM_IN)
    claim = ops.submit_claim(item, current_user, body["details"], body.get("name"),
                             body.get("phone"))
    return jsonify(claim_json(claim)), 201


@bp.post("/items/<int:item_id>/renew")
@require("lostfound.view")
@doc("Keep a lost report listed for another period (its reporter)", tags=T, response=ITEM)
def renew(item_id: int) -> ResponseReturnValue:
    item = ops.renew_report(ops.get_item(item_id, current_user), current_user)
    return jsonify(item_json(item, full=True))


@bp.post("/items/<int:item_id>/close")
@require("lostfound.view")
@doc("Close a lost report: the reporter has the item back", tags=T, request=REASON,
     response=ITEM)
def close(item_id: int) -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    item = ops.close_report(ops.get_item(item_id, current_user), current_user,
                            str(body.get("reason") or ""))
    return jsonify(item_json(item, full=True))


@bp.post("/items/<int:item_id>/withdraw")
@require("lostfound.view")
@doc("Withdraw an item (staff; the reporter while it waits for review)", tags=T,
     request=REASON, response=ITEM)
def withdraw(item_id: int) -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    item = ops.withdraw_item(ops.get_item(item_id, current_user), current_user,
                             str(body.get("reason") or "withdrawn"))
    return jsonify(item_json(item, full=True))


@bp.post("/items/<int:item_id>/tasks/<int:task_id>")
@require("lostfound.manage")
@doc("Complete the item's review, claim verification, reminder or disposal task", tags=T,
     request=TASK_DATA, response=ITEM)
def complete_task(item_id: int, task_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    ops.complete_item_task(item, task_id, json_body(TASK_DATA), current_user)
    return jsonify(item_json(item, full=True))


@bp.post("/items/<int:item_id>/hand-over")
@require("lostfound.manage")
@doc("Record the hand-over to the verified claimant (ID number checked, stored masked)",
     tags=T, request=HAND_OVER, response=CLAIM)
def hand_over(item_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    body = json_body(HAND_OVER)
    claim = ops.record_hand_over(item, ops.HandOver(
        receiver_name=str(body["receiver_name"]), id_number=str(body["id_number"]).upper(),
        handed_over_at=body.get("handed_over_at"), note=body.get("note")), current_user)
    return jsonify(claim_json(claim))


@bp.get("/mine")
@require("lostfound.view")
@doc("My reports and my claims", tags=T, response={"type": "object", "properties": {
    "items": {"type": "array", "items": ITEM}, "claims": {"type": "array", "items": CLAIM}}})
def mine() -> ResponseReturnValue:
    return jsonify({"items": [item_json(i, full=True) for i in ops.my_items(current_user)],
                    "claims": [claim_json(c) for c in ops.my_claims(current_user)]})


