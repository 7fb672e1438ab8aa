"""Demo data: one estate with buildings and units, and one account per role."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from app.accounts import operations as accounts
from app.accounts.models import User
from app.accounts.roles import Role
from app.complaints.demo import seed_complaints_demo
from app.extensions import db
from app.projects import operations as projects
from app.projects.models import Building, Project, Unit
from app.records import operations as records
from app.repairs.demo import seed_repair_demo

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed for the demo on purpose
DEMO_PROJECT = "SUNNY"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role


DEMO_ACCOUNTS = [
    DemoAccount("owner", "王业主 Wang (owner)", Role.OWNER),
    DemoAccount("tenant", "李租户 Li (tenant)", Role.TENANT),
    DemoAccount("tech", "张师傅 Zhang (technician)", Role.TECHNICIAN),
    DemoAccount("cs", "陈客服 Chen (customer service)", Role.CUSTOMER_SERVICE),
    DemoAccount("supervisor", "刘主管 Liu (supervisor)", Role.SUPERVISOR),
    DemoAccount("manager", "赵经理 Zhao (project manager)", Role.PROJECT_MANAGER),
    DemoAccount("finance", "孙财务 Sun (finance)", Role.FINANCE),
    DemoAccount("guard", "周保安 Zhou (guard)", Role.GUARD),
    DemoAccount("procadmin", "吴流程 Wu (process admin)", Role.PROCESS_ADMIN),
    DemoAccount("hq", "郑总部 Zheng (HQ)", Role.HQ),
    DemoAccount("admin", "系统管理员 Admin (super admin)", Role.SUPER_ADMIN),
]


def seed_demo() -> tuple[Project, list[DemoAccount], bool]:
    """Create the demo estate and accounts unless they exist; returns (project, accounts, new)."""
    existing = db.session.scalar(select(Project).where(Project.code == DEMO_PROJECT))
    if existing is not None:
        return existing, DEMO_ACCOUNTS, False
    project = projects.create_project(DEMO_PROJECT, "阳光花园 Sunny Garden",
                                      "上海市浦东新区阳光路 88 号")
    for b in range(1, 4):
        building = projects.add_building(project, f"{b}号楼", floors=6)
        for floor in range(1, 7):
            for door in (1, 2):
                area = Decimal("89.50") if door == 1 else Decimal("112.30")
                status = "vacant" if (b, floor, door) == (3, 6, 2) else "occupied"
                projects.add_unit(building, f"{floor}0{door}", floor, area, status=status)
    for account in DEMO_ACCOUNTS:
        grants = [] if account.role in (Role.HQ, Role.SUPER_ADMIN) else [project.id]
        if db.session.scalar(select(User).where(User.username == account.username)) is None:
            accounts.create_user(account.username, DEMO_PASSWORD, account.display_name,
                                 [account.role], grants)
    seed_complaints_demo(project)
    _seed_residents(project)
    seed_repair_demo(project, DEMO_PASSWORD)
    return project, DEMO_ACCOUNTS, True


#: Demo residents: (account, name, phone, building, unit, relation).
DEMO_RESIDENTS = [
    ("owner", "王建国", "13800138001", "1号楼", "101", "owner"),
    ("tenant", "李晓梅", "13800138002", "1号楼", "102", "tenant"),
    (None, "赵老伯", "13800138003", "1号楼", "102", "owner"),
    (None, "孙女士", "13800138004", "2号楼", "201", "owner"),
]


def _seed_residents(project: Project) -> None:
    """Customer records for some units, the demo owner and tenant linked to theirs."""
    for username, name, phone, building, number, relation in DEMO_RESIDENTS:
        unit = db.session.scalar(select(Unit).join(Building).where(
            Building.project_id == project.id, Building.name == building, Unit.number == number))
        customer = records.create_customer(project.id, {"name": name, "phone": phone})
        assert unit is not None, f"demo unit {building}-{number}"
        records.link_unit(customer, unit, relation)
        if username is not None:
            user = db.session.scalar(select(User).where(User.username == username))
            assert user is not None, f"demo account {username}"
            records.link_user(customer, user.id)
