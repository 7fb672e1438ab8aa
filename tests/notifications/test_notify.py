"""notify(): recipients, channels, preferences, quiet hours, in-app rows, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import FieldErrors
from app.extensions import db
from app.notifications.inbox import set_contact, set_preference, unread_count
from app.notifications.models import Notification
from app.notifications.quiet import set_quiet_hours
from app.notifications.recipients import Recipient, normalise_phone
from app.notifications.service import NotificationError, notify
from app.outbox.dispatcher import dispatch_due
from app.outbox.models import OutboxMessage

DATA = {"ticket_no": "BX-0001", "technician_name": "张师傅"}


def by_kind(messages):
    return {(m.kind, m.recipient): m for m in messages}


def test_phone_numbers_are_normalised_to_e164():
    assert normalise_phone("138 0013 8000") == "+8613800138000"
    assert normalise_phone("+86 138-0013-8000") == "+8613800138000"
    assert normalise_phone("+1 415 555 2671") == "+14155552671"
    with pytest.raises(FieldErrors):
        normalise_phone("12345")
    with pytest.raises(FieldErrors):
        normalise_phone("not a number")


def test_a_stored_phone_is_used_as_it_is(template_dir, create_project):
    """A number a record stores (validated, E.164 on entry) is not parsed again; one typed in
    is normalised."""
    project = create_project()
    messages = notify("repair.accepted", project_id=project.id,
                      recipients=[Recipient.to_stored_phone("+8613800138000"),
                                  Recipient.to_phone("139 0013 9000")],
                      data=DATA, idempotency_key="t1", channels=["sms"])
    assert sorted(m.recipient for m in messages) == ["+8613800138000", "+8613900139000"]

def test_user_gets_every_channel_with_a_template(template_dir, create_project, create_user):
    project = create_project()
    user = create_user("technician", projects=[project])
    set_contact(user.id, "13800138000", "zhang@example.com")
    messages = notify("repair.accepted", project_id=project.id, recipients=[user.id], data=DATA,
                      idempotency_key="t1", link="/repairs/1")
    kinds = by_kind(messages)
    assert set(kinds) == {("sms", "+8613800138000"), ("email", "zhang@example.com"),
                          ("inapp", f"user:{user.id}")}
    assert kinds[("email", "zhang@example.com")].subject == "工单BX-0001已接单"
    inapp = kinds[("inapp", f"user:{user.id}")]
    assert inapp.status == "sent"
    note = db.session.scalar(select(Notification).where(Notification.user_id == user.id))
    assert (note.title, note.body, note.link) == (
        "工单已接单", "张师傅已接单：BX-0001", "/repairs/1")
    assert unread_count(user.id) == 1


def test_language_follows_the_user_and_falls_back(template_dir, create_project, create_user):
    project = create_project()
    user = create_user("owner", projects=[project])
    user.locale = "en"
    set_contact(user.id, "13800138000", None)
    messages = by_kind(notify("repair.accepted", project_id=project.id, recipients=[user.id],
                              data=DATA, idempotency_key="t1"))
    assert messages[("sms", "+8613800138000")].body == (
        "[EstateFlow] 张师傅 accepted job BX-0001.")
    # there is no English in-app template: zh_CN it is
    assert messages[("inapp", f"user:{user.id}")].subject == "工单已接单"


def test_opt_out_and_missing_contact_leave_channels_out(template_dir, create_project,
                                                         create_user):
    project = create_project()
    opted_out = create_user("owner", projects=[project])
    set_contact(opted_out.id, "13800138000", None)
    set_preference(opted_out.id, "sms", False)
    no_phone = create_user("owner", projects=[project])
    messages = notify("repair.accepted", project_id=project.id,
                      recipients=[opted_out.id, no_phone.id], data=DATA, idempotency_key="t1")
    assert sorted(m.kind for m in messages) == ["inapp", "inapp"]


def test_roles_resolve_to_users_granted_the_project(template_dir, create_project, create_user):
    project, other = create_project(), create_project()
    here = create_user("supervisor", projects=[project])
    create_user("supervisor", projects=[other])
    create_user("technician", projects=[project])
    messages = notify("repair.accepted", project_id=project.id,
                      recipients=[Recipient.role_in_project("supervisor"), here.id], data=DATA,
                      idempotency_key="t1", channels=["inapp"])
    assert [m.user_id for m in messages] == [here.id]  # once, though named twice


def test_same_key_never_writes_twice(template_dir, create_project):
    project = create_project()
    first = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                   data=DATA, idempotency_key="t1")
    again = notify("repair.accepted", project_id=project.id, recipients=["+86 138 0013 8000"],
                   data=DATA, idempotency_key="t1")
    assert [m.id for m in again] == [m.id for m in first]
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_a_key_said_to_be_new_is_not_looked_up_but_still_never_written_twice(
        template_dir, create_project):
    project = create_project()
    first = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                   data=DATA, idempotency_key="t1", new_key=True)
    assert len(first) == 1
    with pytest.raises(IntegrityError), db.session.begin_nested():
        notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
               data=DATA, idempotency_key="t1", new_key=True)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1

@pytest.mark.parametrize("phones", [2, 8, 11])
def test_a_repeated_call_to_many_recipients_writes_nothing_new(template_dir, create_project,
                                                                 phones):
    project = create_project()
    numbers = [f"1380013{i:04d}" for i in range(phones)]
    first = notify("repair.accepted", project_id=project.id, recipients=numbers, data=DATA,
                   idempotency_key="t1")
    # One more number: only its message is new.
    again = notify("repair.accepted", project_id=project.id,
                   recipients=[*numbers, "13900139000"], data=DATA, idempotency_key="t1")
    assert [m.id for m in again[:phones]] == [m.id for m in first]
    assert again[-1].recipient == "+8613900139000" and again[-1].id not in {m.id for m in first}
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == phones + 1


def test_new_messages_are_stored_rows_of_the_session(template_dir, create_project,
                                                    create_user):
    """notify writes its rows in one INSERT: each returned message is a persistent row with
    its id, whose columns are what the database holds (nothing left to load)."""
    project = create_project()
    user = create_user("technician", projects=[project])
    set_contact(user.id, "13900139000", None)
    messages = notify("repair.accepted", project_id=project.id,
                      recipients=["13800138000", user.id], data=DATA, idempotency_key="t9")
    assert len({m.id for m in messages}) == len(messages) >= 3
    for message in messages:
        assert message in db.session and message.id is not None
        assert not db.session.is_modified(message)
        stored = db.session.execute(
            select(OutboxMessage.__table__).where(OutboxMessage.id == message.id)).one()
        for column in OutboxMessage.__table__.columns:
            assert getattr(message, column.key) == getattr(stored, column.key), column.key
    assert {(m.kind, m.recipient) for m in messages} >= {
        ("sms", "+8613800138000"), ("sms", "+8613900139000"), ("inapp", f"user:{user.id}")}


@pytest.mark.parametrize("kwargs, message", [
    ({"data": {"ticket_no": "x"}}, "needs technician_name"),
    ({"recipients": ["12345"]}, "not a valid phone number"),
    ({"recipients": [999_999]}, "no user with id"),
    ({"event": "repair.nope"}, "unknown notification event"),
    ({"channels": ["fax"]}, "unknown channel 'fax'"),
])
def test_errors_raise_notification_error_and_write_nothing(template_dir, create_project,
                                                           kwargs, message):
    project = create_project()
    args = {"event": "repair.accepted", "recipients": ["13800138000"], "data": DATA}
    args.update(kwargs)
    event = args.pop("event")
    with pytest.raises(NotificationError, match=message):
        notify(event, project_id=project.id, idempotency_key="t1", **args)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def night(frozen_clock):
    frozen_clock.set(datetime(2026, 11, 22, 14, 30, tzinfo=UTC))  # 22:30 in Shanghai


def test_quiet_hours_hold_sms_until_eight(template_dir, create_project, run_dispatcher,
                                          frozen_clock):
    project = create_project()
    night(frozen_clock)
    [message] = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                       data=DATA, idempotency_key="t1")
    assert message.status == "held"
    assert message.next_attempt_at == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 local
    assert run_dispatcher() == 0
    frozen_clock.set(datetime(2026, 11, 22, 23, 59, tzinfo=UTC))
    assert dispatch_due() == 0
    frozen_clock.advance(timedelta(minutes=1))
    assert dispatch_due() == 1
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).status == "sent"


def test_urgent_sms_bypass_quiet_hours(template_dir, create_project, run_dispatcher,
                                       frozen_clock):
    project = create_project()
    night(frozen_clock)
    [message] = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                       data=DATA, idempotency_key="t1", urgent=True)
    assert message.status == "queued"
    assert run_dispatcher() == 1


def test_a_retry_that_falls_into_quiet_hours_is_held(template_dir, create_project, frozen_clock):
    project = create_project()
    [message] = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                       data=DATA, idempotency_key="t1")
    night(frozen_clock)
    db.session.commit()
    assert dispatch_due() == 0
    db.session.expire_all()
    row = db.session.get(OutboxMessage, message.id)
    assert row.status == "held" and row.next_attempt_at.hour == 0


def test_quiet_hours_per_project(template_dir, create_project, frozen_clock):
    project = create_project()
    set_quiet_hours(project.id, enabled=False, start="22:00", end="08:00")
    night(frozen_clock)
    [message] = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                       data=DATA, idempotency_key="t1")
    assert message.status == "queued"
    set_quiet_hours(project.id, enabled=True, start="12:00", end="14:00")
    frozen_clock.set(datetime(2026, 11, 22, 4, 30, tzinfo=UTC))  # 12:30 local
    [held] = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                    data=DATA, idempotency_key="t2")
    assert held.status == "held" and held.next_attempt_at == datetime(2026, 11, 22, 6, 0,
                                                                       tzinfo=UTC)
    with pytest.raises(FieldErrors):
        set_quiet_hours(project.id, enabled=True, start="25:00", end="08:00")


def test_role_hq_reaches_headquarters_without_a_grant(db_session, create_project, create_user):
    from app.notifications.recipients import Recipient, resolve
    project = create_project()
    hq = create_user("hq")  # no grant: HQ sees every project
    other = create_project()
    granted_elsewhere = create_user("supervisor", projects=[other])
    targets = resolve([Recipient.role_in_project("hq"), Recipient.role_in_project("supervisor")],
                      project.id)
    ids = {t.user_id for t in targets}
    assert hq.id in ids and granted_elsewhere.id not in ids
