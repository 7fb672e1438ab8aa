"""Repair operations: thin wrappers around the engine that check who may act, complete the right
task with the right data, and flush (the unit of work commits).

The ticket row is not written here after intake: :mod:`app.repairs.projection` updates it from
the workflow in the same flush as every step, whichever way the step was taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.permissions import can
from app.accounts.roles import Role
from app.clock import clock
from app.engine import runtime, spiff
from app.engine.deployments import latest_loaded_deployment
from app.engine.locking import locked_instance
from app.engine.messaging import send_message
from app.engine.models import HumanTask, TaskStatus
from app.errors import Conflict, DomainError, FieldErrors, Forbidden, NotFound
from app.extensions import db
from app.projects.models import Project, Unit
from app.repairs import projection  # noqa: F401 - registers the ticket projection
from app.repairs.models import CANCELLABLE_STATUSES, RepairTeam, Ticket
from app.repairs.people import owner_unit_ids, technicians_of_project
from app.uploads.operations import attach_upload, visible_upload
from app.uploads.refs import parse_upload_ref

FLOW = "repair"
NUMBER_PREFIX = "BX"
INTAKE_FORM = "repair/intake.json"
#: An owner may urge a job once per this interval.
URGE_INTERVAL = timedelta(hours=1)
#: Statuses in which urging makes sense: the job is not done yet.
URGEABLE_STATUSES = ("pending", "assigned", "accepted", "awaiting_fee", "in_progress")
TECHNICIAN_STEPS = ("Accept", "Check_in", "Record_work")


class TooSoon(DomainError):
    """Urged again within the hour."""

    status = 429
    code = "too_many_requests"


# --- intake ------------------------------------------------------------------------------------


def intake_schema() -> dict[str, Any]:
    """The intake form of the deployed repair flow (NotFound when the flow is not deployed)."""
    schema = latest_loaded_deployment(FLOW).form(INTAKE_FORM)
    if schema is None:
        raise NotFound(f"the deployed repair flow has no {INTAKE_FORM}")
    return schema


def option_label(schema: Mapping[str, Any], field: str, value: Any, zh: bool = True) -> str:
    for option in schema.get("properties", {}).get(field, {}).get("oneOf", []):
        if option.get("const") == value:
            return str(option.get("x-title-zh") if zh else option.get("title")) or str(value)
    return str(value)


def next_number(project: Project) -> str:
    """BX-<local date>-<sequence of the day in the project>, e.g. BX-20261122-0001."""
    day = clock.now().astimezone(ZoneInfo(project.timezone or "Asia/Shanghai"))
    prefix = f"{NUMBER_PREFIX}-{day:%Y%m%d}-"
    last = db.session.scalar(
        select(func.max(Ticket.number)).where(Ticket.project_id == project.id,
                                               Ticket.number.startswith(prefix)))
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:04d}"


def team_members(project_id: int) -> dict[str, list[int]]:
    """{team code: member user ids} of a project, what the pool task's candidates come from."""
    teams = db.session.scalars(select(RepairTeam).where(RepairTeam.project_id == project_id))
    return {team.code: team.member_ids for team in teams}


def _checked_uploads(refs: list[Any], project_id: int, user: User, field: str) -> list[Any]:
    uploads = []
    for index, ref in enumerate(refs or []):
        upload_id = parse_upload_ref(ref)
        upload = visible_upload(upload_id, user) if upload_id is not None else None
        if upload is None or upload.project_id != project_id:
            raise FieldErrors({f"{field}.{index}": "no such upload in this project"})
        uploads.append(upload)
    return uploads


def _unit_for(project_id: int, requester: User, data: Mapping[str, Any]) -> Unit | None:
    if data.get("area") != "unit":
        return None
    own = owner_unit_ids(requester.id, project_id)
    raw = data.get("unit_id")
    if raw in (None, ""):
        if len(own) == 1:
            raw = own[0]
        elif own:
            raise FieldErrors({"unit_id": "choose which of your units"})
        else:
            if not str(data.get("location") or "").strip():
                raise FieldErrors({"location": "required: no unit is linked to this owner"})
            return None
    try:
        unit_id = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise FieldErrors({"unit_id": "must be a unit id"}) from exc
    if unit_id not in own:
        raise FieldErrors({"unit_id": "not a unit of this owner"})
    return db.session.get(Unit, unit_id)


