"""Admin pages of customer records: import/export, custom fields, tags, merge, data export."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.permissions import require
from app.errors import DomainError
from app.extensions import db
from app.projects.views import get_project_or_404
from app.records import export, importer, tags
from app.records import fields as cf
from app.records.merge import merge_customers
from app.records.models import FIELD_KINDS, Customer, Tag
from app.records.views import file_response, get_customer_or_404

bp = Blueprint("records_admin", __name__, url_prefix="/records")


def _error_dir() -> Path:
    path = Path(current_app.instance_path) / "records-import-errors"
    path.mkdir(parents=True, exist_ok=True)
    return path


@bp.get("/<int:project_id>/import")
@require("records.admin")
def import_page(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    return render_template("records/import.html", project=project, result=None, token=None)


@bp.get("/<int:project_id>/import/template.xlsx")
@require("records.admin")
def import_template(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    return file_response(importer.template(project.id), f"customers-template-{project.code}.xlsx")


@bp.post("/<int:project_id>/import")
@require("records.admin")
def import_upload(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose an Excel file to import."), "error")
        return render_template("records/import.html", project=project, result=None,
                               token=None), 422
    result = importer.import_workbook(project.id, upload.read(),
                                      import_valid=bool(request.form.get("import_valid")))
    token = None
    if result.error_workbook:
        token = f"{project.id}-{uuid.uuid4().hex}"
        (_error_dir() / f"{token}.xlsx").write_bytes(result.error_workbook)
    status = 200 if result.imported else 422
    return render_template("records/import.html", project=project, result=result,
                           token=token), status


@bp.get("/<int:project_id>/import/errors/<token>.xlsx")
@require("records.admin")
def import_errors(project_id: int, token: str) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    name, _sep, key = token.partition("-")
    if name != str(project.id) or not key.isalnum():
        abort(404)
    path = _error_dir() / f"{token}.xlsx"
    if not path.exists():
        abort(404)
    return send_file(path, as_attachment=True, download_name=f"import-errors-{project.code}.xlsx")


@bp.route("/<int:project_id>/fields", methods=["GET", "POST"])
@require("records.admin")
def custom_fields(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        f = request.form
        try:
            cf.define_field(project.id, f.get("code", "").strip(), f.get("label", ""),
                            f.get("kind", ""), f.get("choices", "").split(","),
                            bool(f.get("required")))
            flash(_("Field added."), "success")
            return redirect(url_for("records_admin.custom_fields", project_id=project.id))
        except DomainError as exc:
            errors = exc.fields or {"form": exc.message}
    return render_template("records/fields.html", project=project, kinds=FIELD_KINDS,
                           fields=cf.project_fields(project.id, active_only=False),
                           errors=errors, form=request.form), 422 if errors else 200


@bp.route("/<int:project_id>/tags", methods=["GET", "POST"])
@require("records.admin")
def tag_defs(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    if request.method == "POST":
        if request.form.get("recompute"):
            tags.recompute_rule_tags(project.id)
            flash(_("Rule tags recomputed."), "success")
        else:
            code = request.form.get("code", "").strip()
            label = request.form.get("label", "").strip()
            if not code or not label or db.session.scalar(select(Tag.id).where(
                    Tag.project_id == project.id, Tag.code == code)):
                flash(_("A tag needs a new code and a label."), "error")
                return redirect(url_for("records_admin.tag_defs", project_id=project.id)), 303
            tags.add_manual_tag(project.id, code, label)
            flash(_("Tag added."), "success")
        return redirect(url_for("records_admin.tag_defs", project_id=project.id))
    rows = db.session.scalars(select(Tag).where(Tag.project_id == project.id)
                              .order_by(Tag.kind, Tag.label)).all()
    return render_template("records/tags.html", project=project, tags=rows,
                           rules=list(tags.RULES.values()))


@bp.route("/<int:project_id>/customers/<int:customer_id>/merge", methods=["GET", "POST"])
@require("records.manage")
def merge(project_id: int, customer_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    source = get_customer_or_404(project, customer_id)
    error = None
    if request.method == "POST":
        number = request.form.get("target", "").strip().upper()
        target = db.session.scalar(select(Customer).where(Customer.project_id == project.id,
                                                          Customer.number == number))
        if target is None:
            error = _("No customer with this number.")
        else:
            try:
                merge_customers(source, target)
                flash(_("%(a)s was merged into %(b)s.", a=source.number, b=target.number),
                      "success")
                return redirect(url_for("records.show", project_id=project.id,
                                        customer_id=target.id))
            except DomainError as exc:
                error = exc.message
    suggested = request.args.get("target", "")
    return render_template("records/merge.html", project=project, c=source, error=error,
                           suggested=suggested), 422 if error else 200


@bp.get("/<int:project_id>/customers/<int:customer_id>/data.<fmt>")
@require("records.admin")
def customer_export(project_id: int, customer_id: int, fmt: str) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    customer = get_customer_or_404(project, customer_id)
    if fmt not in {"json", "xlsx"}:
        abort(404)
    data = export.customer_data(customer)
    name = f"customer-{project.code}-{customer.number}.{fmt}"
    if fmt == "json":
        return file_response(json.dumps(data, ensure_ascii=False, indent=2).encode(), name,
                             "application/json")
    return file_response(export.customer_workbook(data), name)
