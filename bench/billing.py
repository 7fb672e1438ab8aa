"""Billing benchmark: (a) the billing run for N occupied units (set-based), (b) opening N
dunning cases (one ``dunning`` instance each) and (c) taking them through the 30-day reminder
(one timer pass: look up the arrears, notify the owner — an SMS to the phone on record, or
in-app + SMS for the one owner in ten with a portal account — plan the next step).

Targets for N = 50,000 on the reference machine: (a) <= 60 s, (c) <= 120 s — the pass that
takes the waiting instances through the reminder. (b) happens a month earlier, as bills fall
overdue; it is printed on its own and added to (c).

    .venv/bin/python -m bench.billing [--postgres] [--units N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.accounts import operations as accounts
from app.accounts.models import ProjectGrant, User, UserRole
from app.accounts.roles import Role
from app.audit.actor import Actor, acting_as
from app.billing import dunning, fees
from app.billing.models import Bill, DunningCase
from app.billing.run import run_billing
from app.clock import FrozenSource, clock
from app.engine import spiff, timer_jobs
from app.engine import tasks as engine_tasks
from app.engine.deployments import deploy, latest_loaded_deployment, read_bundle
from app.extensions import db
from app.notifications.models import UserContact
from app.outbox.models import OutboxMessage
from app.projects import operations as projects
from app.projects.models import Unit
from app.records import validation
from app.records.crypto import keyring
from app.records.models import Customer, Occupancy
from app.records.protect import column_label, phone_index
from app.uow import unit_of_work
from bench.common import ROOT, bench_database, make_app

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai; November is overdue
NOV = date(2026, 11, 1)
PER_BUILDING = 1000
BATCH = 500
#: One owner in ACCOUNT_EVERY has a portal account (reminded in-app + SMS to the account's
#: phone); the others are reached by SMS to the phone on their record.
ACCOUNT_EVERY = 10


def _flow_files() -> dict[str, bytes]:
    prefixes = ("processes/dunning", "forms/dunning/", "notifications/dunning/")
    return {p: c for p, c in read_bundle(ROOT).items() if p.startswith(prefixes)}


def _mobile(i: int) -> str:
    """Customer i's mobile number (E.164): a valid mainland number, unique per customer."""
    return f"+861380{i:07d}"


def _portal_accounts(project_id: int, n: int) -> dict[int, int]:
    """Portal accounts for every ACCOUNT_EVERY-th of n owners, written in bulk: the user (one
    password hash for all), role owner, a grant of the project and the mobile number on the
    account. {customer index: user id}."""
    indexes = range(0, n, ACCOUNT_EVERY)
    password = accounts.hash_password("correct-horse-9")
    db.session.execute(sa.insert(User), [
        {"username": f"owner{i:07d}", "display_name": f"业主{i}", "password_hash": password,
         "active": True, "created_at": T0, "password_changed_at": T0} for i in indexes])
    by_name = {name: user_id for name, user_id in db.session.execute(
        sa.select(User.username, User.id).where(User.username.like("owner%")))}
    users = {i: by_name[f"owner{i:07d}"] for i in indexes}
    db.session.execute(sa.insert(UserRole), [
        {"user_id": u, "role": Role.OWNER.value} for u in users.values()])
    db.session.execute(sa.insert(ProjectGrant), [
        {"user_id": u, "project_id": project_id} for u in users.values()])
    db.session.execute(sa.insert(UserContact), [
        {"user_id": u, "phone_e164": _mobile(i)} for i, u in users.items()])
    return users


