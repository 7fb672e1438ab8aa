"""Staff pages: find customers, see and change one record, reveal protected values."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.permissions import require
from app.audit.models import AuditEvent
from app.clock import clock
from app.errors import DomainError
from app.extensions import db
from app.projects.models import Building, Project, Unit
from app.projects.views import get_project_or_404
from app.records import export, protect
from app.records import fields as cf
from app.records import operations as ops
from app.records.lookup import scoped_get
from app.records.merge import merge_history
from app.records.models import (
    CHANNELS,
    CUSTOMER_KINDS,
    RELATIONS,
    Customer,
    FamilyMember,
    Occupancy,
    Tag,
    Vehicle,
)
from app.records.search import CustomerFilter, search
from app.records.validation import ID_TYPES

bp = Blueprint("records", __name__, url_prefix="/records")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_FIELDS = ("number", "kind", "name", "id_type", "id_number", "phone", "bank_account",
               "email", "preferred_channel", "emergency_name", "emergency_relation",
               "emergency_phone", "note")


def get_customer_or_404(project: Project, customer_id: int) -> Customer:
    customer = db.session.scalar(select(Customer).where(Customer.id == customer_id,
                                                        Customer.project_id == project.id))
    if customer is None:
        abort(404)
    return customer


def get_row_or_404(model: Any, customer: Customer, row_id: int) -> Any:
    row = scoped_get(model, row_id)
    if row is None or row.customer_id != customer.id:
        abort(404)
    return row


def form_data(project_id: int) -> dict[str, Any]:
    """Customer fields from the submitted form (empty protected fields mean "unchanged")."""
    data: dict[str, Any] = {k: request.form.get(k, "") for k in FORM_FIELDS if k in request.form}
    for key in ("id_number", "phone", "bank_account", "emergency_phone"):
        if not data.get(key):
            data.pop(key, None)
    if "id_number" not in data:
        data.pop("id_type", None)
    data["custom"] = {f.code: request.form.get(f"cf:{f.code}", "")
                      for f in cf.project_fields(project_id)}
    return data


def file_response(content: bytes, name: str, mimetype: str = XLSX) -> Response:
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _choices() -> dict[str, Any]:
    return {"kinds": CUSTOMER_KINDS, "channels": CHANNELS, "id_types": ID_TYPES,
            "relations": RELATIONS}


@bp.get("/")
@require("records.read")
def index() -> ResponseReturnValue:
    projects = db.session.scalars(select(Project).order_by(Project.name)).all()
    if len(projects) == 1:
        return redirect(url_for("records.customers", project_id=projects[0].id))
    return render_template("records/index.html", projects=projects)


@bp.get("/<int:project_id>/customers")
@require("records.read")
def customers(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    flt = CustomerFilter.from_args(request.args)
    page_no = max(request.args.get("page", 1, type=int) or 1, 1)
    errors: dict[str, str] = {}
    try:
        page = search(project.id, flt, page_no, 20)
    except DomainError as exc:
        errors = exc.fields
        page = search(project.id, CustomerFilter(), page_no, 20)
    tags = db.session.scalars(select(Tag).where(Tag.project_id == project.id)
                              .order_by(Tag.kind, Tag.label)).all()
    buildings = db.session.scalars(select(Building).where(Building.project_id == project.id)
                                   .order_by(Building.name)).all()
    return render_template("records/customers.html", project=project, page=page, flt=flt,
                           tags=tags, buildings=buildings, errors=errors,
                           fields=cf.project_fields(project.id),
                           labels=export.tag_labels([c.id for c in page.items]),
                           units_text=export.units_text, masked=protect.masked), \
        422 if errors else 200


@bp.get("/<int:project_id>/customers/export.xlsx")
@require("records.read")
def export_list(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    stmt = CustomerFilter.from_args(request.args).query(project.id).limit(export.EXPORT_LIMIT)
    rows = list(db.session.scalars(stmt))
    return file_response(export.export_list(rows),
                         f"customers-{project.code}-{clock.now():%Y%m%d-%H%M}.xlsx")


@bp.route("/<int:project_id>/customers/new", methods=["GET", "POST"])
@require("records.manage")
def new_customer(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    fields = cf.project_fields(project.id)
    errors: dict[str, str] = {}
    duplicates: list[Customer] = []
    if request.method == "POST":
        try:
            customer = ops.create_customer(project.id, form_data(project.id),
                                           allow_duplicate=bool(request.form.get("allow_dup")))
            unit_id = request.form.get("unit_id", type=int)
            if unit_id:
                unit = scoped_get(Unit, unit_id)
                if unit is None or unit.project_id != project.id:
                    abort(404)
                ops.link_unit(customer, unit, request.form.get("relation", "owner"),
                              request.form.get("move_in") or None)
            flash(_("Customer %(number)s created.", number=customer.number), "success")
            return redirect(url_for("records.show", project_id=project.id,
                                    customer_id=customer.id))
        except ops.DuplicateCustomer as exc:
            duplicates = exc.duplicates
        except DomainError as exc:
            errors = exc.fields or {"form": exc.message}
    units = db.session.execute(select(Unit.id, Building.name, Unit.number).join(Building).where(
        Unit.project_id == project.id).order_by(Building.name, Unit.number).limit(2000)).all()
    status = 409 if duplicates else 422 if errors else 200
    return render_template("records/edit.html", project=project, customer=None, fields=fields,
                           form=request.form, errors=errors, duplicates=duplicates,
                           units=units, values={}, **_choices()), status


@bp.get("/<int:project_id>/customers/<int:customer_id>")
@require("records.read")
def show(project_id: int, customer_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    customer = get_customer_or_404(project, customer_id)
    history = db.session.scalars(select(AuditEvent).where(
        AuditEvent.record_type == "customer", AuditEvent.record_id == str(customer.id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(100)).all()
    tags = db.session.scalars(select(Tag).where(Tag.project_id == project.id,
                                                Tag.kind == "manual").order_by(Tag.label)).all()
    return render_template(
        "records/show.html", project=project, c=customer, masked=protect.protected_view(customer),
        history=history, merges=merge_history(customer), manual_tags=tags,
        tag_links=customer.tag_links, values={v.field.code: v.value for v in
                                              customer.field_values},
        fields=cf.project_fields(project.id), family_phone=lambda m: protect.mask(
            "phone", protect.family_phone(m)), revealed=None, **_choices())


@bp.post("/<int:project_id>/customers/<int:customer_id>/reveal/<field>")
@require("records.reveal")
def reveal(project_id: int, customer_id: int, field: str) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    customer = get_customer_or_404(project, customer_id)
    if field not in protect.PROTECTED_FIELDS:
        abort(404)
    value = protect.reveal(customer, field)
    return render_template("records/revealed.html", project=project, c=customer, field=field,
                           value=value)


@bp.route("/<int:project_id>/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@require("records.manage")
def edit(project_id: int, customer_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    customer = get_customer_or_404(project, customer_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            ops.update_customer(customer, form_data(project.id))
            flash(_("Saved."), "success")
            return redirect(url_for("records.show", project_id=project.id,
                                    customer_id=customer.id))
        except DomainError as exc:
            errors = exc.fields or {"form": exc.message}
    values = {v.field.code: v.value for v in customer.field_values}
    return render_template("records/edit.html", project=project, customer=customer,
                           fields=cf.project_fields(project.id), form=request.form,
                           errors=errors, duplicates=[], units=[], values=values,
                           **_choices()), 422 if errors else 200


def _back(project: Project, customer: Customer) -> ResponseReturnValue:
    return redirect(url_for("records.show", project_id=project.id, customer_id=customer.id))


def _act(project_id: int, customer_id: int, action: Any) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    customer = get_customer_or_404(project, customer_id)
    try:
        action(project, customer)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("records.show", project_id=project.id,
                                customer_id=customer.id), 303)
    flash(_("Saved."), "success")
    return _back(project, customer)


@bp.post("/<int:project_id>/customers/<int:customer_id>/units")
@require("records.manage")
def link_unit(project_id: int, customer_id: int) -> ResponseReturnValue:
    def act(project: Project, customer: Customer) -> None:
        f = request.form
        unit = db.session.scalar(select(Unit).join(Building).where(
            Unit.project_id == project.id, Building.name == f.get("building", "").strip(),
            Unit.number == f.get("unit", "").strip()))
        if unit is None:
            raise ops.FieldErrors({"unit": _("No such unit in this project.")})
        ops.link_unit(customer, unit, f.get("relation", "owner"), f.get("move_in") or None)
    return _act(project_id, customer_id, act)


@bp.post("/<int:project_id>/customers/<int:customer_id>/occupancies/<int:row_id>/move-out")
@require("records.manage")
def move_out(project_id: int, customer_id: int, row_id: int) -> ResponseReturnValue:
    return _act(project_id, customer_id, lambda p, c: ops.end_occupancy(
        get_row_or_404(Occupancy, c, row_id), request.form.get("move_out")))


@bp.post("/<int:project_id>/customers/<int:customer_id>/family")
@require("records.manage")
def add_family(project_id: int, customer_id: int) -> ResponseReturnValue:
    f = request.form
    return _act(project_id, customer_id, lambda p, c: ops.add_family_member(
        c, f.get("name", ""), f.get("relation", ""), f.get("phone") or None))


@bp.post("/<int:project_id>/customers/<int:customer_id>/family/<int:row_id>/delete")
@require("records.manage")
def remove_family(project_id: int, customer_id: int, row_id: int) -> ResponseReturnValue:
    return _act(project_id, customer_id, lambda p, c: ops.remove_family_member(
        get_row_or_404(FamilyMember, c, row_id)))


@bp.post("/<int:project_id>/customers/<int:customer_id>/vehicles")
@require("records.manage")
def add_vehicle(project_id: int, customer_id: int) -> ResponseReturnValue:
    f = request.form
    return _act(project_id, customer_id, lambda p, c: ops.add_vehicle(
        c, f.get("plate", ""), f.get("parking_space")))


@bp.post("/<int:project_id>/customers/<int:customer_id>/vehicles/<int:row_id>/delete")
@require("records.manage")
def remove_vehicle(project_id: int, customer_id: int, row_id: int) -> ResponseReturnValue:
    return _act(project_id, customer_id, lambda p, c: ops.remove_vehicle(
        get_row_or_404(Vehicle, c, row_id)))


def _tag(project: Project, tag_id: int | None) -> Tag:
    tag = scoped_get(Tag, tag_id) if tag_id else None
    if tag is None or tag.project_id != project.id:
        abort(404)
    return tag


@bp.post("/<int:project_id>/customers/<int:customer_id>/tags")
@require("records.manage")
def add_tag(project_id: int, customer_id: int) -> ResponseReturnValue:
    return _act(project_id, customer_id, lambda p, c: ops.tag_customer(
        c, _tag(p, request.form.get("tag_id", type=int))))


@bp.post("/<int:project_id>/customers/<int:customer_id>/tags/<int:tag_id>/delete")
@require("records.manage")
def remove_tag(project_id: int, customer_id: int, tag_id: int) -> ResponseReturnValue:
    return _act(project_id, customer_id, lambda p, c: ops.untag_customer(c, _tag(p, tag_id)))