def submit_repair(project_id: int, requester: User, data: Mapping[str, Any], *,
                  registered_by: User | None = None, channel: str = "portal") -> Ticket:
    """Open a repair ticket and start its workflow; the owner sees the number at once.

    ``registered_by``: customer service registering a request an owner phoned in.
    """
    project = db.session.get(Project, project_id)
    if project is None:
        raise FieldErrors({"project_id": "no such project"})
    if not requester.has_role(Role.OWNER, Role.TENANT):
        raise FieldErrors({"requester_id": "the requester must be an owner or tenant"})
    if not (requester.sees_all_projects or project_id in requester.project_ids):
        raise FieldErrors({"requester_id": "the requester does not live in this project"})
    schema = intake_schema()
    form = {k: v for k, v in data.items() if k in schema.get("properties", {})}
    form.setdefault("urgency", "normal")
    errors = runtime.schema_errors(schema, form)
    if errors:
        raise FieldErrors(errors)
    author = registered_by or requester
    uploads = _checked_uploads(form.get("photos") or [], project_id, author, "photos")
    unit = _unit_for(project_id, requester, data)
    location = str(form.get("location") or "").strip()
    unit_label = f"{unit.building.name} {unit.number}" if unit is not None else ""
    ticket = Ticket(
        project_id=project_id, number=next_number(project), requester_id=requester.id,
        registered_by_id=author.id, channel=channel, category=form["category"],
        area=form["area"], unit_id=unit.id if unit else None, location=location,
        description=form["description"].strip(), urgency=form["urgency"],
        preferred_time=form.get("preferred_time") or None, photos=list(form.get("photos") or []),
        status="pending", submitted_at=clock.now(),
    )
    db.session.add(ticket)
    db.session.flush()
    start = {
        **form, "ticket_id": ticket.id, "ticket_number": ticket.number,
        "project_id": project_id, "requester_id": requester.id,
        "unit_id": ticket.unit_id, "location": location,
        "category_label": option_label(schema, "category", form["category"]),
        "location_label": " ".join(p for p in (unit_label, location) if p) or unit_label,
        "teams": team_members(project_id), "link": f"/repairs/{ticket.id}",
    }
    instance = runtime.start_instance(FLOW, project_id, start, business_key=ticket.number)
    for upload in uploads:
        attach_upload(upload, instance.id, None)
    db.session.refresh(ticket)
    return ticket


# --- finding the step -------------------------------------------------------------------------


def open_tasks(ticket: Ticket) -> list[HumanTask]:
    if ticket.instance_id is None:
        return []
    return list(db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == ticket.instance_id,
                                HumanTask.status == TaskStatus.OPEN).order_by(HumanTask.id)))


def open_task(ticket: Ticket, *element_ids: str) -> HumanTask | None:
    for task in open_tasks(ticket):
        if task.element_id in element_ids:
            return task
    return None


def _require(ticket: Ticket, element_id: str, message: str) -> HumanTask:
    task = open_task(ticket, element_id)
    if task is None:
        raise Conflict(message)
    return task


def _complete(task: HumanTask, data: Mapping[str, Any], user: User) -> None:
    runtime.complete_task(task.id, data, user)


def _refreshed(ticket: Ticket) -> Ticket:
    db.session.refresh(ticket)
    return ticket


def _technician(project_id: int, technician_id: Any, field: str = "technician_id") -> User:
    try:
        wanted = int(technician_id)
    except (TypeError, ValueError) as exc:
        raise FieldErrors({field: "choose a technician"}) from exc
    for user in technicians_of_project(project_id):
        if user.id == wanted:
            return user
    raise FieldErrors({field: "not an active technician of this project"})


# --- technician ---------------------------------------------------------------------------------


def accept_job(ticket: Ticket, user: User) -> Ticket:
    """Accept a job with one tap: a pool job is grabbed (抢单), a dispatched one accepted."""
    task = _require(ticket, "Accept", "This job is not waiting to be accepted any more.")
    if task.assignee_id is None:
        runtime.claim_task(task.id, user)  # two grabbing at once: the second gets a conflict
    elif task.assignee_id != user.id:
        raise Conflict("Another technician has this job.")
    _complete(task, {"decision": "accept", "technician_id": user.id,
                     "technician_name": user.display_name}, user)
    return _refreshed(ticket)


def return_job(ticket: Ticket, user: User, reason: str) -> Ticket:
    """Give a job dispatched to you back to dispatch (退单), with a reason."""
    task = _require(ticket, "Accept", "This job is not waiting to be accepted any more.")
    if task.assignee_id != user.id:
        raise Conflict("Only a job dispatched to you can be returned.")
    _complete(task, {"decision": "return", "return_reason": (reason or "").strip(),
                     "technician_id": user.id}, user)
    return _refreshed(ticket)


def check_in(ticket: Ticket, user: User, data: Mapping[str, Any]) -> Ticket:
    """On site: photos before the work, the diagnosis, and a fee if the owner pays."""
    task = _require(ticket, "Check_in", "This job is not waiting for a check-in.")
    uploads = _checked_uploads(list(data.get("before_photos") or []), ticket.project_id, user,
                               "before_photos")
    _complete(task, dict(data), user)
    for upload in uploads:
        attach_upload(upload, ticket.instance_id, task.task_id)
    return _refreshed(ticket)


