"""Lost-and-found pages: the public list and search, reporting, my reports, the item page
(claims for residents; review, verification, hand-over and disposal for staff)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from app.accounts.permissions import can, require
from app.clock import clock
from app.engine import runtime
from app.engine.models import HumanTask
from app.errors import DomainError, FieldErrors
from app.extensions import db
from app.inbox.formrender import parse_form, render_form
from app.lostfound import matching
from app.lostfound import operations as ops
from app.lostfound.models import CATEGORIES, Item
from app.uploads.operations import store_upload
from app.uploads.refs import upload_ref
from app.web.context import current_language

bp = Blueprint("lostfound", __name__, url_prefix="/lost-found")
PER_PAGE = 20
LOCAL = ops.LOCAL_TZ

STATUS_LABELS = {
    "pending_review": _l("Waiting for review"), "published": _l("Listed"),
    "rejected": _l("Rejected"), "returned": _l("Returned to owner"),
    "closed": _l("Closed"), "expired": _l("Expired"),
    "awaiting_disposal": _l("Unclaimed: disposal pending"), "disposed": _l("Disposed"),
    "withdrawn": _l("Withdrawn"),
}
CLAIM_LABELS = {"verifying": _l("Being checked"), "verified": _l("Verified: hand-over pending"),
                "declined": _l("Declined"), "handed_over": _l("Handed over"),
                "closed": _l("Closed")}
KIND_LABELS = {"lost": _l("Lost"), "found": _l("Found")}
CATEGORY_LABELS = {
    "keys": _l("Keys / access cards"), "wallet": _l("Wallet / purse"),
    "phone": _l("Phone / electronics"), "documents": _l("ID / documents / cards"),
    "bag": _l("Bag / luggage"), "clothing": _l("Clothing / accessories"),
    "jewellery": _l("Jewellery / watch"), "child": _l("Toys / children's items"),
    "pet": _l("Pet"), "other": _l("Other"),
}
DISPOSAL_LABELS = {"police": _l("Handed to the police"), "donate": _l("Donated"),
                   "dispose": _l("Disposed of")}


def reason_text(code: str, detail: str) -> str:
    """A match reason (see :mod:`app.lostfound.matching`) in the user's language."""
    if code == "category":
        return _("same category")
    if code == "days":
        return _("%(days)s day(s) apart", days=detail)
    if code == "place":
        return _("place: %(words)s", words=detail)
    return _("description: %(words)s", words=detail)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "claim_labels": CLAIM_LABELS,
            "kind_labels": KIND_LABELS, "category_labels": CATEGORY_LABELS,
            "disposal_labels": DISPOSAL_LABELS, "reason_text": reason_text,
            "is_staff": ops.is_staff(current_user)}


def _date(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=LOCAL)
    except ValueError:
        return None


def item_filter(args: Any, staff: bool) -> ops.ItemFilter:
    """The search filter from query arguments (shared with the API)."""
    date_to = _date("date_to")
    status = args.get("status", "published") if staff else "published"
    return ops.ItemFilter(
        kind=args.get("kind", "") if args.get("kind") in ("lost", "found") else "",
        category=args.get("category", "") if args.get("category") in CATEGORIES else "",
        place=args.get("place", "").strip()[:100], q=args.get("q", "").strip()[:100],
        date_from=_date("date_from"),
        date_to=date_to + timedelta(days=1) if date_to else None,
        status=status if status in STATUS_LABELS or status == "" else "published",
    )


@bp.get("/")
@require("lostfound.view")
def index() -> ResponseReturnValue:
    flt = item_filter(request.args, ops.is_staff(current_user))
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = db.paginate(ops.search_query(flt), page=page, per_page=PER_PAGE,
                             error_out=False)
    return render_template("lostfound/index.html", flt=flt, pagination=pagination,
                           args=request.args, categories=CATEGORIES)


# --- reporting ------------------------------------------------------------------------------


def _may_report() -> bool:
    return can("lostfound.report") or can("lostfound.log")


def _project_choices() -> list[int]:
    return sorted(current_user.project_ids)


