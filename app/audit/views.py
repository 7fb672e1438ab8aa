"""The audit trail page: filter by user, record, action and time; export to Excel."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from app.accounts.permissions import require
from app.audit.queries import AuditFilter, export_xlsx
from app.clock import clock
from app.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

EXPORT_LIMIT = 100_000


def _filter() -> AuditFilter:
    args = request.args
    return AuditFilter(user=args.get("user", "").strip(),
                       record_type=args.get("record_type", "").strip(),
                       record_id=args.get("record_id", "").strip(),
                       action=args.get("action", "").strip(),
                       since=args.get("since", "").strip(), until=args.get("until", "").strip())


@bp.get("/")
@require("audit.read")
def index() -> ResponseReturnValue:
    flt = _filter()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = db.paginate(flt.query(), page=page, per_page=50, error_out=False)
    return render_template("audit/index.html", pagination=pagination, flt=flt)


@bp.get("/export.xlsx")
@require("audit.read")
def export() -> ResponseReturnValue:
    events = list(db.session.scalars(_filter().query().limit(EXPORT_LIMIT)))
    name = f"audit-{clock.now():%Y%m%d-%H%M}.xlsx"
    return Response(
        export_xlsx(events),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
