"""Escalation tasks of a late job are withdrawn once the job is over, and the ticket's process
ends when the ticket closes: nothing is left in the supervisor's or the manager's inbox.

A late job puts *Follow up a late job* in the supervisor's inbox (1× the completion limit) and
*Intervene in an overdue job* in the project manager's (2×). When the technician finishes the
job, or the owner declines the fee, those reminders are about nothing any more: their rows are
cancelled with a history event, and the instance completes when the ticket closes (rated, not
rated, fee declined or cancelled).
"""

from __future__ import annotations

from app.engine import runtime
from app.engine.inbox import InboxFilter, inbox_query
from app.engine.models import EventKind, InstanceStatus, ProcessInstance, TaskStatus
from app.extensions import db
from app.repairs import operations as ops
from tests.flows.repair.conftest import history_kinds, open_steps, reload, tasks_of
from tests.flows.repair.test_repair_web import login

ESCALATION_TASKS = ("Follow_up_late_job", "Handle_overdue_job")


def _instance(ticket):
    db.session.expire_all()
    return db.session.get(ProcessInstance, ticket.instance_id)


def _inbox(user, ticket):
    """Element ids of this ticket's tasks in the user's inbox (every view they can open)."""
    ids = set()
    for view in ("mine", "roles", "unassigned"):
        rows = db.session.execute(inbox_query(user, InboxFilter(view, flow="repair")))
        ids |= {row[0].element_id for row in rows if row[0].instance_id == ticket.instance_id}
    return ids


def _late_job(world, submit, advance, *, overdue=True, **check_in):
    """An emergency job (finish within 4 h) checked in and left late: the supervisor's
    follow-up, and with ``overdue`` the project manager's intervention, are open."""
    ticket = ops.accept_job(submit(urgency="emergency"), world.tech)
    ticket = ops.check_in(ticket, world.tech, {"diagnosis": "主管爆裂", **check_in})
    advance(hours=4, minutes=1)
    if overdue:
        advance(hours=4)
    ticket = reload(ticket)
    expected = {"Follow_up_late_job", "Handle_overdue_job"} if overdue else {"Follow_up_late_job"}
    assert expected <= set(open_steps(ticket))
    assert "Follow_up_late_job" in _inbox(world.supervisor, ticket)
    if overdue:
        assert "Handle_overdue_job" in _inbox(world.manager, ticket)
    return ticket


def _assert_withdrawn(world, ticket, *element_ids):
    """No escalation task of the ticket is open anywhere; each one was cancelled, with a
    task_cancelled event in the history."""
    open_escalations = [t.element_id for t in tasks_of(ticket) if t.element_id in ESCALATION_TASKS]
    assert open_escalations == []
    for user in (world.supervisor, world.manager):
        assert not _inbox(user, ticket) & set(ESCALATION_TASKS)
    cancelled = {t.element_id for t in tasks_of(ticket, TaskStatus.CANCELLED)}
    assert set(element_ids) <= cancelled
    kinds = history_kinds(ticket)
    for element_id in element_ids:
        assert (EventKind.TASK_CANCELLED.value, element_id) in kinds


def _assert_process_over(ticket):
    assert open_steps(ticket) == []
    assert _instance(ticket).status == InstanceStatus.COMPLETED
    assert (EventKind.FINISHED.value, None) in history_kinds(ticket)


