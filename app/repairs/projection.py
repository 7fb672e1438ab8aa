"""The Ticket row as a projection of its repair workflow, written with every state it saves.

Every change of a repair instance — a task completed on a repair page, on the generic task page
or through the API, a timer fired by the scheduler, a message, a cancellation — ends in
:func:`app.engine.projections.save_workflow` storing the new state. The engine then calls this
module's state listener with the workflow it just saved, which updates the instance's
:class:`Ticket` in the same transaction, so lists and statistics read one indexed table that
never disagrees with the process and no list page deserializes a workflow.

What the ticket shows comes from two places:

* **the steps** the main path waits on (ready user tasks) give the status;
* **the task data** the diagram's scripts and forms wrote give the facts (technician, times,
  fee, rating, escalations). Parallel branches (boundary timers, the urge subprocess) carry
  copies of older data, so a value is taken from the task that last *changed* it
  (:func:`workflow_facts`), not from whichever task ran last.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine import tasks as engine_tasks
from app.engine.models import ProcessInstance
from app.engine.projections import register_state_listener
from app.engine.timers import TimerValueError, parse_datetime
from app.extensions import db
from app.repairs.models import Ticket

FLOWS = frozenset({"repair"})

#: Main-path steps, most advanced first → the status a ticket shows while it waits there.
STEP_STATUS: tuple[tuple[str, str], ...] = (
    ("Revisit", "revisiting"),
    ("Rectify", "rectifying"),
    ("Rate", "completed"),
    ("Record_work", "in_progress"),
    ("Confirm_fee", "awaiting_fee"),
    ("Check_in", "accepted"),
    ("Accept", "pending"),
    ("Dispatch", "pending"),
)
OUTCOME_STATUS = {"cancelled": "cancelled", "fee_declined": "fee_declined", "closed": "closed"}

#: Data keys the escalation scripts set → (kind, level) recorded on the ticket.
ESCALATION_KEYS: tuple[tuple[str, str, int], ...] = (
    ("response_late_at", "response_late", 1),
    ("response_overdue_at", "response_overdue", 2),
    ("completion_late_at", "completion_late", 2),
    ("completion_overdue_at", "completion_overdue", 3),
)
_LIVE = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING


def _writes(task: Task) -> dict[str, Any]:
    """The data keys this task set or changed compared with its parent."""
    parent = task.parent.data if task.parent is not None else {}
    return {k: v for k, v in task.data.items() if k not in parent or parent[k] != v}


def workflow_facts(workflow: BpmnWorkflow) -> dict[str, Any]:
    """Each data key's latest written value over every task, subprocesses included."""
    tasks = [t for t in workflow.get_tasks() if t.state & _LIVE]
    tasks.sort(key=lambda t: t.last_state_change)
    facts: dict[str, Any] = {}
    for task in tasks:
        facts.update(_writes(task))
    return facts


def waiting_steps(workflow: BpmnWorkflow) -> list[str]:
    """Element ids of the user tasks the workflow waits on."""
    return [h.element_id for h in engine_tasks.ready_human_tasks(workflow)]


def status_of(steps: Iterable[str], facts: dict[str, Any], current: str) -> str:
    outcome = facts.get("outcome")
    if outcome in OUTCOME_STATUS:
        return OUTCOME_STATUS[outcome]
    waiting = set(steps)
    for step, status in STEP_STATUS:
        if step in waiting:
            if step == "Accept" and facts.get("technician_id"):
                return "assigned"
            return status
    return current


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(value)
    except (TimerValueError, TypeError):
        return None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def apply_facts(ticket: Ticket, facts: dict[str, Any], steps: Iterable[str]) -> None:
    """Copy what the workflow knows onto the ticket (only changed columns get written)."""
    values: dict[str, Any] = {
        "status": status_of(steps, facts, ticket.status),
        "team": facts.get("team"),
        "dispatch_mode": facts.get("dispatch"),
        "technician_id": facts.get("technician_id") or None,
        "respond_by": _when(facts.get("respond_by")),
        "finish_by": _when(facts.get("finish_by")),
        "accepted_at": _when(facts.get("accepted_at")),
        "finished_at": _when(facts.get("finished_at")),
        "closed_at": _when(facts.get("closed_at")),
        "returns": _int(facts.get("returns")),
        "fee_fen": _int(facts.get("fee_fen")),
        "materials_fen": _int(facts.get("materials_fen")),
        "rating": facts.get("rating") if isinstance(facts.get("rating"), int) else None,
        "rating_comment": facts.get("rating_comment") or None,
        "not_rated": bool(facts.get("not_rated")),
        "revisit_result": facts.get("revisit_result") or None,
        "cancel_reason": (facts.get("cancel_reason") or None) if facts.get("outcome") else None,
    }
    decision = str(facts.get("fee_decision") or "")
    values["fee_confirmed"] = ({"approve": True, "decline": False}.get(decision)
                               if values["fee_fen"] else None)
    escalations = []
    for key, kind, level in ESCALATION_KEYS:
        if facts.get(key):
            escalations.append({"kind": kind, "level": level, "at": facts[key]})
    escalations.sort(key=lambda e: e["at"])
    values["escalations"] = escalations
    # Escalations only ever go up, whichever branch wrote them last.
    values["escalation_level"] = max([ticket.escalation_level or 0,
                                      *(e["level"] for e in escalations)])
    values["late_response"] = bool(ticket.late_response or facts.get("late_response"))
    values["late_completion"] = bool(ticket.late_completion or facts.get("late_completion"))
    for key, value in values.items():
        if getattr(ticket, key) != value:
            setattr(ticket, key, value)


def project_instance(session: Session, instance: ProcessInstance,
                     workflow: BpmnWorkflow) -> Ticket | None:
    """Update the ticket of a repair instance from its workflow."""
    facts = workflow_facts(workflow)
    ticket_id = facts.get("ticket_id")
    with session.no_autoflush:
        ticket = None
        if instance.id is not None:
            ticket = session.scalar(select(Ticket).where(Ticket.instance_id == instance.id)
                                    .execution_options(all_projects=True))
        if ticket is None and isinstance(ticket_id, int):
            ticket = session.scalar(select(Ticket).where(Ticket.id == ticket_id)
                                    .execution_options(all_projects=True))
    if ticket is None or ticket.project_id != instance.project_id:
        return None
    if ticket.instance_id is None:
        ticket.instance = instance  # the flush fills in the id of an instance it inserts
    apply_facts(ticket, facts, waiting_steps(workflow) if not instance.finished else [])
    return ticket


def _project(instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    project_instance(db.session(), instance, workflow)


register_state_listener(FLOWS, _project)
