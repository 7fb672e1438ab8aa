"""Pages for visitors without an account: ask for a pass, follow the request, show the pass.

No sign-in: lookups run :func:`app.scoping.unscoped`. The request form still carries the CSRF
token, and submissions are rate-limited per IP and per phone
(:data:`app.visitors.operations.IP_LIMIT`, :data:`~app.visitors.operations.PHONE_LIMIT`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.clock import clock
from app.errors import FieldErrors
from app.extensions import db
from app.projects.models import Building, Project
from app.scoping import unscoped
from app.visitors import operations as ops
from app.visitors import passes
from app.visitors.gate import mask_phone
from app.visitors.models import PURPOSES, VisitorPass, VisitRequest

bp = Blueprint("visitors_public", __name__)


def _project(code: str) -> Project:
    project = db.session.scalar(select(Project).where(Project.code == code,
                                                      Project.active.is_(True)))
    if project is None:
        abort(404)
    return project


def _form_page(project: Project, errors: dict[str, str] | None = None, form: Any = None,
               status: int = 200) -> ResponseReturnValue:
    buildings = db.session.scalars(select(Building.name).where(
        Building.project_id == project.id).order_by(Building.name)).all()
    now = clock.now().astimezone(ops.project_zone(project.id))
    defaults = {"date": now.date().isoformat(), "start": (now + timedelta(hours=1))
                .strftime("%H:00"), "end": (now + timedelta(hours=3)).strftime("%H:00")}
    return render_template("visitors/request.html", project=project, buildings=buildings,
                           purposes=PURPOSES, errors=errors or {},
                           form=form or defaults), status


@bp.get("/visit/<code>")
def request_form(code: str) -> ResponseReturnValue:
    with unscoped():
        return _form_page(_project(code))


@bp.post("/visit/<code>")
def submit(code: str) -> ResponseReturnValue:
    form = request.form
    with unscoped():
        project = _project(code)
        unit = ops.find_unit(project.code, form.get("building", ""), form.get("unit", ""))
        data: dict[str, Any] = {k: form.get(k) for k in (
            "visitor_name", "visitor_phone", "plate", "party_size", "purpose", "note")}
        try:
            begin, finish = ops.window_from_form(form.get("date", ""), form.get("start", ""),
                                                 form.get("end", ""), ops.project_zone(project.id))
            data.update(valid_from=begin, valid_until=finish)
            if unit is None:
                raise FieldErrors({"unit": "no such unit in this estate"})
            created = ops.submit_request(unit, data, request.remote_addr)
        except FieldErrors as exc:
            return _form_page(project, exc.fields, form, 422)
        token = created.status_token
    return redirect(url_for("visitors_public.status", token=token), 303)


def _request(token: str) -> VisitRequest:
    found = db.session.scalar(select(VisitRequest).where(VisitRequest.status_token == token))
    if found is None or found.purged_at is not None:
        abort(404)
    return found


@bp.get("/visit/status/<token>")
def status(token: str) -> ResponseReturnValue:
    with unscoped():
        found = ops.sync_request(_request(token))
        issued = found.passes[0] if found.passes else None
        pass_token = ops.pass_token(issued) if issued is not None else None
        zone = ops.project_zone(found.project_id)
        return render_template(
            "visitors/status.html", req=found, unit=found.unit.label,
            when=ops.visit_time_text(found.valid_from, found.valid_until, zone),
            phone=mask_phone(found.visitor_phone), due=found.task.due_at if found.task else None,
            zone=zone, pass_=issued, pass_token=pass_token,
            qr=passes.qr_svg(pass_token) if pass_token else None,
            code=passes.display_code(issued.code) if issued else None)


@bp.post("/visit/status/<token>/withdraw")
def withdraw(token: str) -> ResponseReturnValue:
    with unscoped():
        ops.withdraw_request(_request(token))
    return redirect(url_for("visitors_public.status", token=token), 303)


@bp.get("/v/<token>")
def show_pass(token: str) -> ResponseReturnValue:
    """The pass a host shared: the QR code and the short code (the token is the secret)."""
    try:
        content = passes.verify(token)
    except passes.TokenInvalid:
        abort(404)
    with unscoped():
        found = db.session.scalar(select(VisitorPass).where(VisitorPass.id == content.pass_id))
        if found is None or found.code != content.code or found.purged_at is not None:
            abort(404)
        zone = ops.project_zone(found.project_id)
        return render_template(
            "visitors/pass.html", **{"pass": found}, token=token, owner=False,
            code=passes.display_code(found.code), qr=passes.qr_svg(token),
            status=found.status(clock.now()), share_url=None, phone=None,
            when=ops.visit_time_text(found.valid_from, found.valid_until, zone))
