"""Finance pages: project overview (arrears, cases, refunds, unmatched statement rows), a
unit's account with the cashier's payment form, printable receipts, imports and reports."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.accounts.permissions import require
from app.errors import DomainError, FieldErrors
from app.extensions import db
from app.projects.models import Project
from app.projects.views import get_project_or_404
from app.records.views import file_response

from . import payments, reports, statements
from . import queries as q
from .models import PAYMENT_METHODS, DunningCase
from .money import local_today, parse_yuan, yuan

bp = Blueprint("billing", __name__, url_prefix="/billing")
METHODS = PAYMENT_METHODS[:-1]


@bp.app_template_filter("yuan")
def yuan_filter(fen: int | None) -> str:
    return yuan(int(fen or 0))


@bp.get("/")
@require("finance.read")
def index() -> ResponseReturnValue:
    projects = list(db.session.scalars(select(Project).order_by(Project.code)))
    project_id = request.args.get("project_id", type=int) or (projects[0].id if projects
                                                               else None)
    if project_id is None:
        return render_template("billing/index.html", projects=projects, project=None)
    project = get_project_or_404(project_id)
    report = reports.arrears_report(project.id, local_today())
    cases = list(db.session.scalars(select(DunningCase).where(
        DunningCase.project_id == project.id, DunningCase.status == "open")
        .order_by(DunningCase.oldest_due).limit(50)))
    return render_template("billing/index.html", projects=projects, project=project,
                           report=report, cases=cases, refunds=q.refunds(project.id),
                           rows=q.unmatched_rows(project.id), fee_items=q.fee_items(project.id))


@bp.get("/units/<int:unit_id>")
@require("finance.read")
def unit(unit_id: int) -> ResponseReturnValue:
    target = payments.get_unit(unit_id)
    return render_template("billing/unit.html", unit=target, account=q.account_json(target),
                           methods=METHODS)


@bp.post("/units/<int:unit_id>/payments")
@require("finance.manage")
def pay(unit_id: int) -> ResponseReturnValue:
    target = payments.get_unit(unit_id)
    try:
        payment = payments.record_payment(
            target, parse_yuan(request.form.get("amount"), "amount"),
            request.form.get("method", ""), reference=request.form.get("reference"),
            payer=request.form.get("payer"), user=current_user)
    except FieldErrors as exc:
        flash("; ".join(f"{k}: {v}" for k, v in exc.fields.items()), "error")
        return render_template("billing/unit.html", unit=target, methods=METHODS,
                               account=q.account_json(target), form=request.form), 422
    flash(_("Payment %(number)s recorded.", number=payment.number), "success")
    return redirect(url_for("billing.receipt", payment_id=payment.id))


@bp.get("/payments/<int:payment_id>/receipt")
@require("finance.read")
def receipt(payment_id: int) -> ResponseReturnValue:
    payment = payments.get_payment(payment_id)
    return render_template("billing/receipt.html", payment=payment)


@bp.post("/units/<int:unit_id>/refunds")
@require("finance.manage")
def request_refund(unit_id: int) -> ResponseReturnValue:
    target = payments.get_unit(unit_id)
    try:
        payments.request_refund(target, parse_yuan(request.form.get("amount"), "amount"),
                                request.form.get("method", ""),
                                request.form.get("reason", ""), current_user)
        flash(_("Refund requested; another person must approve it."), "success")
    except FieldErrors as exc:
        flash("; ".join(f"{k}: {v}" for k, v in exc.fields.items()), "error")
    return redirect(url_for("billing.unit", unit_id=target.id))


@bp.post("/refunds/<int:refund_id>")
@require("finance.approve_refund")
def decide_refund(refund_id: int) -> ResponseReturnValue:
    refund = payments.get_refund(refund_id)
    try:
        payments.decide_refund(refund, request.form.get("approve") == "1", current_user,
                               request.form.get("note"))
        flash(_("Refund %(status)s.", status=refund.status), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("billing.index", project_id=refund.project_id))


@bp.post("/projects/<int:project_id>/statements")
@require("finance.manage")
def import_statement(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    upload = request.files.get("file")
    try:
        if upload is None:
            raise FieldErrors({"file": "required"})
        statement = statements.import_statement(project.id, upload.filename or "statement",
                                                upload.read(), current_user)
        flash(_("%(matched)s of %(total)s rows matched.", matched=statement.rows_matched,
                total=statement.rows_total), "success")
    except FieldErrors as exc:
        flash("; ".join(f"{k}: {v}" for k, v in exc.fields.items()), "error")
    return redirect(url_for("billing.index", project_id=project.id))


@bp.get("/projects/<int:project_id>/arrears.xlsx")
@require("finance.read")
def export_arrears(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    content = reports.report_workbook(reports.arrears_report(project.id, local_today()))
    return file_response(content, f"arrears-{project.code}-{local_today():%Y%m%d}.xlsx")
