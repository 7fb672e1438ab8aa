"""Admin pages: the outbox log, resend, template preview, quiet hours."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import Select, or_, select

from app.accounts.permissions import require
from app.dates import day_bound
from app.errors import DomainError
from app.extensions import db
from app.notifications import channels
from app.notifications.quiet import quiet_hours, set_quiet_hours, settings_for
from app.notifications.service import current_templates, templates_dir
from app.notifications.templates import LANGUAGES, check_templates, read_directory, sms_length
from app.outbox.dispatcher import wake_dispatcher
from app.outbox.models import STATUSES, OutboxMessage
from app.outbox.operations import resend as resend_message
from app.projects.models import Project
from app.scoping import current_scope
from app.uow import after_commit

bp = Blueprint("notifications_admin", __name__, url_prefix="/admin/notifications")


@dataclass(frozen=True)
class OutboxFilter:
    status: str = ""
    kind: str = ""
    recipient: str = ""
    event: str = ""
    since: str = ""
    until: str = ""

    def query(self) -> Select[tuple[OutboxMessage]]:
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(),
                                              OutboxMessage.id.desc())
        scope = current_scope()
        if scope is not None:  # not ProjectScoped (account messages have no project)
            stmt = stmt.where(or_(OutboxMessage.project_id.in_(scope),
                                  OutboxMessage.project_id.is_(None)))
        if self.status:
            stmt = stmt.where(OutboxMessage.status == self.status)
        if self.kind:
            stmt = stmt.where(OutboxMessage.kind == self.kind)
        if self.recipient:
            stmt = stmt.where(OutboxMessage.recipient.contains(self.recipient, autoescape=True))
        if self.event:
            stmt = stmt.where(OutboxMessage.event == self.event)
        since = day_bound("since", self.since, end=False)
        until = day_bound("until", self.until, end=True)
        if since:
            stmt = stmt.where(OutboxMessage.created_at >= since)
        if until:
            stmt = stmt.where(OutboxMessage.created_at <= until)
        return stmt


def _filter() -> OutboxFilter:
    args = request.args
    return OutboxFilter(**{name: args.get(name, "").strip() for name in
                           ("status", "kind", "recipient", "event", "since", "until")})


@bp.get("/")
@require("notifications.admin")
def outbox() -> ResponseReturnValue:
    flt = _filter()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = db.paginate(flt.query(), page=page, per_page=50, error_out=False)
    return render_template("notifications/admin_outbox.html", pagination=pagination, flt=flt,
                           statuses=STATUSES, sms_live=channels.twilio_configured(),
                           email_live=channels.smtp_configured())


@bp.post("/<int:message_id>/resend")
@require("notifications.admin")
def resend(message_id: int) -> ResponseReturnValue:
    message = db.get_or_404(OutboxMessage, message_id)
    scope = current_scope()
    if scope is not None and message.project_id is not None and message.project_id not in scope:
        abort(404)
    resend_message(message)
    after_commit(wake_dispatcher)
    flash(_("Message %(id)s queued again.", id=message.id), "success")
    args: dict[str, Any] = request.args.to_dict()
    return redirect(url_for("notifications_admin.outbox", **args))


def _previews(event: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    store = current_templates()
    rows = []
    for channel in store.channels(event):
        for language in LANGUAGES:
            item: dict[str, Any] = {"channel": channel, "language": language}
            try:
                rendered = store.render(event, channel, language, data)
            except Exception as exc:  # shown to the admin, whatever the template did
                item["error"] = str(exc)
            else:
                item.update(subject=rendered.subject, body=rendered.body, path=rendered.path,
                            fallback=rendered.language != language)
                if channel == "sms":
                    item["length"] = sms_length(rendered.body)
            rows.append(item)
    return rows


@bp.get("/templates")
@require("notifications.admin")
def templates() -> ResponseReturnValue:
    store = current_templates()
    report = check_templates(read_directory(templates_dir()))
    event = request.args.get("event", "")
    spec = store.events.get(event)
    data_text = request.args.get("data", "")
    previews: list[dict[str, Any]] = []
    data_error = None
    if spec is not None:
        data = dict(spec.sample)
        if data_text.strip():
            try:
                override = json.loads(data_text)
                if not isinstance(override, dict):
                    raise ValueError("a JSON object is required")
                data.update(override)
            except ValueError as exc:
                data_error = str(exc)
        previews = _previews(event, data)
        data_text = data_text or json.dumps(spec.sample, ensure_ascii=False, indent=2)
    return render_template("notifications/admin_templates.html", events=sorted(store.events),
                           spec=spec, event=event, previews=previews, report=report,
                           data_text=data_text, data_error=data_error,
                           sms_live=channels.twilio_configured())


@bp.route("/quiet-hours", methods=["GET", "POST"])
@require("notifications.admin")
def quiet() -> ResponseReturnValue:
    projects = list(db.session.scalars(select(Project).order_by(Project.code)))
    errors: dict[str, str] = {}
    if request.method == "POST":
        project_id = request.form.get("project_id", type=int)
        if project_id not in {p.id for p in projects}:
            abort(404)
        try:
            set_quiet_hours(project_id, enabled=request.form.get("enabled") == "on",
                            start=request.form.get("start", ""), end=request.form.get("end", ""),
                            timezone=request.form.get("timezone", "Asia/Shanghai").strip())
        except DomainError as exc:
            errors = exc.fields or {"form": exc.message}
        else:
            flash(_("Quiet hours saved."), "success")
            return redirect(url_for("notifications_admin.quiet"))
    rows = [(p, quiet_hours(p.id), settings_for(p.id) is not None) for p in projects]
    return render_template("notifications/admin_quiet.html", rows=rows,
                           errors=errors), 422 if errors else 200
