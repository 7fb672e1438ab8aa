"""A billing world shared by tests/billing and tests/flows/dunning: a project whose units have
areas and owners (one with a portal account), a property fee, finance staff, and helpers to
bill, pay and move the clock day by day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.billing import dunning, fees, payments
from app.billing.models import Bill, DunningCase, FeeItem
from app.billing.money import local_today
from app.billing.run import run_billing
from app.clock import FrozenSource
from app.engine.models import HumanTask
from app.engine.projections import open_task_rows
from app.engine.timer_jobs import fire_due
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.projects import operations as projects
from app.projects.models import Project, Unit
from app.records import operations as records


@dataclass
class BillingWorld:
    project: Project
    units: list[Unit]
    owner: User
    finance: User
    finance2: User
    supervisor: User
    fee: FeeItem
    clock: FrozenSource
    customers: list[Any] = field(default_factory=list)

    @property
    def unit(self) -> Unit:
        return self.units[0]

    def today(self) -> date:
        return local_today()

    def bill(self, day: date | None = None) -> int:
        return run_billing(self.project.id, day or self.today()).bills_created

    def bills(self, unit: Unit | None = None) -> list[Bill]:
        db.session.expire_all()
        return list(db.session.scalars(select(Bill).where(
            Bill.unit_id == (unit or self.unit).id).order_by(Bill.due_date, Bill.id)))

    def pay(self, amount_fen: int, unit: Unit | None = None, **kw: Any) -> Any:
        kw.setdefault("method", "cash")
        return payments.record_payment(unit or self.unit, amount_fen, user=self.finance, **kw)

    def open_cases(self) -> int:
        return dunning.open_cases(self.today())

    def case(self, unit: Unit | None = None) -> DunningCase | None:
        db.session.expire_all()
        return db.session.scalar(select(DunningCase).where(
            DunningCase.unit_id == (unit or self.unit).id).order_by(DunningCase.id.desc()))

    def tasks(self, case: DunningCase | None = None) -> list[HumanTask]:
        case = case or self.case()
        assert case is not None and case.instance_id is not None
        return open_task_rows(case.instance_id)

    def days(self, n: int) -> None:
        """Move the clock n days, one day at a time, firing due timers each day."""
        for _ in range(n):
            self.clock.advance(timedelta(days=1))
            fire_due()

    def until(self, day: date) -> None:
        while self.today() < day:
            self.days(1)

    def messages(self, event: str, channel: str = "inapp") -> list[OutboxMessage]:
        return list(db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.event == event, OutboxMessage.kind == channel)
            .order_by(OutboxMessage.id)))


def make_world(create_project: Callable[..., Project], create_user: Callable[..., User],
               clock: FrozenSource, units: int = 3) -> BillingWorld:
    project = create_project(units=0)
    building = projects.add_building(project, "2号楼")
    made = [projects.add_unit(building, f"20{i + 1}", floor=2, area_m2=Decimal("89.37"))
            for i in range(units)]
    owner = create_user("owner", projects=[project])
    customers = []
    for i, unit in enumerate(made):
        customer = records.create_customer(project.id, {
            "name": f"业主{i + 1}", "phone": f"1380013800{i}"}, allow_duplicate=True)
        if i == 0:
            customer.user_id = owner.id
        records.link_unit(customer, unit, "owner")
        customers.append(customer)
    fee = fees.create_fee_item(project.id, {"code": "WYF", "name": "物业费", "kind": "area",
                                            "unit_price_fen": 235, "cycle": "monthly",
                                            "due_days": 15})
    db.session.flush()
    return BillingWorld(
        project=project, units=made, owner=owner,
        finance=create_user("finance", projects=[project]),
        finance2=create_user("finance", projects=[project]),
        supervisor=create_user("supervisor", projects=[project]),
        fee=fee, clock=clock, customers=customers)
