"""Glue between bills and the ``dunning`` process (processes/dunning.bpmn).

* :func:`open_cases` starts one instance per unit with overdue bills and no open case. The
  owner to notify is in its data as ``owner_to = ["customer:<id>"]``, a reference resolved
  when a message is sent (:mod:`app.records.recipients`), never a phone number.
* The flow's timers come from the script helper ``dunning_next``: reminders at 09:00 (Shanghai)
  on the oldest unpaid bill's due date + 30, + 45, + 60 … days, and the freeze confirmation
  at due date + 90 days.
* :func:`arrears_changed` (called by payments) sends ``dunning_paid`` when no overdue bill is
  left — the case ends and any freeze is lifted — or ``dunning_partial`` with the new oldest
  due date, which restarts the count.
* The ``dunning_update`` operator keeps :class:`DunningCase` in step and gives the reminder
  its amount and bills.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.audit.actor import Actor
from app.clock import clock
from app.engine import messaging
from app.engine.projections import stepping_group
from app.engine.runtime import NewInstance, start_instances
from app.engine.script_helpers import register_helper
from app.engine.services import ServiceContext, register_operator
from app.errors import NotFound
from app.extensions import db
from app.projects.models import Building, Unit
from app.records.models import Customer, Occupancy
from app.records.recipients import customer_ref

from .arrears import OverdueRow, overdue_bills, overdue_rows_of, reminder_arrears
from .models import Bill, DunningCase
from .money import LOCAL, local_today

log = logging.getLogger(__name__)

FLOW = "dunning"
FIRST_REMINDER_DAYS = 30
REPEAT_DAYS = 15
FREEZE_DAYS = 90
SEND_AT = time(9, 0)
SYSTEM = Actor(None, "billing")
PAID, PARTIAL = "dunning_paid", "dunning_partial"
#: Units whose cases :func:`open_cases` opens per round of look-ups.
OPEN_BATCH = 500


# --- the schedule (a script helper: pure, reads nothing but its arguments) --------------------


def _at(day: date) -> datetime:
    return datetime.combine(day, SEND_AT, LOCAL)


def _parse(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def dunning_next(oldest_due: Any, last_reminder_at: Any = None, restarted_at: Any = None,
                 freeze_decided: bool = False) -> dict[str, Any]:
    """The next step of a case: ``{"kind": "reminder" | "freeze", "at": ISO date-time}``.

    Reminders fall on due + 30 + 15k days; the next is the first such slot after the last
    reminder and after a restart (missed slots are skipped, not sent in a burst). The freeze
    confirmation is due at due + 90 days until it was decided.
    """
    due = oldest_due if isinstance(oldest_due, date) else date.fromisoformat(str(oldest_due))
    floors = [d for d in (_parse(last_reminder_at), _parse(restarted_at)) if d is not None]
    floor = max(floors) if floors else None
    k = 0
    slot = _at(due + timedelta(days=FIRST_REMINDER_DAYS))
    while floor is not None and slot <= floor:
        k += 1
        slot = _at(due + timedelta(days=FIRST_REMINDER_DAYS + REPEAT_DAYS * k))
    freeze = _at(due + timedelta(days=FREEZE_DAYS))
    if not freeze_decided and freeze <= slot:
        return {"kind": "freeze", "at": freeze.isoformat()}
    return {"kind": "reminder", "at": slot.isoformat(), "number": k + 1}


# --- starting cases ---------------------------------------------------------------------------


def _owner_query() -> Any:
    return (select(Occupancy.unit_id, Customer).select_from(Customer)
            .join(Occupancy, Occupancy.customer_id == Customer.id)
            .where(Occupancy.relation == "owner", Occupancy.move_out.is_(None),
                   Customer.status == "active"))


def _owners(unit_ids: Sequence[int]) -> dict[int, Customer]:
    """{unit id: its owner} — the active customer with a current owner link, lowest id first
    (one query for all the units)."""
    owners: dict[int, Customer] = {}
    rows = db.session.execute(_owner_query().where(Occupancy.unit_id.in_(unit_ids))
                              .order_by(Occupancy.unit_id, Customer.id))
    for unit_id, customer in rows:
        owners.setdefault(unit_id, customer)
    return owners


def _owner(unit_id: int) -> Customer | None:
    return _owners([unit_id]).get(unit_id)


def _recipients(owner: Customer | None) -> list[str]:
    # A reference, resolved when a message is sent (app.records.recipients): the instance's
    # state and history never hold the owner's phone number.
    return [customer_ref(owner.id)] if owner is not None else []


def owner_recipients(unit_id: int) -> list[str]:
    """``notify`` recipients for the owner: ``["customer:<id>"]`` ([] without an owner). At
    send time that is their portal account (in-app + SMS to the phone on the account), else
    their phone number on record, else nobody."""
    return _recipients(_owner(unit_id))


def open_case(unit_id: int, today: date | None = None) -> DunningCase | None:
    """Start the dunning process for a unit with overdue bills (None if nothing is overdue;
    the open case if one exists)."""
    return open_cases_for([unit_id], today)[0]


def open_cases_for(unit_ids: Sequence[int], today: date | None = None
                   ) -> list[DunningCase | None]:
    """:func:`open_case` for each of ``unit_ids`` (in order): the same cases and process
    instances, but the look-ups (open cases, overdue bills, units, owners) are one query each
    for all the units and the new cases are written in one statement each way."""
    today = today or local_today()
    ids = list(dict.fromkeys(unit_ids))
    if not ids:
        return []
    cases: dict[int, DunningCase | None] = {}
    for case in db.session.scalars(select(DunningCase).where(
            DunningCase.unit_id.in_(ids), DunningCase.status == "open")):
        cases.setdefault(case.unit_id, case)
    todo = [u for u in ids if u not in cases]
    # The oldest overdue bill (overdue_bills(unit)[0]): unpaid and due before today.
    oldest: dict[int, date] = dict(db.session.execute(  # type: ignore[arg-type]
        select(Bill.unit_id, func.min(Bill.due_date))
        .where(Bill.unit_id.in_(todo), Bill.status == "open", Bill.due_date < today)
        .group_by(Bill.unit_id)).all()) if todo else {}
    todo = [u for u in todo if u in oldest]
    for unit_id in ids:
        if unit_id not in cases and unit_id not in oldest:
            cases[unit_id] = None
    if not todo:
        return [cases[u] for u in unit_ids]
    units = {unit.id: unit for unit in db.session.scalars(
        select(Unit).where(Unit.id.in_(todo)).options(joinedload(Unit.building)))}
    owners = _owners(todo)
    new: list[tuple[DunningCase, Unit]] = []
    for unit_id in todo:
        unit = units.get(unit_id)
        assert unit is not None
        case = DunningCase(project_id=unit.project_id, unit_id=unit_id, status="open",
                           oldest_due=oldest[unit_id], opened_at=clock.now(), reminders=0,
                           restarts=0, log=[])
        db.session.add(case)
        new.append((case, unit))
        cases[unit_id] = case
    db.session.flush()
    by_project: dict[int, list[tuple[DunningCase, Unit]]] = {}
    for case, unit in new:
        by_project.setdefault(unit.project_id, []).append((case, unit))
    for project_id, group in by_project.items():
        instances = start_instances(FLOW, project_id, [NewInstance(
            {"case_id": case.id, "unit_id": unit.id, "unit_label": unit.label,
             "owner_to": _recipients(owners.get(unit.id)),
             "oldest_due": case.oldest_due.isoformat(), "last_reminder_at": None,
             "restarted_at": None, "freeze_decided": False, "frozen": False},
            business_key=f"CJ-{unit.id}-{today:%Y%m%d}") for case, unit in group], actor=SYSTEM)
        links = [{"case_id": case.id, "instance_id": instance.id}
                 for (case, _unit), instance in zip(group, instances, strict=True)]
        # One statement for the batch, past the ORM's per-object bookkeeping.
        db.session.connection().execute(_LINK_INSTANCE, links)
        for (case, _unit), link in zip(group, links, strict=True):
            set_committed_value(case, "instance_id", link["instance_id"])
    db.session.flush()
    return [cases[u] for u in unit_ids]


_LINK_INSTANCE = (update(DunningCase.__table__)
                  .where(DunningCase.__table__.c.id == bindparam("case_id"))
                  .values(instance_id=bindparam("instance_id")))


def units_needing_a_case(today: date, project_id: int | None = None) -> list[int]:
    """Units with an overdue open bill and no open case (one indexed query)."""
    stmt = (select(Bill.unit_id).where(Bill.status == "open", Bill.due_date < today)
            .where(~exists().where(DunningCase.unit_id == Bill.unit_id,
                                   DunningCase.status == "open"))
            .group_by(Bill.unit_id).order_by(Bill.unit_id)
            .execution_options(all_projects=True))
    if project_id is not None:
        stmt = stmt.where(Bill.project_id == project_id)
    return list(db.session.scalars(stmt))


def open_cases(today: date | None = None, project_id: int | None = None) -> int:
    """Open a case for every unit whose bill became overdue; how many were opened."""
    today = today or local_today()
    units = units_needing_a_case(today, project_id)
    opened = 0
    for start in range(0, len(units), OPEN_BATCH):
        opened += sum(case is not None
                      for case in open_cases_for(units[start:start + OPEN_BATCH], today))
    return opened


# --- payments reach the case ------------------------------------------------------------------


def open_case_of(unit_id: int) -> DunningCase | None:
    return db.session.scalar(select(DunningCase).where(
        DunningCase.unit_id == unit_id, DunningCase.status == "open"))


def arrears_changed(unit_id: int, today: date | None = None) -> str | None:
    """After money reached a unit: end its case (nothing overdue left) or restart the count
    from the oldest still-unpaid bill. The message name sent, or None (no open case)."""
    case = open_case_of(unit_id)
    if case is None or case.instance_id is None:
        return None
    today = today or local_today()
    overdue = overdue_bills(unit_id, today)
    if overdue:
        name, payload = PARTIAL, {"oldest_due": overdue[0].due_date.isoformat(),
                                  "restarted_at": clock.now().isoformat()}
    else:
        name, payload = PAID, {"paid_at": clock.now().isoformat()}
    try:
        messaging.send_message(name, {"unit_id": unit_id}, payload, project_id=case.project_id)
    except NotFound:
        # The instance is not waiting (an incident, suspended): the case row says what to
        # expect; an admin resolves the instance and the next payment or sweep catches up.
        log.warning("dunning case %s (unit %s) did not take %s", case.id, unit_id, name)
        return None
    return name


# --- the service operator ---------------------------------------------------------------------


def _entry(action: str, note: str | None = None) -> dict[str, Any]:
    return {"at": clock.now().isoformat(), "action": action, **({"note": note} if note else {})}


def _log(case: DunningCase, action: str, note: str | None = None) -> None:
    case.log = [*(case.log or []), _entry(action, note)]


_CASE_OF_INSTANCE = select(DunningCase).where(DunningCase.instance_id == bindparam("instance_id"))

#: Built once (the reminder pass runs them for every case): what a reminder reads of its case —
#: with the unit's label, one plain row — and the one UPDATE it writes. No ORM objects: the pass
#: only reads them, and loading and flushing a case per reminder cost more than the rest.
def _reminder_cases(instances: Any, *leading: Any) -> Any:
    return (select(*leading, DunningCase.id, DunningCase.unit_id, DunningCase.reminders,
                   DunningCase.log, Building.name, Unit.number)
            .join(Unit, Unit.id == DunningCase.unit_id)
            .join(Building, Building.id == Unit.building_id)
            .where(instances))


_REMINDER_CASE = _reminder_cases(DunningCase.instance_id == bindparam("instance_id"))
_CASE_TABLE = DunningCase.__table__
_REMIND_WHERE = update(_CASE_TABLE).where(_CASE_TABLE.c.id == bindparam("case_id"))
#: Whether anything is overdue: the reminder counts (and is dated) or is only logged. The values
#: are bound parameters, so each statement compiles once, not once per reminder.
_REMIND = {
    True: _REMIND_WHERE.values(log=bindparam("log"), reminders=bindparam("reminders"),
                               last_reminder_at=bindparam("last_reminder_at")),
    False: _REMIND_WHERE.values(log=bindparam("log")),
}


#: A timer group's reminders read together (see :func:`_reminder_inputs`), the instance first.
_GROUP_CASES = _reminder_cases(DunningCase.instance_id.in_(bindparam("ids", expanding=True)),
                               DunningCase.instance_id)
_PREFETCHED = "estateflow.dunning.group_reminders"


@dataclass
class _GroupReminders:
    """What the reminders of one timer group read, each row handed out once."""

    group: tuple[int, ...]
    today: date
    cases: dict[int, Sequence[Any]]  # instance id → its _REMINDER_CASE row
    bills: dict[int, list[OverdueRow]]  # unit id → its overdue bills


def _reminder_inputs(instance_id: int, today: date
                     ) -> tuple[Sequence[Any] | None, list[OverdueRow] | None]:
    """The case row of the instance (and its unit's overdue bills, or None: read them).

    In a timer pass's group (:func:`app.engine.projections.stepping_group`) the first reminder
    reads the cases and overdue bills of every instance in the group, in two queries, and the
    others take theirs. A row is handed out once; asking again reads it afresh."""
    connection = db.session.connection()
    group = stepping_group()
    if group is not None and instance_id in group:
        found: _GroupReminders | None = db.session.info.get(_PREFETCHED)
        if found is None or found.group is not group or found.today != today:
            cases: dict[int, Sequence[Any]] = {instance: row for instance, *row in
                                               connection.execute(_GROUP_CASES,
                                                                  {"ids": list(group)})}
            found = _GroupReminders(group, today, cases,
                                    overdue_rows_of({row[1] for row in cases.values()}, today))
            db.session.info[_PREFETCHED] = found
        row = found.cases.pop(instance_id, None)
        if row is not None:
            return row, found.bills.pop(row[1], None)
    return connection.execute(_REMINDER_CASE, {"instance_id": instance_id}).first(), None


def _remind(instance_id: int) -> dict[str, Any]:
    """The reminder step: the current arrears; the case counts the reminder if any is left."""
    # On the transaction's connection, past the ORM's per-statement work: the case is the one
    # of the instance being stepped, which its caller reached through a scoped path.
    db.session.flush()  # what this transaction changed (a payment's bills) is read below
    connection = db.session.connection()
    now = clock.now()
    today = local_today(now)
    row, bills = _reminder_inputs(instance_id, today)
    if row is None:
        raise NotFound(f"no dunning case for process instance {instance_id}")
    case_id, unit_id, reminders, log, building, number = row
    result = reminder_arrears(unit_id, today, f"{building}-{number}", bills)
    counted = bool(result["count"])
    values: dict[str, Any] = {"log": [*(log or []), _entry("reminder")]}
    if counted:
        values.update(reminders=reminders + 1, last_reminder_at=now)
    connection.execute(_REMIND[counted], {"case_id": case_id, **values})
    loaded = db.session.identity_map.get(identity_key(DunningCase, case_id))
    if loaded is not None:  # a case this transaction holds reads the new values
        db.session.expire(loaded, list(values))
    return result


def apply_update(instance_id: int, action: str, reason: str | None = None,
                 oldest_due: str | None = None) -> dict[str, Any]:
    """What the flow reports at each step; returns data for the flow (the arrears for a
    reminder)."""
    if action == "reminder":
        return _remind(instance_id)
    case = db.session.scalar(_CASE_OF_INSTANCE, {"instance_id": instance_id})
    if case is None:
        raise NotFound(f"no dunning case for process instance {instance_id}")
    now = clock.now()
    if action == "freeze_asked":
        case.freeze_state = "asked"
    elif action == "frozen":
        case.freeze_state = "frozen"
    elif action == "refused":
        case.freeze_state, case.freeze_reason = "refused", reason
    elif action == "restart":
        case.restarts += 1
        if oldest_due:
            case.oldest_due = date.fromisoformat(oldest_due)
        if case.freeze_state in ("asked", "refused"):
            case.freeze_state = None
    elif action == "closed":
        case.status, case.closed_at = "closed", now
        if case.freeze_state == "frozen":
            case.freeze_state = "lifted"
    else:
        raise ValueError(f"unknown dunning action {action!r}")
    _log(case, action, reason)
    db.session.flush()
    return {"action": action}


def _dunning_update(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    return apply_update(context.instance_id, params["action"], params.get("reason"),
                        params.get("oldest_due"))


def register() -> None:
    register_helper("dunning_next", dunning_next, replace=True)
    register_operator(
        "dunning_update", params={"action": str, "reason": str, "oldest_due": str},
        required=("action",), handler=_dunning_update,
        description="Record a dunning step on its case; a reminder gets the current arrears.")


register()
