"""Excel import of units and customers: validate every row first, then all or (by choice) the
valid rows only. Errors come back as a copy of the workbook with each bad cell filled and
commented, plus an ``errors`` sheet (row, column, reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from sqlalchemy import select

from app.audit.recorder import record_audit
from app.extensions import db
from app.projects.models import Building, Unit
from app.records import fields as cf
from app.records import protect, tags
from app.records import validation as v
from app.records.models import RELATIONS, Customer, CustomFieldValue, Occupancy, Vehicle
from app.records.operations import clean_customer

SHEET = "customers"
#: (code, header, required) — headers carry the code in brackets so either language reads.
COLUMNS: list[tuple[str, str, bool]] = [
    ("building", "楼栋 Building [building]", True),
    ("unit", "房号 Unit [unit]", True),
    ("floor", "楼层 Floor [floor]", False),
    ("area_m2", "面积 Area m² [area_m2]", False),
    ("number", "客户编号 Customer no. [number]", False),
    ("kind", "类型 person/company [kind]", False),
    ("name", "姓名/名称 Name [name]", False),
    ("relation", "关系 owner/tenant/family [relation]", False),
    ("id_type", "证件类型 ric/passport/uscc/other [id_type]", False),
    ("id_number", "证件号码 ID number [id_number]", False),
    ("phone", "手机 Mobile [phone]", False),
    ("email", "邮箱 E-mail [email]", False),
    ("preferred_channel", "联系方式 phone/sms/wechat/email/app [preferred_channel]", False),
    ("emergency_name", "紧急联系人 Emergency contact [emergency_name]", False),
    ("emergency_phone", "紧急联系电话 Emergency phone [emergency_phone]", False),
    ("move_in", "入住日期 Move-in YYYY-MM-DD [move_in]", False),
    ("move_out", "迁出日期 Move-out YYYY-MM-DD [move_out]", False),
    ("plate", "车牌 Plate [plate]", False),
    ("parking_space", "车位 Parking space [parking_space]", False),
]
BAD = PatternFill("solid", fgColor="FFC7CE")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class ImportResult:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    imported: bool = False
    customers_created: int = 0
    links_created: int = 0
    units_created: int = 0
    skipped_rows: list[int] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    error_workbook: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported,
                "customers_created": self.customers_created,
                "links_created": self.links_created, "units_created": self.units_created,
                "skipped_rows": self.skipped_rows, "duplicates": self.duplicates,
                "errors": [e.__dict__ for e in self.errors]}


def template(project_id: int) -> bytes:
    """The import template: headers (custom fields of the project included) and one example."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    headers = [h for _, h, _ in COLUMNS] + [
        f"{f.label} [cf:{f.code}]" for f in cf.project_fields(project_id)]
    sheet.append(headers)
    sheet.append(["1号楼", "101", 1, 89.5, "", "person", "张三", "owner", "ric",
                  "11010519491231002X", "13812345678", "", "phone", "李四", "13912345678",
                  "2024-05-01", "", "沪A12345", "B2-018"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _header_codes(row: tuple[Any, ...]) -> list[str | None]:
    codes: list[str | None] = []
    for cell in row:
        text = _text(cell)
        codes.append(text[text.rindex("[") + 1:-1] if text.endswith("]") and "[" in text
                     else text or None)
    return codes


@dataclass
class _Context:
    project_id: int
    units: dict[tuple[str, str], int]
    buildings: dict[str, int]
    numbers: dict[str, tuple[int, str]]  # number → (customer id, name key)
    by_id: dict[str, str]  # id blind index → number
    by_name_phone: dict[tuple[str, str], str]
    fields: list[Any]


def _load_context(project_id: int) -> _Context:
    rows = db.session.execute(select(Building.name, Unit.number, Unit.id, Building.id).join(
        Unit, Unit.building_id == Building.id, isouter=True).where(
        Building.project_id == project_id)).all()
    ctx = _Context(project_id, {}, {}, {}, {}, {}, cf.project_fields(project_id))
    for b_name, u_number, u_id, b_id in rows:
        ctx.buildings[b_name] = b_id
        if u_id is not None:
            ctx.units[(b_name, u_number)] = u_id
    for cid, number, name_key, id_bidx, phone_bidx, status in db.session.execute(select(
            Customer.id, Customer.number, Customer.name_key, Customer.id_number_bidx,
            Customer.phone_bidx, Customer.status).where(Customer.project_id == project_id)):
        ctx.numbers[number] = (cid, name_key)
        if status == "active":
            if id_bidx:
                ctx.by_id[id_bidx] = number
            if phone_bidx:
                ctx.by_name_phone[(name_key, phone_bidx)] = number
    return ctx


def _number(errors: list[RowError], row: int, column: str, raw: Any, kind: type) -> Any:
    text = _text(raw)
    if not text:
        return None
    try:
        return kind(text) if kind is not Decimal else Decimal(text)
    except (ValueError, InvalidOperation):
        errors.append(RowError(row, column, "not a number"))
        return None


def _day(errors: list[RowError], row: int, column: str, raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(_text(raw))
    except ValueError:
        errors.append(RowError(row, column, "use the form YYYY-MM-DD"))
        return None


def _validate_row(ctx: _Context, row_no: int, data: dict[str, Any],
                  errors: list[RowError]) -> dict[str, Any]:
    """Check one row; appends its errors and returns the clean values."""
    start = len(errors)
    out: dict[str, Any] = {"row": row_no}
    out["building"] = _text(data.get("building"))
    out["unit"] = _text(data.get("unit"))
    for key in ("building", "unit"):
        if not out[key]:
            errors.append(RowError(row_no, key, "required"))
    out["floor"] = _number(errors, row_no, "floor", data.get("floor"), int)
    out["area_m2"] = _number(errors, row_no, "area_m2", data.get("area_m2"), Decimal)
    name = _text(data.get("name"))
    out["has_customer"] = bool(name)
    if not name:
        if any(_text(data.get(k)) for k in ("number", "id_number", "phone", "plate")):
            errors.append(RowError(row_no, "name", "required when customer data is given"))
        return out
    customer_data: dict[str, Any] = {k: _text(data.get(k)) for k in (
        "number", "kind", "name", "id_type", "id_number", "phone", "email",
        "preferred_channel", "emergency_name", "emergency_phone")}
    customer_data["custom"] = {f.code: data.get(f"cf:{f.code}") for f in ctx.fields}
    clean, field_errors = clean_customer(customer_data, ctx.fields)
    for key, reason in field_errors.items():
        errors.append(RowError(row_no, key.replace("custom.", "cf:"), reason))
    out["customer"] = clean
    out["relation"] = _text(data.get("relation")) or "owner"
    if out["relation"] not in RELATIONS:
        errors.append(RowError(row_no, "relation", f"one of {', '.join(RELATIONS)}"))
    out["move_in"] = _day(errors, row_no, "move_in", data.get("move_in"))
    out["move_out"] = _day(errors, row_no, "move_out", data.get("move_out"))
    if out["move_in"] and out["move_out"] and out["move_out"] < out["move_in"]:
        errors.append(RowError(row_no, "move_out", "move-out is before move-in"))
    plate = _text(data.get("plate"))
    out["plate"] = None
    if plate:
        try:
            out["plate"] = v.normalise_plate(plate)
        except v.Invalid as exc:
            errors.append(RowError(row_no, "plate", str(exc)))
    out["parking_space"] = _text(data.get("parking_space"))[:32] or None
    number = clean.get("number")
    if number and number in ctx.numbers and ctx.numbers[number][1] != v.normalise_name(name):
        errors.append(RowError(row_no, "number", f"customer {number} exists with another "
                                                   "name"))
    out["ok"] = len(errors) == start
    return out


def _mark(content: bytes, sheet_name: str, codes: list[str | None],
          errors: list[RowError]) -> bytes:
    workbook = load_workbook(BytesIO(content))
    sheet = workbook[sheet_name]
    positions = {code: i + 1 for i, code in enumerate(codes) if code}
    for error in errors:
        cell = sheet.cell(row=error.row, column=positions.get(error.column, 1))
        cell.fill = BAD
        note = f"{error.column}: {error.reason}"
        cell.comment = Comment(f"{cell.comment.text}\n{note}" if cell.comment else note,
                               "EstateFlow")
    report = workbook.create_sheet("errors", 0)
    report.append(["row", "column", "reason"])
    for error in errors:
        report.append([error.row, error.column, error.reason])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def import_workbook(project_id: int, content: bytes, import_valid: bool = False) -> ImportResult:
    """Validate every row; import all (or, with ``import_valid``, the valid rows only)."""
    result = ImportResult()
    try:
        workbook = load_workbook(BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        result.errors.append(RowError(1, "file", f"not an Excel workbook ({type(exc).__name__})"))
        return result
    sheet = workbook[SHEET] if SHEET in workbook.sheetnames else workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    codes = _header_codes(header or ())
    ctx = _load_context(project_id)
    for code, _, required in COLUMNS:
        if required and code not in codes:
            result.errors.append(RowError(1, code, "column missing from the header row"))
    if result.errors:
        return result
    checked: list[dict[str, Any]] = []
    for index, values in enumerate(rows, start=2):
        if not any(x not in (None, "") for x in values):
            continue
        data = {code: values[i] for i, code in enumerate(codes) if code and i < len(values)}
        checked.append(_validate_row(ctx, index, data, result.errors))
    workbook.close()
    result.rows = len(checked)
    if result.errors:
        result.error_workbook = _mark(content, sheet.title, codes, result.errors)
        result.skipped_rows = sorted({e.row for e in result.errors})
        if not import_valid:
            return result
    _apply(ctx, [r for r in checked if r.get("ok", True) and r["row"] not in set(
        result.skipped_rows)], result)
    result.imported = True
    record_audit("records.import", record_type="project", record_id=project_id,
                 project_id=project_id, after={
                     "rows": result.rows, "customers_created": result.customers_created,
                     "links_created": result.links_created,
                     "units_created": result.units_created,
                     "skipped_rows": result.skipped_rows})
    tags.schedule_recompute(project_id)
    return result


def _create_units(ctx: _Context, rows: list[dict[str, Any]], result: ImportResult) -> None:
    """Create every missing building and unit in two flushes (not one per row)."""
    missing: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["building"], row["unit"])
        if key not in ctx.units and key not in missing:
            missing[key] = row
    new_buildings = {b for b, _ in missing if b not in ctx.buildings}
    for name in sorted(new_buildings):
        db.session.add(Building(project_id=ctx.project_id, name=name))
    if new_buildings:
        db.session.flush()
        for b_name, b_id in db.session.execute(select(Building.name, Building.id).where(
                Building.project_id == ctx.project_id, Building.name.in_(new_buildings))):
            ctx.buildings[b_name] = b_id
    units = {}
    for (b_name, number), row in missing.items():
        units[(b_name, number)] = Unit(project_id=ctx.project_id,
                                       building_id=ctx.buildings[b_name], number=number,
                                       floor=row["floor"], area_m2=row["area_m2"])
    db.session.add_all(units.values())
    db.session.flush()
    for key, unit in units.items():
        ctx.units[key] = unit.id
    result.units_created += len(units)


def _apply(ctx: _Context, rows: list[dict[str, Any]], result: ImportResult) -> None:
    next_n = len(ctx.numbers) + 1
    created: dict[str, Customer] = {}
    _create_units(ctx, rows, result)
    for i, row in enumerate(rows):
        unit_id = ctx.units[(row["building"], row["unit"])]
        if not row["has_customer"]:
            continue
        clean = row["customer"]
        number = clean.get("number")
        customer: Customer | None = created.get(number) if number else None
        customer_id = ctx.numbers[number][0] if number in ctx.numbers else None
        if customer is None and customer_id is None:
            if not number:
                while f"C{next_n:06d}" in ctx.numbers:
                    next_n += 1
                number = f"C{next_n:06d}"
            customer = _new_customer(ctx, clean, number, row["row"], result)
            created[number] = customer
        occupancy = Occupancy(project_id=ctx.project_id, unit_id=unit_id,
                              relation=row["relation"], move_in=row["move_in"],
                              move_out=row["move_out"])
        if customer is not None:
            occupancy.customer = customer
        else:
            occupancy.customer_id = customer_id  # type: ignore[assignment]
        db.session.add(occupancy)
        result.links_created += 1
        if row["plate"]:
            vehicle = Vehicle(project_id=ctx.project_id, plate=row["plate"],
                              parking_space=row["parking_space"])
            if customer is not None:
                vehicle.customer = customer
            else:
                vehicle.customer_id = customer_id  # type: ignore[assignment]
            db.session.add(vehicle)
        if i % 2000 == 1999:
            db.session.flush()
    db.session.flush()


def _new_customer(ctx: _Context, clean: dict[str, Any], number: str, row_no: int,
                  result: ImportResult) -> Customer:
    customer = Customer(project_id=ctx.project_id, number=number, status="active",
                        kind=clean.get("kind") or "person", name=clean["name"],
                        name_key=v.normalise_name(clean["name"]), email=clean.get("email"),
                        preferred_channel=clean.get("preferred_channel") or "phone",
                        emergency_name=clean.get("emergency_name"))
    protect.set_id_number(customer, clean.get("id_type"), clean.get("id_number"))
    protect.set_phone(customer, clean.get("phone"))
    protect.set_emergency_phone(customer, clean.get("emergency_phone"))
    matches = set()
    if customer.id_number_bidx and customer.id_number_bidx in ctx.by_id:
        matches.add(ctx.by_id[customer.id_number_bidx])
    if customer.phone_bidx and (customer.name_key, customer.phone_bidx) in ctx.by_name_phone:
        matches.add(ctx.by_name_phone[(customer.name_key, customer.phone_bidx)])
    if matches:
        result.duplicates.append({"row": row_no, "number": number,
                                  "possible_duplicates": sorted(matches)})
    if customer.id_number_bidx:
        ctx.by_id.setdefault(customer.id_number_bidx, number)
    if customer.phone_bidx:
        ctx.by_name_phone.setdefault((customer.name_key, customer.phone_bidx), number)
    ctx.numbers[number] = (0, customer.name_key)
    db.session.add(customer)
    for code, value in (clean.get("custom") or {}).items():
        if value is not None:
            field_id = next(f.id for f in ctx.fields if f.code == code)
            db.session.add(CustomFieldValue(project_id=ctx.project_id, customer=customer,
                                            field_id=field_id, value=value))
    result.customers_created += 1
    return customer
