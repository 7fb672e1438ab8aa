"""Customer-records benchmark: search p95 on 100,000 customers, import of 20,000 rows.

Run: ``.venv/bin/python bench/records.py [--customers 100000] [--rows 20000] [--json out.json]``.
Uses a fresh SQLite file in a temporary folder (schema from the migrations).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from io import BytesIO

from flask_migrate import upgrade
from openpyxl import Workbook
from sqlalchemy import insert, select
from stdnum.cn import ric

from app import create_app
from app.audit.actor import Actor, acting_as
from app.extensions import db
from app.projects import operations as projects
from app.projects.models import Building, Unit
from app.records import fields as cf
from app.records import importer, protect, tags
from app.records.crypto import keyring
from app.records.models import Customer, CustomFieldValue, Occupancy
from app.records.search import CustomerFilter, search
from app.uow import unit_of_work

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def id_number(rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
    base = f"110101{born:%Y%m%d}{rng.randrange(1000):03d}"
    return next(base + d for d in "0123456789X" if ric.is_valid(base + d))


def seed(n: int, rng: random.Random) -> tuple[int, list[str], list[str]]:
    project = projects.create_project("BENCH", "Bench estate")
    per_building = 1000
    ring = keyring()
    phones: list[str] = []
    ids: list[str] = []
    building_ids = []
    for b in range(max(n // per_building, 1)):
        building = Building(project_id=project.id, name=f"{b + 1}号楼")
        db.session.add(building)
        db.session.flush()
        building_ids.append(building.id)
    db.session.execute(insert(Unit), [
        {"project_id": project.id, "building_id": building_ids[i // per_building],
         "number": f"{(i % per_building) // 10 + 1:02d}{i % 10 + 1:02d}", "floor": 1,
         "use": "residential", "status": "occupied"} for i in range(n)])
    unit_ids = list(db.session.scalars(select(Unit.id).where(Unit.project_id == project.id)
                                       .order_by(Unit.id)))
    field = cf.define_field(project.id, "pets", "Pets", "number")
    rows = []
    for i in range(n):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        phone = f"+86138{i:08d}"
        ident = id_number(rng)
        phones.append(phone)
        ids.append(ident)
        rows.append({
            "project_id": project.id, "number": f"C{i + 1:06d}", "kind": "person",
            "name": name, "name_key": name, "id_type": "ric",
            "id_number_enc": ring.encrypt(ident, "customer.id_number"),
            "id_number_bidx": protect.id_index("ric", ident),
            "birth_date": date(int(ident[6:10]), int(ident[10:12]), int(ident[12:14])),
            "phone_enc": ring.encrypt(phone, "customer.phone"),
            "phone_bidx": protect.phone_index(phone), "preferred_channel": "phone",
            "status": "active"})
    for chunk in range(0, n, 10_000):
        db.session.execute(insert(Customer), rows[chunk:chunk + 10_000])
    customer_ids = list(db.session.scalars(select(Customer.id).where(
        Customer.project_id == project.id).order_by(Customer.id)))
    db.session.execute(insert(Occupancy), [
        {"project_id": project.id, "customer_id": cid, "unit_id": unit_ids[i],
         "relation": "owner" if i % 5 else "tenant",
         "move_in": date(2015, 1, 1) + timedelta(days=rng.randrange(4300))}
        for i, cid in enumerate(customer_ids)])
    db.session.execute(insert(CustomFieldValue), [
        {"project_id": project.id, "customer_id": cid, "field_id": field.id,
         "value": str(rng.randrange(4))} for cid in customer_ids[::3]])
    tags.add_manual_tag(project.id, "pets", "宠物家庭")
    tags.recompute_rule_tags(project.id)
    return project.id, phones, ids


def queries(rng: random.Random, n_buildings: int, phones: list[str],
            ids: list[str]) -> list[CustomerFilter]:
    out = []
    for _ in range(60):
        b = str(rng.randrange(n_buildings) + 1) + "号楼"
        out += [
            CustomerFilter(q=rng.choice(SURNAMES)),
            CustomerFilter(q=rng.choice(SURNAMES) + rng.choice(GIVEN)),
            CustomerFilter(building=b),
            CustomerFilter(building=b, unit=f"{rng.randrange(100) + 1:02d}0{rng.randrange(9) + 1}"),
            CustomerFilter(phone=rng.choice(phones)),
            CustomerFilter(id_number=rng.choice(ids)),
            CustomerFilter(tag=rng.choice(["elderly_owner", "multi_unit_owner", "new_resident"])),
            CustomerFilter(field="pets", value=str(rng.randrange(4))),
            CustomerFilter(q=rng.choice(SURNAMES), building=b, tag="elderly_owner"),
            CustomerFilter(q=rng.choice(SURNAMES), field="pets", value="2", relation="owner"),
            CustomerFilter(),
        ]
    return out


def import_rows(n: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("customers")
    sheet.append([h for _, h, _ in importer.COLUMNS])
    rng = random.Random(7)
    for i in range(n):
        b, u = i // 500 + 1, i % 500 + 1
        sheet.append([f"I{b}栋", f"{u:04d}", 1, 90.5, f"N{i + 1:06d}", "person",
                      rng.choice(SURNAMES) + rng.choice(GIVEN), "owner", "ric",
                      id_number(rng), f"139{i:08d}", "", "phone", "", "", "2021-03-01", "",
                      f"沪A{i:05d}" if i % 4 == 0 else "", ""])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    rng = random.Random(42)
    folder = tempfile.mkdtemp(prefix="records-bench-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
                      "INSTANCE_PATH": folder, "SCHEDULER_ENABLED": False, "TESTING": True})
    figures: dict[str, float] = {}
    with app.app_context(), acting_as(Actor(None, "bench")):
        upgrade(revision="c4e1d2a9b7f3")  # only what records needs (base + customer records)
        started = time.perf_counter()
        with unit_of_work():
            project_id, phones, ids = seed(args.customers, rng)
        figures["seed_s"] = time.perf_counter() - started
        # Planner statistics, as a production database keeps them (PostgreSQL autovacuum;
        # on SQLite run ANALYZE / PRAGMA optimize after large imports).
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        db.session.close()
        db.engine.dispose()  # new connections load the statistics
        n_buildings = max(args.customers // 1000, 1)
        timings = []
        for flt in queries(rng, n_buildings, phones, ids):
            t0 = time.perf_counter()
            page = search(project_id, flt, page=1, per_page=20)
            for c in page.items:  # what the list page shows: masked phone
                protect.masked(c, "phone")
            timings.append((time.perf_counter() - t0) * 1000)
            db.session.rollback()
        timings.sort()
        figures["search_queries"] = len(timings)
        figures["search_p50_ms"] = statistics.median(timings)
        figures["search_p95_ms"] = timings[int(len(timings) * 0.95) - 1]
        figures["search_max_ms"] = timings[-1]
        content = import_rows(args.rows)
        with unit_of_work():
            from_project = projects.create_project("IMPORT", "Import estate")
            import_project = from_project.id
        t0 = time.perf_counter()
        with unit_of_work():
            result = importer.import_workbook(import_project, content)
        figures["import_rows"] = args.rows
        figures["import_s"] = time.perf_counter() - t0
        assert result.imported and result.customers_created == args.rows, result.errors[:5]
    print(f"customers: {args.customers:,} (seeded in {figures['seed_s']:.1f} s)")
    print(f"search: {figures['search_queries']} queries, p50 {figures['search_p50_ms']:.1f} ms, "
          f"p95 {figures['search_p95_ms']:.1f} ms, max {figures['search_max_ms']:.1f} ms "
          "(target p95 <= 200 ms)")
    print(f"import: {args.rows:,} rows in {figures['import_s']:.1f} s (target < 60 s)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
