"""Fees, bills, payments, refunds, statements, arrears reports and dunning in the JSON API
(``/api/v1/billing``); residents' own bills under ``/api/v1/billing/my``."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.accounts.permissions import require
from app.api import json_body
from app.api.openapi import doc
from app.errors import FieldErrors, NotFound
from app.extensions import db
from app.projects.views import get_project_or_404
from app.records.views import file_response

from . import dunning, fees, payments, reports, statements
from . import queries as q
from .arrears import bill_json
from .models import CYCLES, FEE_KINDS, PAYMENT_METHODS, Bill, DunningCase
from .money import local_today
from .run import run_billing

bp = Blueprint("billing_api", __name__, url_prefix="/api/v1/billing")
T = ("billing",)
INT = {"type": "integer"}
STR = {"type": "string"}
FEE = {"type": "object", "required": ["code", "name", "kind", "unit_price_fen"], "properties": {
    "code": STR, "name": STR, "kind": {"enum": list(FEE_KINDS)},
    "unit_price_fen": INT, "cycle": {"enum": list(CYCLES)}, "due_days": INT,
    "unit_ids": {"type": ["array", "null"], "items": INT}, "active": {"type": "boolean"}}}
PAYMENT = {"type": "object", "required": ["unit_id", "amount_fen", "method"], "properties": {
    "unit_id": INT, "amount_fen": INT, "method": {"enum": list(PAYMENT_METHODS[:-1])},
    "reference": STR, "payer": STR, "note": STR, "bill_id": INT}}
REFUND = {"type": "object", "required": ["unit_id", "amount_fen", "method", "reason"],
          "properties": {"unit_id": INT, "amount_fen": INT,
                         "method": {"enum": list(PAYMENT_METHODS[:-1])}, "reason": STR}}
DECISION = {"type": "object", "required": ["approve"], "properties": {
    "approve": {"type": "boolean"}, "note": STR}}
READING = {"type": "object", "required": ["unit_id", "fee_item_id", "period", "previous",
                                          "current"],
           "properties": {"unit_id": INT, "fee_item_id": INT, "period": STR,
                          "previous": {"type": ["number", "string"]},
                          "current": {"type": ["number", "string"]}}}
RUN = {"type": "object", "required": ["project_id"], "properties": {
    "project_id": INT, "day": {"type": "string", "format": "date"},
    "open_cases": {"type": "boolean"}}}
DISCOUNT = {"type": "object", "required": ["min_months", "percent_bp"], "properties": {
    "name": STR, "min_months": INT, "percent_bp": INT, "fee_item_id": {"type": ["integer",
                                                                                "null"]}}}
SETTINGS = {"type": "object", "properties": {"late_fee_per_10k_daily": INT,
                                             "late_fee_grace_days": INT}}
MATCH = {"type": "object", "required": ["unit_id"], "properties": {"unit_id": INT,
                                                                 "bill_id": INT}}
PROJECT_Q = {"project_id": {"type": "integer"}}


def _project_id() -> int:
    raw = request.args.get("project_id") or (request.form.get("project_id") if request.form
                                             else None)
    if not raw or not str(raw).isdigit():
        raise FieldErrors({"project_id": "required"})
    return get_project_or_404(int(raw)).id


def _day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise FieldErrors({"day": "a date like 2026-11-01"}) from exc


def _bill(bill_id: int | None) -> Bill | None:
    if bill_id is None:
        return None
    bill = db.session.get(Bill, bill_id)
    if bill is None:
        raise FieldErrors({"bill_id": "no such bill"})
    return bill


# --- set-up --------------------------------------------------------------------------------


@bp.get("/fee-items")
@require("finance.read")
@doc("A project's fee items", tags=T, query=PROJECT_Q)
def list_fee_items() -> ResponseReturnValue:
    return jsonify({"items": [q.fee_json(i) for i in q.fee_items(_project_id())]})


@bp.post("/projects/<int:project_id>/fee-items")
@require("finance.manage")
@doc("Add a fee item (area: fen per m² per month; fixed/parking: per month; metered: per "
     "unit read)", tags=T, request=FEE, status=201)
def create_fee_item(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    return jsonify(q.fee_json(fees.create_fee_item(project.id, json_body(FEE)))), 201


@bp.patch("/fee-items/<int:item_id>")
@require("finance.manage")
@doc("Change a fee item (issued bills keep their amounts)", tags=T,
     request={"type": "object", "properties": FEE["properties"]})
def update_fee_item(item_id: int) -> ResponseReturnValue:
    item = fees.get_fee_item(item_id)
    return jsonify(q.fee_json(fees.update_fee_item(item, json_body(
        {"type": "object", "properties": FEE["properties"]}))))


@bp.post("/projects/<int:project_id>/discount-rules")
@require("finance.manage")
@doc("Add a discount rule (e.g. 12 months → 500 bp = 5 % off)", tags=T, request=DISCOUNT,
     status=201)
def add_discount(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    rule = fees.add_discount_rule(project.id, json_body(DISCOUNT))
    return jsonify({"id": rule.id, "min_months": rule.min_months,
                    "percent_bp": rule.percent_bp}), 201


@bp.put("/projects/<int:project_id>/settings")
@require("finance.manage")
@doc("Late fee (万分之 per day) and grace days of a project", tags=T, request=SETTINGS)
def update_settings(project_id: int) -> ResponseReturnValue:
    row = fees.update_settings(get_project_or_404(project_id).id, json_body(SETTINGS))
    return jsonify({"late_fee_per_10k_daily": row.late_fee_per_10k_daily,
                    "late_fee_grace_days": row.late_fee_grace_days})


@bp.post("/readings")
@require("finance.manage")
@doc("Enter a meter reading", tags=T, request=READING, status=201)
def add_reading() -> ResponseReturnValue:
    data = json_body(READING)
    unit = payments.get_unit(data["unit_id"])
    row = fees.record_reading(unit, fees.get_fee_item(data["fee_item_id"]), data["period"],
                              data["previous"], data["current"])
    return jsonify({"id": row.id, "quantity_c": row.quantity_c,
                    "period_start": row.period_start.isoformat()}), 201


@bp.post("/projects/<int:project_id>/readings/import")
@require("finance.manage")
@doc("Import readings from Excel (multipart 'file'; columns building, unit, fee_code, "
     "period, previous, current); all rows or none", tags=T)
def import_readings(project_id: int) -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None:
        raise FieldErrors({"file": "required"})
    return jsonify(fees.import_readings(get_project_or_404(project_id).id, upload.read()))


@bp.post("/runs")
@require("finance.manage")
@doc("Run billing for a project (idempotent per period); optionally open dunning cases",
     tags=T, request=RUN)
def run() -> ResponseReturnValue:
    data = json_body(RUN)
    project = get_project_or_404(data["project_id"])
    result = run_billing(project.id, _day(data.get("day")))
    body = result.as_dict()
    if data.get("open_cases", True):
        body["cases_opened"] = dunning.open_cases(local_today(), project.id)
    return jsonify(body)


# --- bills, payments, refunds ----------------------------------------------------------------


@bp.get("/units/<int:unit_id>/account")
@require("finance.read")
@doc("A unit's bills, payments, balance and arrears", tags=T)
def unit_account(unit_id: int) -> ResponseReturnValue:
    return jsonify(q.account_json(payments.get_unit(unit_id)))


@bp.get("/bills/<int:bill_id>")
@require("finance.read")
@doc("One bill with its lines and allocations", tags=T)
def get_bill(bill_id: int) -> ResponseReturnValue:
    bill = db.session.get(Bill, bill_id)
    if bill is None:
        raise NotFound(f"no bill {bill_id}")
    return jsonify(q.bill_detail(bill))


@bp.post("/payments")
@require("finance.manage")
@doc("Record a payment (cash, POS, bank transfer, WeChat, Alipay): allocated to a named bill "
     "first, then oldest due first; the rest kept as balance", tags=T, request=PAYMENT,
     status=201)
def create_payment() -> ResponseReturnValue:
    data = json_body(PAYMENT)
    unit = payments.get_unit(data["unit_id"])
    payment = payments.record_payment(
        unit, data["amount_fen"], data["method"], reference=data.get("reference"),
        payer=data.get("payer"), note=data.get("note"), bill=_bill(data.get("bill_id")),
        user=current_user)
    return jsonify(q.payment_json(payment)), 201


@bp.get("/payments/<int:payment_id>")
@require("finance.read")
@doc("A payment and its allocations", tags=T)
def get_payment(payment_id: int) -> ResponseReturnValue:
    return jsonify(q.payment_json(payments.get_payment(payment_id)))


@bp.post("/refunds")
@require("finance.manage")
@doc("Request a refund from a unit's balance (approved by someone else)", tags=T,
     request=REFUND, status=201)
def create_refund() -> ResponseReturnValue:
    data = json_body(REFUND)
    refund = payments.request_refund(payments.get_unit(data["unit_id"]), data["amount_fen"],
                                     data["method"], data["reason"], current_user)
    return jsonify(q.refund_json(refund)), 201


@bp.post("/refunds/<int:refund_id>/decision")
@require("finance.approve_refund")
@doc("Approve or reject a refund (not by its requester)", tags=T, request=DECISION)
def decide_refund(refund_id: int) -> ResponseReturnValue:
    data = json_body(DECISION)
    refund = payments.decide_refund(payments.get_refund(refund_id), data["approve"],
                                    current_user, data.get("note"))
    return jsonify(q.refund_json(refund))


# --- statements -----------------------------------------------------------------------------


@bp.post("/projects/<int:project_id>/statements")
@require("finance.manage")
@doc("Import a bank/finance statement (multipart 'file'; columns date, amount, reference, "
     "optional payer, bill_number, unit, method); rows are matched to bills", tags=T,
     status=201)
def import_statement(project_id: int) -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None:
        raise FieldErrors({"file": "required"})
    statement = statements.import_statement(get_project_or_404(project_id).id,
                                            upload.filename or "statement.xlsx", upload.read(),
                                            current_user)
    return jsonify(q.statement_json(statement)), 201


@bp.get("/statement-rows")
@require("finance.read")
@doc("Statement rows waiting for manual matching", tags=T, query=PROJECT_Q)
def unmatched_rows() -> ResponseReturnValue:
    return jsonify({"items": [q.row_json(r) for r in q.unmatched_rows(_project_id())]})


@bp.post("/statement-rows/<int:row_id>/match")
@require("finance.manage")
@doc("Match a statement row to a unit (and bill) by hand", tags=T, request=MATCH)
def match_row(row_id: int) -> ResponseReturnValue:
    data = json_body(MATCH)
    row = statements.match_row(statements.get_row(row_id), payments.get_unit(data["unit_id"]),
                               _bill(data.get("bill_id")), current_user)
    return jsonify(q.row_json(row))


@bp.post("/statement-rows/<int:row_id>/ignore")
@require("finance.manage")
@doc("Mark a statement row as not a unit's payment", tags=T,
     request={"type": "object", "required": ["note"], "properties": {"note": STR}})
def ignore_row(row_id: int) -> ResponseReturnValue:
    data = json_body({"type": "object", "required": ["note"], "properties": {"note": STR}})
    return jsonify(q.row_json(statements.ignore_row(statements.get_row(row_id), data["note"])))


# --- reports and dunning ------------------------------------------------------------------------


@bp.get("/reports/arrears")
@require("finance.read")
@doc("Arrears: ageing buckets, top owners, by building, collection rate per month", tags=T,
     query=PROJECT_Q)
def arrears_report() -> ResponseReturnValue:
    return jsonify(reports.arrears_report(_project_id(), local_today()))


@bp.get("/reports/arrears.xlsx")
@require("finance.read")
@doc("The arrears report as Excel", tags=T, query=PROJECT_Q)
def arrears_export() -> ResponseReturnValue:
    project_id = _project_id()
    content = reports.report_workbook(reports.arrears_report(project_id, local_today()))
    return file_response(content, f"arrears-{local_today():%Y%m%d}.xlsx")


@bp.get("/dunning-cases")
@require("finance.read")
@doc("Open arrears cases of a project", tags=T, query=PROJECT_Q)
def dunning_cases() -> ResponseReturnValue:
    rows = db.session.scalars(select(DunningCase).where(
        DunningCase.project_id == _project_id(), DunningCase.status == "open")
        .order_by(DunningCase.oldest_due).limit(500))
    return jsonify({"items": [q.case_json(c) for c in rows]})


# --- residents ------------------------------------------------------------------------------


@bp.get("/my")
@require("portal.use")
@doc("My units' bills, arrears, payments and balance (residents)", tags=T)
def my_account() -> ResponseReturnValue:
    return jsonify({"units": [q.account_json(u, resident=True)
                              for u in q.my_units(current_user)]})


@bp.get("/my/bills/<int:bill_id>")
@require("portal.use")
@doc("One of my bills", tags=T)
def my_bill(bill_id: int) -> ResponseReturnValue:
    bill = q.my_bill(current_user, bill_id)
    return jsonify(bill_json(bill, local_today()))
