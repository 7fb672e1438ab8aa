"""Owner portal: my bills, arrears, payment history and receipts to download."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.accounts.permissions import require

from . import queries as q

bp = Blueprint("billing_portal", __name__, url_prefix="/my/bills")


@bp.get("/")
@require("portal.use")
def index() -> ResponseReturnValue:
    accounts = [q.account_json(u, resident=True) for u in q.my_units(current_user)]
    return render_template("billing/portal.html", accounts=accounts)


@bp.get("/receipts/<int:payment_id>")
@require("portal.use")
def receipt(payment_id: int) -> ResponseReturnValue:
    payment = q.my_payment(current_user, payment_id)
    response = make_response(render_template("billing/receipt.html", payment=payment))
    if request.args.get("download"):
        response.headers["Content-Disposition"] = \
            f'attachment; filename="receipt-{payment.number}.html"'
    return response
