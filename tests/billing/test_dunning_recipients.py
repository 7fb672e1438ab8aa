"""Who a dunning case notifies: the owner is in the workflow data as ``customer:<id>`` and
resolved when a message is sent, so no phone number is stored in the instance's state or
history; instances started with ``phone:`` / ``user:`` recipients still send."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from app.billing import dunning
from app.engine import services
from app.engine.models import Incident, InstanceStatus, ProcessInstance
from app.extensions import db
from app.notifications import inbox
from app.outbox.models import OutboxMessage
from app.records import operations as records
from app.records.merge import merge_customers
from app.records.models import Customer
from app.records.protect import plain
from app.records.recipients import customer_recipients
from tests.billing.world import BillingWorld

NOV = date(2026, 11, 1)
#: The world's owners' phones on record (customer i: 1380013800<i>); customer 0 has an account.
PHONES = ["13800138000", "13800138001", "13800138002"]
ACCOUNT_PHONE = "13900139000"
#: Tables where an instance's data can end up (state, history, waits, incidents).
INSTANCE_TABLES = ("process_instance", "instance_event", "message_subscription", "incident",
                   "human_task")


def _open(world: BillingWorld) -> date:
    assert world.bill(NOV) == 3
    assert world.open_cases() == 3
    return world.bills()[0].due_date


def _raw_rows(table: str) -> list[str]:
    db.session.flush()
    return [repr(tuple(row)) for row in db.session.execute(text(f"SELECT * FROM {table}"))]


def _phones_stored() -> list[tuple[str, str]]:
    """(table, phone) for every owner phone found in the raw rows of the instance tables."""
    return [(table, phone) for table in INSTANCE_TABLES for row in _raw_rows(table)
            for phone in PHONES if phone in row]


def _instance(world: BillingWorld, index: int) -> ProcessInstance:
    case = world.case(world.units[index])
    assert case is not None and case.instance_id is not None
    instance = db.session.get(ProcessInstance, case.instance_id)
    assert instance is not None
    return instance


def _reminders(world: BillingWorld) -> list[tuple[str, str]]:
    return sorted((m.kind, m.recipient) for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.event == "dunning.reminder")))


def _context(world: BillingWorld, project_id: int | None = None) -> services.ServiceContext:
    return services.ServiceContext(
        instance_id=0, project_id=project_id or world.project.id, flow="dunning",
        business_key=None, requester_id=None, task_id="t", element_id="Send_reminder",
        data={}, deployment_id=0)


def test_a_case_holds_a_customer_reference_and_no_phone(world: BillingWorld):
    inbox.set_contact(world.owner.id, ACCOUNT_PHONE, None)
    due = _open(world)
    for index, customer in enumerate(world.customers):
        instance = _instance(world, index)
        assert f'"customer:{customer.id}"' in instance.state
    assert _phones_stored() == []
    # The start's history row holds the reference too.
    starts = [row for row in _raw_rows("instance_event") if "owner_to" in row]
    assert len(starts) == 3 and all("customer:" in row for row in starts)

    world.until(due + timedelta(days=30))  # the first reminder
    assert _reminders(world) == sorted([
        ("inapp", f"user:{world.owner.id}"), ("sms", f"+86{ACCOUNT_PHONE}"),  # has an account
        ("sms", f"+86{PHONES[1]}"), ("sms", f"+86{PHONES[2]}"),  # phones on record
    ])
    for unit in world.units:
        case = world.case(unit)
        assert case is not None and case.reminders == 1
    assert _phones_stored() == []  # sending did not write the numbers into the workflow


def test_the_phone_is_read_when_sending(world: BillingWorld):
    """The reference follows the record: a changed phone, a record merged into another, and a
    customer that can no longer be reached (the reminder still counts)."""
    due = _open(world)
    first, second = world.customers[1], world.customers[2]
    records.update_customer(first, {"phone": "13700137001"})
    survivor = records.create_customer(world.project.id, {"name": "业主3", "phone": "13700137002"},
                                       allow_duplicate=True)
    merge_customers(second, survivor)
    records.update_customer(world.customers[0], {"phone": ""})
    world.customers[0].user_id = None
    world.until(due + timedelta(days=30))
    assert _reminders(world) == [("sms", "+8613700137001"), ("sms", "+8613700137002")]
    case = world.case(world.units[0])
    assert case is not None and case.reminders == 1  # nobody to tell, the count goes on


def test_a_customer_of_another_project_is_an_incident(world: BillingWorld,
                                                      create_project: Any):
    due = _open(world)
    other = create_project(units=0)
    moved = world.customers[1]
    db.session.execute(update(Customer).where(Customer.id == moved.id)
                       .values(project_id=other.id))
    world.until(due + timedelta(days=30))
    instance = _instance(world, 1)
    db.session.refresh(instance)
    assert instance.status == InstanceStatus.ERROR
    incident = db.session.scalar(select(Incident).where(Incident.instance_id == instance.id))
    assert incident is not None and incident.element_id == "Send_reminder"
    assert f"recipient 'customer:{moved.id}'" in incident.message
    assert f"belongs to project {other.id}" in incident.message
    # The other cases went on.
    assert ("sms", f"+86{PHONES[2]}") in _reminders(world)
    assert f"+86{PHONES[1]}" not in {r for _, r in _reminders(world)}


def test_customer_recipients_refuse_what_they_cannot_resolve(world: BillingWorld,
                                                             create_project: Any):
    customer = world.customers[1]
    context = _context(world)
    recipient = customer_recipients(str(customer.id), context)[0]
    assert recipient.phone == f"+86{plain(customer, 'phone')}"  # E.164, as stored
    with pytest.raises(services.ServiceTaskError, match="belongs to project"):
        services.recipients_of(_context(world, create_project(units=0).id),
                               [f"customer:{customer.id}"])
    with pytest.raises(services.ServiceTaskError, match="no customer with id 999999"):
        services.recipients_of(context, ["customer:999999"])
    with pytest.raises(services.ServiceTaskError, match="must be a number"):
        services.recipients_of(context, ["customer:abc"])
    with pytest.raises(services.ServiceTaskError, match=r"use role:<code>, requester, "
                       r"user:<id>, phone:<number> or customer:<id>"):
        services.recipients_of(context, ["tenant:1"])
    with pytest.raises(ValueError, match="built in"):
        services.register_recipient_kind("phone", customer_recipients)


def _old_recipients(owner: Customer | None) -> list[str]:
    """What open_cases_for wrote before customer references: the account or the phone."""
    if owner is None:
        return []
    if owner.user_id is not None:
        return [f"user:{owner.user_id}"]
    phone = plain(owner, "phone")
    return [f"phone:{phone}"] if phone else []


def test_instances_started_with_phone_and_user_recipients_still_send(
        world: BillingWorld, monkeypatch: pytest.MonkeyPatch):
    inbox.set_contact(world.owner.id, ACCOUNT_PHONE, None)
    monkeypatch.setattr(dunning, "_recipients", _old_recipients)
    due = _open(world)
    monkeypatch.undo()
    assert f'"phone:{PHONES[1]}"' in _instance(world, 1).state
    assert f'"user:{world.owner.id}"' in _instance(world, 0).state
    world.until(due + timedelta(days=30))
    assert _reminders(world) == sorted([
        ("inapp", f"user:{world.owner.id}"), ("sms", f"+86{ACCOUNT_PHONE}"),
        ("sms", f"+86{PHONES[1]}"), ("sms", f"+86{PHONES[2]}"),
    ])
