"""Self-service for residents: their own phone, vehicles and family members.

Each change goes through the same operations as staff changes, so it lands in the record's
history (audit trail) attributed to the resident.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.accounts.permissions import require
from app.errors import DomainError
from app.extensions import db
from app.records import operations as ops
from app.records import protect
from app.records.lookup import scoped_get
from app.records.models import Customer, FamilyMember, Vehicle

bp = Blueprint("records_portal", __name__, url_prefix="/my/record")


def my_customer() -> Customer | None:
    """The active customer record linked to the signed-in account."""
    return db.session.scalar(select(Customer).where(Customer.user_id == current_user.id,
                                                    Customer.status == "active"))


def _mine_or_404() -> Customer:
    customer = my_customer()
    if customer is None:
        abort(404)
    return customer


@bp.get("/")
@require("portal.use")
def index() -> ResponseReturnValue:
    customer = my_customer()
    if customer is None:
        return render_template("records/portal.html", c=None), 404
    return render_template("records/portal.html", c=customer,
                           phone=protect.masked(customer, "phone"),
                           family_phone=lambda m: protect.mask("phone",
                                                               protect.family_phone(m)))


def _done(action: Callable[[], object]) -> ResponseReturnValue:
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("records_portal.index")), 303
    flash(_("Saved."), "success")
    return redirect(url_for("records_portal.index"))


@bp.post("/phone")
@require("portal.use")
def change_phone() -> ResponseReturnValue:
    customer = _mine_or_404()
    return _done(lambda: ops.update_customer(customer, {"phone": request.form.get("phone", "")}))


@bp.post("/vehicles")
@require("portal.use")
def add_vehicle() -> ResponseReturnValue:
    customer = _mine_or_404()
    return _done(lambda: ops.add_vehicle(customer, request.form.get("plate", ""),
                                         request.form.get("parking_space")))


@bp.post("/vehicles/<int:row_id>/delete")
@require("portal.use")
def remove_vehicle(row_id: int) -> ResponseReturnValue:
    customer = _mine_or_404()
    vehicle = scoped_get(Vehicle, row_id)
    if vehicle is None or vehicle.customer_id != customer.id:
        abort(404)
    return _done(lambda: ops.remove_vehicle(vehicle))


@bp.post("/family")
@require("portal.use")
def add_family() -> ResponseReturnValue:
    customer = _mine_or_404()
    f = request.form
    return _done(lambda: ops.add_family_member(customer, f.get("name", ""),
                                               f.get("relation", ""), f.get("phone") or None))


@bp.post("/family/<int:row_id>/delete")
@require("portal.use")
def remove_family(row_id: int) -> ResponseReturnValue:
    customer = _mine_or_404()
    member = scoped_get(FamilyMember, row_id)
    if member is None or member.customer_id != customer.id:
        abort(404)
    return _done(lambda: ops.remove_family_member(member))
