"""Residents' visitor pages: invite, share and revoke passes, answer requests, ask for batches."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.accounts.permissions import can, require
from app.clock import clock
from app.errors import FieldErrors
from app.extensions import db
from app.records.lookup import scoped_get
from app.visitors import hosts, passes
from app.visitors import operations as ops
from app.visitors.gate import mask_phone
from app.visitors.models import PURPOSES, VisitBatch, VisitorPass, VisitRequest
from app.visitors.stats import export_batch

bp = Blueprint("visitors", __name__, url_prefix="/my/visitors")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def me() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def my_units() -> list[Any]:
    return hosts.hosted_units(current_user.id, clock.now().date())


def form_window(form: Any, units: list[Any]) -> dict[str, Any]:
    """The posted visit fields with the window turned into aware datetimes."""
    data: dict[str, Any] = {k: form.get(k) for k in (
        "unit_id", "visitor_name", "visitor_phone", "plate", "party_size", "purpose", "note",
        "company", "count")}
    data["multi_entry"] = form.get("multi_entry") in ("1", "on", "true")
    unit = next((u for u in units if str(u.id) == str(form.get("unit_id"))), None)
    zone = ops.project_zone(unit.project_id if unit else units[0].project_id) if units else None
    if zone is not None:
        try:
            begin, finish = ops.window_from_form(form.get("date", ""), form.get("start", ""),
                                                 form.get("end", ""), zone)
            data["valid_from"], data["valid_until"] = begin, finish
        except FieldErrors as exc:
            data["_window_errors"] = exc.fields
    return data


def _checked(data: dict[str, Any], call: Any) -> Any:
    window_errors = data.pop("_window_errors", None)
    try:
        result = call(data)
    except FieldErrors as exc:
        exc.fields.update(window_errors or {})
        raise
    if window_errors:
        raise FieldErrors(window_errors)
    return result


def pass_view(p: VisitorPass) -> dict[str, Any]:
    token = ops.pass_token(p)
    zone = ops.project_zone(p.project_id)
    return {"pass": p, "when": ops.visit_time_text(p.valid_from, p.valid_until, zone),
            "token": token, "code": passes.display_code(p.code),
            "qr": passes.qr_svg(token), "status": p.status(clock.now()),
            "share_url": url_for("visitors_public.show_pass", token=token, _external=True),
            "phone": p.visitor_phone if p.host_user_id == current_user.id
            else mask_phone(p.visitor_phone)}


def _index(errors: dict[str, str] | None = None, form: Any = None,
           status: int = 200) -> ResponseReturnValue:
    units = my_units()
    unit_ids = [u.id for u in units]
    now = clock.now()
    zone = ops.project_zone(units[0].project_id) if units else ops.project_zone(0)
    mine = db.session.scalars(
        select(VisitorPass).where(VisitorPass.host_user_id == current_user.id,
                                  VisitorPass.batch_id.is_(None))
        .order_by(VisitorPass.valid_from.desc()).limit(50)).all()
    pending = db.session.scalars(
        select(VisitRequest).where(VisitRequest.unit_id.in_(unit_ids),
                                   VisitRequest.status == "pending")
        .order_by(VisitRequest.created_at)).all() if unit_ids else []
    for item in pending:
        ops.sync_request(item)
    batches = db.session.scalars(
        select(VisitBatch).where(VisitBatch.requested_by_id == current_user.id)
        .order_by(VisitBatch.created_at.desc()).limit(20)).all()
    for batch in batches:
        ops.sync_batch(batch)
    return render_template(
        "visitors/portal.html", units=units, passes=mine, now=now,
        pending=[r for r in pending if r.status == "pending"], batches=batches,
        purposes=PURPOSES, errors=errors or {}, form=form or {}, mask=mask_phone, zone=zone,
        today=now.astimezone(zone).date(),
        when=lambda r: ops.visit_time_text(r.valid_from, r.valid_until, zone),
    ), status


@bp.get("/")
@require("portal.use")
def index() -> ResponseReturnValue:
    return _index()


@bp.post("/invite")
@require("portal.use")
def invite() -> ResponseReturnValue:
    units = my_units()
    data = form_window(request.form, units)
    try:
        created = _checked(data, lambda d: ops.invite_visitor(me(), d))
    except FieldErrors as exc:
        return _index(exc.fields, request.form, 422)
    flash(_("Pass created. Share the QR code or the code with your visitor."), "success")
    return redirect(url_for("visitors.show_pass", pass_id=created.id))


def _my_pass(pass_id: int) -> VisitorPass:
    found = scoped_get(VisitorPass, pass_id)
    if found is None or not (found.host_user_id == current_user.id
                             or can("visitors.manage")):
        abort(404)
    return found


@bp.get("/passes/<int:pass_id>")
@require("portal.use")
def show_pass(pass_id: int) -> ResponseReturnValue:
    return render_template("visitors/pass.html", **pass_view(_my_pass(pass_id)), owner=True)


@bp.post("/passes/<int:pass_id>/revoke")
@require("portal.use")
def revoke(pass_id: int) -> ResponseReturnValue:
    ops.revoke_pass(_my_pass(pass_id), me())
    flash(_("The pass is revoked; the gate will refuse it."), "success")
    return redirect(url_for("visitors.show_pass", pass_id=pass_id))


@bp.post("/requests/<int:request_id>/decide")
@require("portal.use")
def decide(request_id: int) -> ResponseReturnValue:
    found = scoped_get(VisitRequest, request_id)
    if found is None or not hosts.hosts(current_user.id, found.unit_id, clock.now().date()):
        abort(404)
    decision = request.form.get("decision", "")
    ops.decide_request(found, me(), decision, request.form.get("decline_reason"))
    flash(_("Approved: the visitor gets the pass.") if decision == "approve"
          else _("Declined: the visitor is told."), "success")
    return redirect(url_for("visitors.index"))


@bp.post("/batches")
@require("portal.use")
def new_batch() -> ResponseReturnValue:
    units = my_units()
    data = form_window(request.form, units)
    try:
        batch = _checked(data, lambda d: ops.request_batch(me(), d))
    except FieldErrors as exc:
        return _index(exc.fields, request.form, 422)
    flash(_("Batch requested: a supervisor will approve it."), "success")
    return redirect(url_for("visitors.batch", batch_id=batch.id))


def _batch(batch_id: int) -> VisitBatch:
    batch = scoped_get(VisitBatch, batch_id)
    if batch is None or not (batch.requested_by_id == current_user.id
                             or can("visitors.manage")):
        abort(404)
    ops.sync_batch(batch)
    return batch


@bp.get("/batches/<int:batch_id>")
@require("tokens.own")
def batch(batch_id: int) -> ResponseReturnValue:
    found = _batch(batch_id)
    return render_template("visitors/batch.html", batch=found, now=clock.now(),
                           code=passes.display_code)


@bp.get("/batches/<int:batch_id>/print")
@require("tokens.own")
def print_batch(batch_id: int) -> ResponseReturnValue:
    found = _batch(batch_id)
    zone = ops.project_zone(found.project_id)
    cards = [{"pass": p, "code": passes.display_code(p.code),
              "qr": passes.qr_svg(ops.pass_token(p), scale=3)}
             for p in found.passes if p.revoked_at is None]
    return render_template("visitors/print.html", batch=found, cards=cards,
                           window=ops.visit_time_text(found.valid_from, found.valid_until, zone))


@bp.get("/batches/<int:batch_id>/export.xlsx")
@require("tokens.own")
def export_batch_xlsx(batch_id: int) -> ResponseReturnValue:
    found = _batch(batch_id)
    return Response(export_batch(found), mimetype=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{found.number}.xlsx"'})