def record_work(ticket: Ticket, user: User, data: Mapping[str, Any]) -> Ticket:
    """Record what was done, the materials and photos after the work: the job is done."""
    task = _require(ticket, "Record_work", "This job is not in progress.")
    uploads = _checked_uploads(list(data.get("after_photos") or []), ticket.project_id, user,
                               "after_photos")
    _complete(task, dict(data), user)
    for upload in uploads:
        attach_upload(upload, ticket.instance_id, task.task_id)
    return _refreshed(ticket)


# --- owner ----------------------------------------------------------------------------------------


def _requester_only(ticket: Ticket, user: User) -> None:
    if ticket.requester_id != user.id:
        raise Forbidden("Only the owner who reported this repair can do that.")


def confirm_fee(ticket: Ticket, user: User, approve: bool, comment: str = "") -> Ticket:
    """The owner agrees to (or declines) the quoted fee before the work starts."""
    _requester_only(ticket, user)
    task = _require(ticket, "Confirm_fee", "There is no fee waiting for your answer.")
    _complete(task, {"fee_decision": "approve" if approve else "decline",
                     "fee_comment": (comment or "").strip()}, user)
    return _refreshed(ticket)


def rate_repair(ticket: Ticket, user: User, rating: Any, comment: str = "") -> Ticket:
    """The owner confirms the job is done and rates it (1–5 stars)."""
    _requester_only(ticket, user)
    task = _require(ticket, "Rate", "This repair is not waiting for your rating.")
    data: dict[str, Any] = {"rating": rating}
    if comment and comment.strip():
        data["rating_comment"] = comment.strip()
    _complete(task, data, user)
    return _refreshed(ticket)


def urge_repair(ticket: Ticket, user: User) -> Ticket:
    """催单: the technician (or team) and the supervisor are told; at most once an hour."""
    _requester_only(ticket, user)
    if ticket.status not in URGEABLE_STATUSES:
        raise Conflict("Only a repair that is not done yet can be urged.")
    now = clock.now()
    if ticket.last_urged_at is not None and now - ticket.last_urged_at < URGE_INTERVAL:
        again = ticket.last_urged_at + URGE_INTERVAL
        raise TooSoon(f"You urged this repair less than an hour ago; you can urge again at "
                      f"{again.astimezone(ZoneInfo('Asia/Shanghai')):%H:%M}.")
    send_message("repair_urge", {"ticket_number": ticket.number},
                 {"technician_id": ticket.technician_id, "urged_by": user.id},
                 project_id=ticket.project_id)
    ticket.urge_count = (ticket.urge_count or 0) + 1
    ticket.last_urged_at = now
    db.session.flush()
    return ticket


def cancel_repair(ticket: Ticket, user: User, reason: str) -> Ticket:
    """The owner (or customer service for them) cancels before a technician accepted."""
    if ticket.requester_id != user.id and not can("repairs.register", user):
        raise Forbidden("Only the owner who reported this repair can cancel it.")
    reason = (reason or "").strip()
    if not reason:
        raise FieldErrors({"reason": "required"})
    if ticket.status not in CANCELLABLE_STATUSES:
        raise Conflict("A technician already accepted this repair; it cannot be cancelled.")
    try:
        send_message("repair_cancel", {"ticket_number": ticket.number},
                     {"reason": reason[:500], "cancelled_by": user.id},
                     project_id=ticket.project_id)
    except NotFound as exc:
        raise Conflict("This repair cannot be cancelled any more.") from exc
    return _refreshed(ticket)


# --- supervisor --------------------------------------------------------------------------------


def dispatch_job(ticket: Ticket, user: User, technician_id: Any, note: str = "") -> Ticket:
    """The supervisor chooses the technician (public areas, returned and overdue jobs)."""
    task = _require(ticket, "Dispatch", "This job is not waiting for a dispatch.")
    technician = _technician(ticket.project_id, technician_id)
    data: dict[str, Any] = {"technician_id": technician.id,
                            "technician_name": technician.display_name}
    if note and note.strip():
        data["dispatch_note"] = note.strip()
    _complete(task, data, user)
    return _refreshed(ticket)


def reassign_job(ticket: Ticket, user: User, technician_id: Any) -> Ticket:
    """The supervisor gives the job to another technician, at any step before it is done."""
    if not can("tasks.reassign", user):
        raise Forbidden("You may not reassign jobs.")
    if open_task(ticket, "Dispatch") is not None:
        return dispatch_job(ticket, user, technician_id)
    task = open_task(ticket, *TECHNICIAN_STEPS)
    if task is None:
        raise Conflict("This job has no technician step to reassign.")
    technician = _technician(ticket.project_id, technician_id)
    runtime.reassign_task(task.id, technician.id, user)
    # The next technician steps go to whoever the data names: name the new one.
    with locked_instance(task.instance_id) as locked:
        assert locked.workflow is not None
        spiff_task = spiff.get_task(locked.workflow, task.task_id)
        spiff_task.data["technician_id"] = technician.id
        spiff_task.data["technician_name"] = technician.display_name
    return _refreshed(ticket)