def setup(app: Any, n: int) -> int:
    """A project with n occupied units of 89.37 m², each with an owner reachable as in a real
    estate: an (encrypted) mobile number on every record, and one owner in ACCOUNT_EVERY with a
    portal account (in-app + SMS); the property fee; the dunning flow."""
    clock.use(FrozenSource(T0))
    with app.app_context(), acting_as(Actor(None, "bench")), unit_of_work():
        project = projects.create_project("BENCH", "Bench estate")
        deploy(_flow_files())
        fees.create_fee_item(project.id, {"code": "WYF", "name": "物业费", "kind": "area",
                                          "unit_price_fen": 235, "due_days": 15})
        buildings = [projects.add_building(project, f"{b + 1}号楼").id
                     for b in range((n + PER_BUILDING - 1) // PER_BUILDING)]
        project_id = project.id
    with app.app_context(), unit_of_work():
        units = [{"project_id": project_id, "building_id": buildings[i // PER_BUILDING],
                  "number": f"{i % PER_BUILDING + 1:04d}", "floor": 1,
                  "area_m2": Decimal("89.37"), "use": "residential", "status": "occupied"}
                 for i in range(n)]
        db.session.execute(sa.insert(Unit), units)
        ids = list(db.session.scalars(sa.select(Unit.id).where(Unit.project_id == project_id)
                                      .order_by(Unit.id)))
        # One customer (the owner) per unit, each with a mobile number on record, encrypted
        # and indexed as app.records.protect.set_phone does (the numbers are valid E.164 by
        # construction: checked once, not parsed 50,000 times); one in ACCOUNT_EVERY has a
        # portal account (user_id is unique: one account per customer).
        assert validation.normalise_phone(_mobile(n - 1)) == _mobile(n - 1)
        users = _portal_accounts(project_id, n)
        ring, label = keyring(), column_label(Customer, "phone")
        db.session.execute(sa.insert(Customer), [
            {"project_id": project_id, "number": f"C{i:07d}", "kind": "person",
             "name": f"业主{i}", "name_key": f"业主{i}",
             "phone_enc": ring.encrypt(_mobile(i), label), "phone_bidx": phone_index(_mobile(i)),
             "preferred_channel": "app" if i in users else "sms", "status": "active",
             "user_id": users.get(i), "created_at": T0, "updated_at": T0} for i in range(n)])
        customers = list(db.session.scalars(sa.select(Customer.id).where(
            Customer.project_id == project_id).order_by(Customer.id)))
        db.session.execute(sa.insert(Occupancy), [
            {"project_id": project_id, "customer_id": c, "unit_id": u, "relation": "owner"}
            for c, u in zip(customers, ids, strict=True)])
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # A live database has statistics (autovacuum); bulk-loaded tables do not yet, and
            # the planner would join 50,000 units as if the tables were empty.
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE unit, customer, customer_unit, bill, user_account, user_contact")
    return project_id


def bench_billing(app: Any, project_id: int) -> dict[str, Any]:
    with app.app_context(), acting_as(Actor(None, "bench")):
        start = time.perf_counter()
        with unit_of_work():
            created = run_billing(project_id, NOV).bills_created
        first = time.perf_counter() - start
        start = time.perf_counter()
        with unit_of_work():
            again = run_billing(project_id, NOV).bills_created
        second = time.perf_counter() - start
        total = db.session.scalar(sa.select(sa.func.sum(Bill.amount_fen)))
    return {"bills": created, "seconds": round(first, 2), "rerun_bills": again,
            "rerun_seconds": round(second, 2), "total_fen": int(total or 0)}


REMINDER_AT = datetime(2026, 12, 16, 1, 0, tzinfo=UTC)  # due + 30, 09:00


def _fire_shard(url: str, shard: tuple[int, int], limit: int) -> int:
    """One scheduler process of a sharded pass (its own app, session and connections)."""
    clock.use(FrozenSource(REMINDER_AT))
    app = make_app(url)
    with app.app_context():
        try:
            return timer_jobs.fire_all_due(limit=limit, shard=shard)
        finally:
            db.engine.dispose()


def _reminder_pass(app: Any, url: str, n: int, workers: int) -> int:
    """The timer pass that sends the 30-day reminders: in this process, or split over
    ``workers`` scheduler processes (``id % workers``), as a deployment runs them."""
    if workers <= 1:
        with app.app_context():
            return timer_jobs.fire_all_due(limit=n + 10)
    with app.app_context():
        db.engine.dispose()  # the children open their own connections
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        return sum(pool.starmap(_fire_shard, [(url, (k, workers), n + 10)
                                              for k in range(workers)]))


def bench_dunning(app: Any, project_id: int, n: int, url: str = "",
                  workers: int = 1) -> dict[str, Any]:
    with app.app_context(), acting_as(Actor(None, "bench")):
        units = dunning.units_needing_a_case(date(2026, 11, 22), project_id)[:n]
        start = time.perf_counter()
        for offset in range(0, len(units), BATCH):
            # What the daily sweep (dunning.open_cases) does: one dunning instance per unit,
            # the look-ups made per batch.
            with unit_of_work():
                dunning.open_cases_for(units[offset:offset + BATCH], date(2026, 11, 22))
            db.session.expunge_all()
        opened = time.perf_counter() - start
        cases = db.session.scalar(sa.select(sa.func.count(DunningCase.id)))
    clock.use(FrozenSource(REMINDER_AT))
    start = time.perf_counter()
    fired = _reminder_pass(app, url, n, workers)
    reminder = time.perf_counter() - start
    with app.app_context():
        reminded = db.session.scalar(sa.select(sa.func.count(DunningCase.id)).where(
            DunningCase.reminders == 1))
        by_kind: dict[str, int] = {channel: count for channel, count in db.session.execute(
            sa.select(OutboxMessage.kind, sa.func.count(OutboxMessage.id))
            .where(OutboxMessage.event == "dunning.reminder")
            .group_by(OutboxMessage.kind))}
        # Every reminded case must have sent its owner an SMS (keys: instance:<id>:task:…).
        sms_cases = len({key.split(":", 2)[1] for key in db.session.scalars(
            sa.select(OutboxMessage.idempotency_key).where(
                OutboxMessage.event == "dunning.reminder", OutboxMessage.kind == "sms"))})
    figures = {"cases": int(cases or 0), "open_seconds": round(opened, 2),
               "reminder_fired": fired, "reminded": int(reminded or 0),
               "reminder_messages": sum(by_kind.values()),
               "reminder_sms": by_kind.get("sms", 0), "reminder_inapp": by_kind.get("inapp", 0),
               "reminder_sms_cases": sms_cases, "reminder_seconds": round(reminder, 2),
               "total_seconds": round(opened + reminder, 2)}
    assert figures["reminded"] == figures["cases"], figures
    assert figures["reminder_messages"] >= figures["cases"], figures
    assert sms_cases == figures["reminded"], figures  # at least one SMS per reminded case
    return figures


#: Cases the library-alone measurement runs (the per-case time is scaled to N).
FLOOR_SAMPLE = 2000


def library_floor(app: Any, n: int, sample: int = FLOOR_SAMPLE) -> dict[str, Any]:
    """What the workflow library itself needs for the same two steps, no database and no
    EstateFlow bookkeeping: open — create the instance, run it to its first wait, serialize;
    reminder — deserialize, let the 30-day timer fire, hand the two service tasks canned
    results (arrears with one bill; one message sent), run on to the next wait, serialize.
    Measured on ``sample`` cases and scaled to ``n``: the floor under (b) + (c) for one
    process, whatever the engine around the library does."""
    with app.app_context():
        deployment = latest_loaded_deployment(dunning.FLOW)
        specs = deployment.spec(dunning.FLOW)
    arrears = {"unit_id": 1, "unit_label": "1号楼-0001", "amount_fen": 21002,
               "amount_text": "¥210.02", "count": 1, "oldest_due": "2026-11-16",
               "bills": [{"number": "ZD202611-1-1", "item": "物业费", "period": "2026-11",
                          "due_date": "2026-11-16", "outstanding": "¥210.02"}]}
    results = {"dunning_update": arrears, "notify": {"event": "dunning.reminder", "messages": 1}}
    clock.use(FrozenSource(T0))
    start = time.perf_counter()
    states = []
    for i in range(sample):
        workflow = spiff.create_workflow(*specs, data={
            "case_id": i, "unit_id": i, "unit_label": f"1号楼-{i:04d}", "owner_to": [],
            "oldest_due": "2026-11-16", "last_reminder_at": None, "restarted_at": None,
            "freeze_decided": False, "frozen": False})
        spiff.advance(workflow)
        states.append(spiff.serialize(workflow))
    opened = (time.perf_counter() - start) / sample
    clock.use(FrozenSource(REMINDER_AT))
    start = time.perf_counter()
    for state in states:
        workflow = spiff.deserialize(state, specs=specs)
        spiff.advance(workflow)
        calls = engine_tasks.ready_service_tasks(workflow)
        while calls:
            for call in calls:
                engine_tasks.complete_service_task(workflow, call.task_id,
                                                   results[call.operator])
            spiff.advance(workflow)
            calls = engine_tasks.ready_service_tasks(workflow)
        assert spiff.next_timer_due(workflow) is not None  # waits for the next reminder
        spiff.serialize(workflow)
    reminded = (time.perf_counter() - start) / sample
    clock.use(FrozenSource(T0))
    return {"sample": sample, "open_ms_per_case": round(opened * 1000, 3),
            "reminder_ms_per_case": round(reminded * 1000, 3),
            "open_seconds": round(opened * n, 1), "reminder_seconds": round(reminded * n, 1),
            "total_seconds": round((opened + reminded) * n, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--cases", type=int, default=None,
                        help="dunning cases to open (default: every unit)")
    parser.add_argument("--workers", type=int, default=1,
                        help="scheduler processes sharing the reminder pass (default 1)")
    parser.add_argument("--json")
    args = parser.parse_args()
    cases = args.cases or args.units
    kind = "postgres" if args.postgres else "sqlite"
    with bench_database(kind) as url:
        app = make_app(url)
        t = time.perf_counter()
        project_id = setup(app, args.units)
        print(f"[{kind}] set-up of {args.units} units: {time.perf_counter() - t:.1f} s",
              flush=True)
        # First, while the process is as small as a scheduler's that starts its pass.
        floor = library_floor(app, cases)
        billing = bench_billing(app, project_id)
        print(f"[{kind}] billing run: {billing['bills']} bills in {billing['seconds']} s "
              f"(target <= 60 s); rerun created {billing['rerun_bills']} in "
              f"{billing['rerun_seconds']} s", flush=True)
        dunning_figures = bench_dunning(app, project_id, cases, url, args.workers)
        print(f"[{kind}] dunning: 30-day reminder pass "
              f"({args.workers} scheduler process{'es' if args.workers > 1 else ''}) "
              f"{dunning_figures['reminder_seconds']} s for {dunning_figures['reminded']} "
              f"cases (target <= 120 s); opening the {dunning_figures['cases']} cases "
              f"{dunning_figures['open_seconds']} s; both {dunning_figures['total_seconds']} s",
              flush=True)
        print(f"[{kind}] the reminder pass queued {dunning_figures['reminder_messages']} "
              f"outbox messages ({dunning_figures['reminder_sms']} SMS, "
              f"{dunning_figures['reminder_inapp']} in-app) for {dunning_figures['reminded']} "
              f"reminded cases; {dunning_figures['reminder_sms_cases']} cases with an SMS",
              flush=True)
        overhead = dunning_figures["total_seconds"] / floor["total_seconds"]
        print(f"[{kind}] the workflow library alone (no database; {floor['sample']} cases "
              f"scaled to {cases}): open {floor['open_seconds']} s "
              f"({floor['open_ms_per_case']} ms/case) + reminder {floor['reminder_seconds']} s "
              f"({floor['reminder_ms_per_case']} ms/case) = {floor['total_seconds']} s; "
              f"EstateFlow's total is {overhead:.2f}x that", flush=True)
        with app.app_context():
            db.engine.dispose()
    result = {"database": kind, "units": args.units, "workers": args.workers,
              "billing": billing,
              "dunning": dunning_figures, "library_floor": floor}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