def test_escalations_are_withdrawn_when_the_job_is_done_and_the_ticket_closes(
        world, submit, advance, client):
    ticket = _late_job(world, submit, advance)
    assert reload(ticket).escalation_level == 3
    ticket = ops.record_work(ticket, world.tech, {"work_done": "更换主管"})
    assert ticket.status == "completed"
    # the job is done: the reminders about it are gone, the owner is asked to rate
    _assert_withdrawn(world, ticket, "Follow_up_late_job", "Handle_overdue_job")
    assert open_steps(ticket) == ["Rate"]
    # the supervisor's ticket page says so, after the lines that announced them
    login(client, "liu")
    page = client.get(f"/repairs/{ticket.id}?lang=en").get_data(as_text=True)
    assert page.count('data-kind="withdrawn"') == 2
    waiting = page.index("Waiting: Supervisor follows up the late job")
    assert page.index("Withdrawn: Supervisor follows up the late job") > waiting
    # what the escalations recorded on the ticket stays
    assert (ticket.late_completion, ticket.escalation_level) == (True, 3)
    assert [e["kind"] for e in ticket.escalations] == ["completion_late", "completion_overdue"]
    ticket = ops.rate_repair(ticket, world.owner, 5, "修得好")
    if ticket.status == "revisiting":  # 5 ★: a share is revisited (fixed by the ticket id)
        [revisit] = tasks_of(ticket)
        runtime.complete_task(revisit.id, {"revisit_result": "satisfied"}, world.cs)
        ticket = reload(ticket)
    assert ticket.status == "closed"
    _assert_process_over(ticket)
    assert reload(ticket).escalation_level == 3


def test_escalation_is_withdrawn_when_the_ticket_closes_not_rated(world, submit, advance):
    ticket = _late_job(world, submit, advance, overdue=False)
    ticket = ops.record_work(ticket, world.tech, {"work_done": "更换主管"})
    _assert_withdrawn(world, ticket, "Follow_up_late_job")
    advance(days=3, minutes=1)
    ticket = reload(ticket)
    assert (ticket.status, ticket.not_rated) == ("closed", True)
    _assert_process_over(ticket)


def test_escalations_are_withdrawn_when_the_owner_declines_the_fee(world, submit, advance):
    ticket = _late_job(world, submit, advance, fee_yuan=300)
    assert ticket.status == "awaiting_fee"
    ticket = ops.confirm_fee(ticket, world.owner, False, "太贵")
    assert ticket.status == "fee_declined"
    _assert_withdrawn(world, ticket, "Follow_up_late_job", "Handle_overdue_job")
    _assert_process_over(ticket)


def test_an_escalation_handled_in_time_is_kept_and_the_other_withdrawn(world, submit, advance):
    ticket = _late_job(world, submit, advance)
    [follow_up] = [t for t in tasks_of(ticket) if t.element_id == "Follow_up_late_job"]
    runtime.complete_task(follow_up.id, {"action_taken": "加派人手"}, world.supervisor)
    ticket = ops.record_work(reload(ticket), world.tech, {"work_done": "更换主管"})
    _assert_withdrawn(world, ticket, "Handle_overdue_job")
    completed = {t.element_id for t in tasks_of(ticket, TaskStatus.COMPLETED)}
    assert "Follow_up_late_job" in completed  # the supervisor's answer is not undone
    ticket = ops.rate_repair(ticket, world.owner, 1, "还是漏")  # bad rating: rectify, revisit
    runtime.complete_task(tasks_of(ticket)[0].id, {"cause": "配件不良", "rectification": "返工"},
                          world.supervisor)
    runtime.complete_task(tasks_of(reload(ticket))[0].id, {"revisit_result": "satisfied"},
                          world.cs)
    assert reload(ticket).status == "closed"
    _assert_process_over(ticket)


def test_a_job_cancelled_after_the_response_escalation_ends_the_process(world, submit, advance):
    ticket = submit(urgency="emergency")
    advance(minutes=31)  # 1×: the team is reminded
    advance(minutes=30)  # 2×: the supervisor dispatches
    ticket = reload(ticket)
    assert open_steps(ticket) == ["Dispatch"] and ticket.escalation_level == 2
    ticket = ops.urge_repair(ticket, world.owner)
    ticket = ops.cancel_repair(ticket, world.owner, "已自行修好")
    assert ticket.status == "cancelled"
    assert "Dispatch" in {t.element_id for t in tasks_of(ticket, TaskStatus.CANCELLED)}
    assert not _inbox(world.supervisor, ticket)
    _assert_process_over(ticket)