def _report_page(data: dict[str, Any], errors: dict[str, str], status: int = 200,
                 project_id: int | None = None) -> ResponseReturnValue:
    projects = _project_choices()
    project = project_id or (projects[0] if projects else None)
    form_html = render_form(ops.report_schema(), None, data, errors, current_language(),
                            upload_url=f"/api/v1/uploads?project_id={project}")
    return render_template("lostfound/new.html", form_html=form_html, errors=errors,
                           projects=projects, project_id=project), status


@bp.get("/new")
@require("lostfound.view")
def new() -> ResponseReturnValue:
    if not _may_report():
        abort(403)
    kind = request.args.get("kind")
    local_now = clock.now().astimezone(LOCAL).replace(second=0, microsecond=0)
    data: dict[str, Any] = {"occurred_at": local_now.isoformat()}
    if kind in ("lost", "found"):
        data["kind"] = kind
    return _report_page(data, {})


@bp.post("/new")
@require("lostfound.view")
def create() -> ResponseReturnValue:
    if not _may_report():
        abort(403)
    project_id = request.form.get("project_id", type=int)
    if project_id is None and len(_project_choices()) == 1:
        project_id = _project_choices()[0]

    def store(_name: str, file: FileStorage) -> str:
        if project_id is None:
            raise FieldErrors({"project_id": "required"})
        return upload_ref(store_upload(file, project_id, current_user).id)

    schema = ops.report_schema()
    data = parse_form(schema, request.form, files=request.files, store=store)
    try:
        item = ops.report_item(current_user, data, project_id)
    except FieldErrors as exc:
        db.session.rollback()
        return _report_page(data, exc.fields, 422, project_id)
    if item.status == "published":
        flash(_("Item %(no)s is listed.", no=item.number), "success")
    else:
        flash(_("Thank you. Item %(no)s will be listed once the property office has checked "
                "it.", no=item.number), "success")
    return redirect(url_for("lostfound.item", item_id=item.id))


@bp.get("/mine")
@require("lostfound.view")
def mine() -> ResponseReturnValue:
    items = ops.my_items(current_user)
    suggestions = {i.id: matching.suggestions(i) for i in items if i.status == "published"}
    return render_template("lostfound/mine.html", items=items, suggestions=suggestions,
                           claims=ops.my_claims(current_user))


# --- the item page ---------------------------------------------------------------------------


def _task_forms(item: Item, posted: dict[int, tuple[dict[str, Any], dict[str, str]]]
                ) -> list[tuple[HumanTask, Any]]:
    if not can("lostfound.manage"):
        return []
    forms: list[tuple[HumanTask, Any]] = []
    for task in ops.open_tasks(item):
        if task.element_id == "Hand_over" or not runtime.may_work_on(task, current_user):
            forms.append((task, None))
            continue
        schema, ui = runtime.task_schema(task)
        data, errors = posted.get(task.id, ({}, {}))
        if task.element_id == "Review" and not data:
            data = {"category": item.category, "place": item.place,
                    "description": item.description}
        forms.append((task, render_form(schema or {}, ui, data, errors, current_language())))
    return forms


def _item_page(item: Item, status: int = 200, *,
               posted: dict[int, tuple[dict[str, Any], dict[str, str]]] | None = None,
               claim_errors: dict[str, str] | None = None,
               handover_errors: dict[str, str] | None = None,
               form: dict[str, Any] | None = None) -> ResponseReturnValue:
    staff = ops.is_staff(current_user)
    mine = item.reporter_id == current_user.id
    show_matches = (staff or mine) and item.status == "published"
    my_claim = next((c for c in item.claims if c.claimant_id == current_user.id), None)
    return render_template(
        "lostfound/item.html", item=item, staff=staff, mine=mine,
        matches=matching.suggestions(item) if show_matches else [],
        tasks=_task_forms(item, posted or {}), my_claim=my_claim,
        hand_over_open=any(t.element_id == "Hand_over" for t in ops.open_tasks(item)),
        verified=ops.verified_claim(item), claim_errors=claim_errors or {},
        handover_errors=handover_errors or {}, form=form or {},
        local_now=clock.now().astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M"),
    ), status


