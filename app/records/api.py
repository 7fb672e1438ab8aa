"""Customer records in the JSON API (``/api/v1/records``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.accounts.permissions import require
from app.api import PAGE_QUERY, json_body, page_args
from app.api.openapi import doc
from app.audit.models import AuditEvent
from app.errors import FieldErrors, NotFound
from app.extensions import db
from app.projects.models import Building, Unit
from app.projects.views import get_project_or_404
from app.records import export, importer, protect, tags
from app.records import fields as cf
from app.records import operations as ops
from app.records.lookup import scoped_get
from app.records.merge import merge_customers
from app.records.models import Customer, FamilyMember, Tag, Vehicle
from app.records.portal import my_customer
from app.records.search import CustomerFilter, search
from app.records.views import file_response

bp = Blueprint("records_api", __name__, url_prefix="/api/v1/records")
T = ("records",)

S = {"type": ["string", "null"]}
CUSTOMER_IN = {"type": "object", "additionalProperties": False, "properties": {
    **{k: S for k in ("number", "kind", "name", "id_type", "id_number", "phone", "bank_account",
                      "email", "preferred_channel", "emergency_name", "emergency_relation",
                      "emergency_phone", "note")},
    "custom": {"type": "object"}, "allow_duplicate": {"type": "boolean"},
    "units": {"type": "array", "items": {"type": "object", "required": ["building", "unit"],
                                         "properties": {"building": {"type": "string"},
                                                        "unit": {"type": "string"},
                                                        "relation": {"type": "string"},
                                                        "move_in": S, "move_out": S}}}}}
NEW_CUSTOMER = {**CUSTOMER_IN, "required": ["name"]}
CUSTOMER = {"type": "object", "properties": {
    "id": {"type": "integer"}, "number": {"type": "string"}, "name": {"type": "string"},
    "phone": S, "id_number": S, "units": {"type": "array"}, "tags": {"type": "array"}}}
REVEAL = {"type": "object", "required": ["field"], "properties": {
    "field": {"enum": sorted(protect.PROTECTED_FIELDS)}}}
UNIT_LINK = {"type": "object", "required": ["building", "unit"], "properties": {
    "building": {"type": "string"}, "unit": {"type": "string"},
    "relation": {"enum": ["owner", "tenant", "family"]}, "move_in": S, "move_out": S}}
FAMILY = {"type": "object", "required": ["name", "relation"], "properties": {
    "name": {"type": "string"}, "relation": {"type": "string"}, "phone": S}}
VEHICLE = {"type": "object", "required": ["plate"], "properties": {
    "plate": {"type": "string"}, "parking_space": S}}
FIELD_DEF = {"type": "object", "required": ["code", "label", "kind"], "properties": {
    "code": {"type": "string"}, "label": {"type": "string"},
    "kind": {"enum": ["text", "number", "date", "choice"]},
    "choices": {"type": "array", "items": {"type": "string"}}, "required": {"type": "boolean"}}}
TAG_DEF = {"type": "object", "required": ["code", "label"], "properties": {
    "code": {"type": "string"}, "label": {"type": "string"}}}
SEARCH_QUERY: dict[str, dict[str, Any]] = {**PAGE_QUERY, **{k: {"type": "string"} for k in (
    "q", "building", "unit", "phone", "id_number", "plate", "tag", "field", "value", "relation",
    "status")}}


def customer_json(c: Customer, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": c.id, "number": c.number, "kind": c.kind, "name": c.name, "status": c.status,
        "phone": protect.masked(c, "phone"), "id_type": c.id_type,
        "id_number": protect.masked(c, "id_number"),
        "units": [{"id": o.id, "unit": o.unit.label, "relation": o.relation,
                   "move_in": o.move_in and o.move_in.isoformat(),
                   "move_out": o.move_out and o.move_out.isoformat()} for o in c.occupancies],
        "tags": export.tag_labels([c.id]).get(c.id, []),
    }
    if full:
        data.update({
            "email": c.email, "preferred_channel": c.preferred_channel,
            "bank_account": protect.masked(c, "bank_account"),
            "emergency_contact": {"name": c.emergency_name, "relation": c.emergency_relation,
                                  "phone": protect.masked(c, "emergency_phone")},
            "family": [{"id": m.id, "name": m.name, "relation": m.relation,
                        "phone": protect.mask("phone", protect.family_phone(m))}
                       for m in c.family],
            "vehicles": [{"id": x.id, "plate": x.plate, "parking_space": x.parking_space}
                         for x in c.vehicles],
            "custom": {v.field.code: v.value for v in c.field_values},
            "merged_into_id": c.merged_into_id, "user_id": c.user_id,
        })
    return data


def _customer(customer_id: int) -> Customer:
    customer = scoped_get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    return customer


def _unit(project_id: int, building: str, number: str) -> Unit:
    unit = db.session.scalar(select(Unit).join(Building).where(
        Unit.project_id == project_id, Building.name == building, Unit.number == number))
    if unit is None:
        raise FieldErrors({"unit": f"no unit {building}-{number} in this project"})
    return unit


@bp.get("/projects/<int:project_id>/customers")
@require("records.read")
@doc("Search customers (combined filters, paged)", tags=T, query=SEARCH_QUERY)
def list_customers(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    page_no, per_page = page_args()
    page = search(project.id, CustomerFilter.from_args(request.args), page_no, per_page)
    return jsonify({"items": [customer_json(c) for c in page.items], "total": page.total,
                    "page": page.page, "per_page": page.per_page})


@bp.get("/projects/<int:project_id>/customers/export.xlsx")
@require("records.read")
@doc("The filtered list as Excel (protected values masked)", tags=T, query=SEARCH_QUERY)
def export_customers(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    rows = db.session.scalars(CustomerFilter.from_args(request.args).query(project.id)
                              .limit(export.EXPORT_LIMIT))
    return file_response(export.export_list(list(rows)), f"customers-{project.code}.xlsx")


@bp.post("/projects/<int:project_id>/customers")
@require("records.manage")
@doc("Create a customer (409 with possible duplicates unless allow_duplicate)", tags=T,
     request=NEW_CUSTOMER, response=CUSTOMER, status=201)
def create_customer(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    data = json_body(NEW_CUSTOMER)
    try:
        customer = ops.create_customer(project.id, data, bool(data.get("allow_duplicate")))
    except ops.DuplicateCustomer as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message, "fields": {}},
                        "duplicates": [customer_json(c) for c in exc.duplicates]}), 409
    for link in data.get("units") or []:
        ops.link_unit(customer, _unit(project.id, link["building"], link["unit"]),
                      link.get("relation") or "owner", link.get("move_in"),
                      link.get("move_out"))
    return jsonify(customer_json(customer, full=True)), 201


@bp.get("/customers/<int:customer_id>")
@require("records.read")
@doc("One customer (protected values masked)", tags=T, response=CUSTOMER)
def get_customer(customer_id: int) -> ResponseReturnValue:
    return jsonify(customer_json(_customer(customer_id), full=True))


@bp.patch("/customers/<int:customer_id>")
@require("records.manage")
@doc("Change fields of a customer", tags=T, request=CUSTOMER_IN, response=CUSTOMER)
def update_customer(customer_id: int) -> ResponseReturnValue:
    customer = _customer(customer_id)
    data = json_body(CUSTOMER_IN)
    data.pop("units", None)
    data.pop("allow_duplicate", None)
    return jsonify(customer_json(ops.update_customer(customer, data), full=True))


@bp.post("/customers/<int:customer_id>/reveal")
@require("records.reveal")
@doc("Reveal one protected value in full (written to the audit trail)", tags=T,
     request=REVEAL)
def reveal(customer_id: int) -> ResponseReturnValue:
    customer = _customer(customer_id)
    field = json_body(REVEAL)["field"]
    return jsonify({"field": field, "value": protect.reveal(customer, field)})


@bp.get("/customers/<int:customer_id>/duplicates")
@require("records.read")
@doc("Possible duplicates of a customer (same ID number, or same name and phone)", tags=T)
def duplicates(customer_id: int) -> ResponseReturnValue:
    c = _customer(customer_id)
    found = ops.find_duplicates(c.project_id, id_number=protect.plain(c, "id_number"),
                                name=c.name, phone=protect.plain(c, "phone"), exclude=c.id)
    return jsonify([customer_json(d) for d in found])


@bp.post("/customers/<int:customer_id>/merge")
@require("records.manage")
@doc("Merge this customer into another (kept) one", tags=T, request={
    "type": "object", "required": ["target_id"], "properties": {"target_id": {"type": "integer"}}})
def merge(customer_id: int) -> ResponseReturnValue:
    source = _customer(customer_id)
    target = _customer(json_body({"type": "object"}).get("target_id") or 0)
    record = merge_customers(source, target)
    return jsonify({"merge_id": record.id, "details": record.details,
                    "target": customer_json(target, full=True)})


@bp.get("/customers/<int:customer_id>/history")
@require("records.read")
@doc("The customer's history (audit trail)", tags=T, query=PAGE_QUERY)
def history(customer_id: int) -> ResponseReturnValue:
    customer = _customer(customer_id)
    page_no, per_page = page_args()
    rows = db.session.scalars(select(AuditEvent).where(
        AuditEvent.record_type == "customer", AuditEvent.record_id == str(customer.id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(per_page).offset((page_no - 1) * per_page))
    return jsonify([{"at": e.at.isoformat(), "by": e.actor_label, "action": e.action,
                     "before": e.before, "after": e.after} for e in rows])


@bp.get("/customers/<int:customer_id>/export")
@require("records.admin")
@doc("Everything held about one customer, in full (PIPL access request; audited)", tags=T)
def export_customer(customer_id: int) -> ResponseReturnValue:
    return jsonify(export.customer_data(_customer(customer_id)))


@bp.post("/customers/<int:customer_id>/units")
@require("records.manage")
@doc("Link the customer to a unit", tags=T, request=UNIT_LINK, status=201)
def link_unit(customer_id: int) -> ResponseReturnValue:
    customer = _customer(customer_id)
    data = json_body(UNIT_LINK)
    occ = ops.link_unit(customer, _unit(customer.project_id, data["building"], data["unit"]),
                        data.get("relation", "owner"), data.get("move_in"), data.get("move_out"))
    return jsonify({"id": occ.id}), 201


@bp.post("/customers/<int:customer_id>/family")
@require("records.manage")
@doc("Add a family member", tags=T, request=FAMILY, status=201)
def add_family(customer_id: int) -> ResponseReturnValue:
    data = json_body(FAMILY)
    m = ops.add_family_member(_customer(customer_id), data["name"], data["relation"],
                              data.get("phone"))
    return jsonify({"id": m.id}), 201


@bp.post("/customers/<int:customer_id>/vehicles")
@require("records.manage")
@doc("Add a vehicle", tags=T, request=VEHICLE, status=201)
def add_vehicle(customer_id: int) -> ResponseReturnValue:
    data = json_body(VEHICLE)
    x = ops.add_vehicle(_customer(customer_id), data["plate"], data.get("parking_space"))
    return jsonify({"id": x.id, "plate": x.plate}), 201


@bp.post("/customers/<int:customer_id>/tags")
@require("records.manage")
@doc("Put a manual tag on the customer", tags=T, request={
    "type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}})
def add_tag(customer_id: int) -> ResponseReturnValue:
    customer = _customer(customer_id)
    code = json_body({"type": "object"}).get("code")
    tag = db.session.scalar(select(Tag).where(Tag.project_id == customer.project_id,
                                              Tag.code == code))
    if tag is None:
        raise FieldErrors({"code": "no such tag"})
    ops.tag_customer(customer, tag)
    return jsonify(customer_json(customer))


@bp.get("/projects/<int:project_id>/fields")
@require("records.read")
@doc("Custom fields of a project", tags=T)
def list_fields(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    return jsonify([{"id": f.id, "code": f.code, "label": f.label, "kind": f.kind,
                     "choices": f.choices, "required": f.required}
                    for f in cf.project_fields(project.id)])


@bp.post("/projects/<int:project_id>/fields")
@require("records.admin")
@doc("Define a custom field", tags=T, request=FIELD_DEF, status=201)
def define_field(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    d = json_body(FIELD_DEF)
    f = cf.define_field(project.id, d["code"], d["label"], d["kind"], d.get("choices"),
                        bool(d.get("required")))
    return jsonify({"id": f.id, "code": f.code}), 201


@bp.get("/projects/<int:project_id>/tags")
@require("records.read")
@doc("Tags of a project (rule tags with their rule)", tags=T)
def list_tags(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    rows = db.session.scalars(select(Tag).where(Tag.project_id == project.id))
    return jsonify([{"id": t.id, "code": t.code, "label": t.label, "kind": t.kind,
                     "rule": t.rule_text} for t in rows])


@bp.post("/projects/<int:project_id>/tags")
@require("records.admin")
@doc("Define a manual tag", tags=T, request=TAG_DEF, status=201)
def define_tag(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    d = json_body(TAG_DEF)
    if db.session.scalar(select(Tag.id).where(Tag.project_id == project.id,
                                              Tag.code == d["code"])):
        raise ops.Conflict("tag code taken", field="code")
    tag = tags.add_manual_tag(project.id, d["code"], d["label"])
    return jsonify({"id": tag.id, "code": tag.code}), 201


@bp.post("/projects/<int:project_id>/import")
@require("records.admin")
@doc("Import an Excel workbook (multipart field 'file'; import_valid=1 skips bad rows)",
     tags=T)
def import_workbook(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    upload = request.files.get("file")
    if upload is None:
        raise FieldErrors({"file": "required"})
    result = importer.import_workbook(project.id, upload.read(),
                                      request.form.get("import_valid") in {"1", "true"})
    return jsonify(result.as_dict()), 200 if result.imported else 422


@bp.get("/projects/<int:project_id>/import/template.xlsx")
@require("records.admin")
@doc("The Excel import template", tags=T)
def import_template(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    return file_response(importer.template(project.id), "customers-template.xlsx")


@bp.get("/me")
@require("portal.use")
@doc("My own customer record (residents)", tags=T, response=CUSTOMER)
def me() -> ResponseReturnValue:
    customer = my_customer()
    if customer is None:
        raise NotFound("no customer record is linked to this account")
    return jsonify(customer_json(customer, full=True))


@bp.patch("/me")
@require("portal.use")
@doc("Change my phone number", tags=T, request={
    "type": "object", "required": ["phone"], "properties": {"phone": {"type": "string"}}})
def update_me() -> ResponseReturnValue:
    customer = my_customer()
    if customer is None:
        raise NotFound("no customer record is linked to this account")
    ops.update_customer(customer, {"phone": json_body({"type": "object"})["phone"]})
    return jsonify(customer_json(customer, full=True))


@bp.post("/me/vehicles")
@require("portal.use")
@doc("Register one of my vehicles", tags=T, request=VEHICLE, status=201)
def my_vehicle() -> ResponseReturnValue:
    customer = my_customer() or abort(404)
    data = json_body(VEHICLE)
    x = ops.add_vehicle(customer, data["plate"], data.get("parking_space"))
    return jsonify({"id": x.id, "plate": x.plate}), 201


@bp.post("/me/family")
@require("portal.use")
@doc("Add one of my family members", tags=T, request=FAMILY, status=201)
def my_family() -> ResponseReturnValue:
    customer = my_customer() or abort(404)
    data = json_body(FAMILY)
    m = ops.add_family_member(customer, data["name"], data["relation"], data.get("phone"))
    return jsonify({"id": m.id}), 201


@bp.delete("/me/<kind>/<int:row_id>")
@require("portal.use")
@doc("Remove one of my vehicles or family members (kind: vehicles|family)", tags=T,
     status=204)
def my_remove(kind: str, row_id: int) -> ResponseReturnValue:
    customer = my_customer() or abort(404)
    models: dict[str, Any] = {"vehicles": Vehicle, "family": FamilyMember}
    model = models.get(kind) or abort(404)
    row = scoped_get(model, row_id)
    if row is None or row.customer_id != customer.id:
        abort(404)
    if isinstance(row, Vehicle):
        ops.remove_vehicle(row)
    else:
        ops.remove_family_member(row)
    return "", 204