@bp.get("/items/<int:item_id>")
@require("lostfound.view")
def item(item_id: int) -> ResponseReturnValue:
    return _item_page(ops.get_item(item_id, current_user))


def _done(item: Item, message: str) -> ResponseReturnValue:
    flash(message, "success")
    return redirect(url_for("lostfound.item", item_id=item.id))


def _refused(item: Item, exc: DomainError) -> ResponseReturnValue:
    db.session.rollback()
    if exc.status in (403, 404):
        raise exc
    flash(exc.message, "error")
    return redirect(url_for("lostfound.item", item_id=item.id)), 303


@bp.post("/items/<int:item_id>/claim")
@require("lostfound.view")
def claim(item_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    f = request.form
    if not (can("lostfound.claim") or can("lostfound.manage")):
        abort(403)
    try:
        ops.submit_claim(item, current_user, f.get("details", ""), f.get("name"),
                         f.get("phone"))
    except FieldErrors as exc:
        db.session.rollback()
        return _item_page(ops.get_item(item_id, current_user), 422, claim_errors=exc.fields,
                          form=dict(f))
    except DomainError as exc:
        return _refused(item, exc)
    return _done(item, _("Your claim was sent. The property office will contact you."))


@bp.post("/items/<int:item_id>/renew")
@require("lostfound.view")
def renew(item_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    try:
        ops.renew_report(item, current_user)
    except DomainError as exc:
        return _refused(item, exc)
    return _done(item, _("Your report stays listed for another period."))


@bp.post("/items/<int:item_id>/close")
@require("lostfound.view")
def close(item_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    try:
        ops.close_report(item, current_user, request.form.get("reason", ""))
    except DomainError as exc:
        return _refused(item, exc)
    return _done(item, _("The report is closed."))


@bp.post("/items/<int:item_id>/withdraw")
@require("lostfound.view")
def withdraw(item_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    try:
        ops.withdraw_item(item, current_user, request.form.get("reason", "") or "withdrawn")
    except DomainError as exc:
        return _refused(item, exc)
    return _done(item, _("The item was withdrawn."))


@bp.post("/items/<int:item_id>/tasks/<int:task_id>")
@require("lostfound.manage")
def complete(item_id: int, task_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    task = ops.item_task(item, task_id)
    schema, _ui = runtime.task_schema(task)
    data = parse_form(schema or {}, request.form)
    try:
        ops.complete_item_task(item, task_id, data, current_user)
    except FieldErrors as exc:
        db.session.rollback()
        return _item_page(ops.get_item(item_id, current_user), 422,
                          posted={task_id: (data, exc.fields)})
    except DomainError as exc:
        return _refused(item, exc)
    return _done(item, _("Saved."))


@bp.post("/items/<int:item_id>/hand-over")
@require("lostfound.manage")
def hand_over(item_id: int) -> ResponseReturnValue:
    item = ops.get_item(item_id, current_user)
    f = request.form
    when = f.get("handed_over_at", "").strip()
    if when and len(when) <= 16:  # datetime-local: a time in the estate's zone
        with contextlib.suppress(ValueError):  # a bad value fails in the operation
            when = datetime.fromisoformat(when).replace(tzinfo=LOCAL).isoformat()
    handing = ops.HandOver(receiver_name=f.get("receiver_name", ""),
                           id_number=f.get("id_number", "").strip().upper(),
                           handed_over_at=when or None, note=f.get("note") or None)
    try:
        ops.record_hand_over(item, handing, current_user)
    except FieldErrors as exc:
        db.session.rollback()
        safe = {k: v for k, v in f.items() if k != "id_number"}  # never echo the ID number
        return _item_page(ops.get_item(item_id, current_user), 422,
                          handover_errors=exc.fields, form=safe)
    except DomainError as exc:
        return _refused(item, exc)
    return _done(item, _("The hand-over is recorded; the item is returned."))
