"""Fee items, discount rules, project settings and meter readings (entered or from Excel)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app.errors import FieldErrors, NotFound
from app.extensions import db
from app.projects.models import Building, Unit

from .models import CYCLES, FEE_KINDS, BillingSettings, DiscountRule, FeeItem, MeterReading
from .money import hundredths, period_start
from .sheets import sheet_rows

READING_COLUMNS = ("building", "unit", "fee_code", "period", "previous", "current")


def get_settings(project_id: int) -> BillingSettings:
    """The project's billing settings (created with defaults on first use)."""
    row = db.session.scalar(select(BillingSettings).where(BillingSettings.project_id == project_id))
    if row is None:
        row = BillingSettings(project_id=project_id, late_fee_per_10k_daily=0,
                              late_fee_grace_days=0)
        db.session.add(row)
        db.session.flush()
    return row


def update_settings(project_id: int, data: dict[str, Any]) -> BillingSettings:
    """Set the late-fee rate (万分之 per day) and grace days of a project."""
    row = get_settings(project_id)
    for name in ("late_fee_per_10k_daily", "late_fee_grace_days"):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise FieldErrors({name: "a whole number from 0 to 100"})
            setattr(row, name, value)
    db.session.flush()
    return row


def _check_fee(data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in ("code", "name"):
        if name in data or not partial:
            text = str(data.get(name) or "").strip()
            if not text:
                errors[name] = "required"
            clean[name] = text
    if "kind" in data or not partial:
        if data.get("kind") not in FEE_KINDS:
            errors["kind"] = f"one of {', '.join(FEE_KINDS)}"
        clean["kind"] = data.get("kind")
    if "cycle" in data or not partial:
        cycle = data.get("cycle", "monthly")
        if cycle not in CYCLES:
            errors["cycle"] = f"one of {', '.join(CYCLES)}"
        clean["cycle"] = cycle
    for name, low, high in (("unit_price_fen", 0, 10**9), ("due_days", 0, 366)):
        if name in data or (not partial and name == "unit_price_fen"):
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = f"a whole number from {low} to {high}"
            clean[name] = value
    if "unit_ids" in data:
        ids = data["unit_ids"]
        if ids is not None and (not isinstance(ids, list)
                                or not all(isinstance(i, int) for i in ids)):
            errors["unit_ids"] = "a list of unit ids or null"
        clean["unit_ids"] = ids
    if "active" in data:
        clean["active"] = bool(data["active"])
    if errors:
        raise FieldErrors(errors)
    return clean


def create_fee_item(project_id: int, data: dict[str, Any]) -> FeeItem:
    """Add a fee item (property fee per m², fixed, parking, metered) to a project."""
    clean = _check_fee(data)
    exists = db.session.scalar(select(FeeItem.id).where(
        FeeItem.project_id == project_id, FeeItem.code == clean["code"]))
    if exists:
        raise FieldErrors({"code": "already used in this project"})
    item = FeeItem(project_id=project_id, **clean)
    db.session.add(item)
    db.session.flush()
    return item


def update_fee_item(item: FeeItem, data: dict[str, Any]) -> FeeItem:
    """Change a fee item; bills already issued keep their amounts."""
    for name, value in _check_fee(data, partial=True).items():
        setattr(item, name, value)
    db.session.flush()
    return item


def get_fee_item(item_id: int) -> FeeItem:
    item = db.session.get(FeeItem, item_id)
    if item is None:
        raise NotFound(f"no fee item {item_id}")
    return item


def add_discount_rule(project_id: int, data: dict[str, Any]) -> DiscountRule:
    """A rule like "bills of 12 months or more: 5 % off" (percent_bp=500)."""
    errors: dict[str, str] = {}
    months, bp = data.get("min_months"), data.get("percent_bp")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 36:
        errors["min_months"] = "a whole number from 1 to 36"
    if isinstance(bp, bool) or not isinstance(bp, int) or not 1 <= bp <= 10_000:
        errors["percent_bp"] = "basis points from 1 to 10000 (500 = 5 %)"
    fee_item_id = data.get("fee_item_id")
    if fee_item_id is not None:
        item = db.session.get(FeeItem, fee_item_id)
        if item is None or item.project_id != project_id:
            errors["fee_item_id"] = "no such fee item in this project"
    if errors:
        raise FieldErrors(errors)
    rule = DiscountRule(project_id=project_id, fee_item_id=fee_item_id,
                        name=str(data.get("name") or f"{months}+ months"), min_months=months,
                        percent_bp=bp, active=True)
    db.session.add(rule)
    db.session.flush()
    return rule


def discount_for(project_id: int, fee_item_id: int, months: int) -> int:
    """Basis points off for a bill of ``months`` months (the best matching rule wins)."""
    rules = db.session.scalars(select(DiscountRule).where(
        DiscountRule.project_id == project_id, DiscountRule.active.is_(True),
        DiscountRule.min_months <= months))
    return max((r.percent_bp for r in rules
                if r.fee_item_id in (None, fee_item_id)), default=0)


# --- readings --------------------------------------------------------------------------------


def _decimal(value: Any, field: str) -> Decimal:
    try:
        dec = Decimal(str(value).strip())
    except (InvalidOperation, AttributeError) as exc:
        raise FieldErrors({field: f"not a number: {value!r}"}) from exc
    if dec < 0:
        raise FieldErrors({field: "must not be negative"})
    return dec


def _period(value: Any, item: FeeItem) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day = value
    else:
        text = str(value or "").strip()
        try:
            day = date.fromisoformat(text if len(text) > 7 else f"{text}-01")
        except ValueError as exc:
            raise FieldErrors({"period": f"a month like 2026-11, not {value!r}"}) from exc
    return period_start(day, CYCLES[item.cycle])


def record_reading(unit: Unit, item: FeeItem, period: Any, previous: Any, current: Any,
                   source: str = "manual") -> MeterReading:
    """Enter (or correct, while unbilled) a meter reading for a unit and period."""
    if item.kind != "metered":
        raise FieldErrors({"fee_item_id": "readings belong to metered fee items"})
    if item.project_id != unit.project_id:
        raise FieldErrors({"unit_id": "the unit is in another project"})
    start = _period(period, item)
    prev, cur = _decimal(previous, "previous"), _decimal(current, "current")
    if cur < prev:
        raise FieldErrors({"current": "lower than the previous reading"})
    row = db.session.scalar(select(MeterReading).where(
        MeterReading.unit_id == unit.id, MeterReading.fee_item_id == item.id,
        MeterReading.period_start == start))
    if row is None:
        row = MeterReading(project_id=unit.project_id, unit_id=unit.id, fee_item_id=item.id,
                           period_start=start)
        db.session.add(row)
    row.previous, row.current = prev, cur
    row.quantity_c = hundredths(cur - prev)
    row.source = source
    db.session.flush()
    return row


def import_readings(project_id: int, content: bytes) -> dict[str, Any]:
    """Readings from an Excel sheet with columns building, unit, fee_code, period, previous,
    current. All rows are checked first; any error → nothing is written (422 naming rows)."""
    rows = sheet_rows(content, READING_COLUMNS)
    units = {(b, n): u for u, b, n in db.session.execute(
        select(Unit, Building.name, Unit.number).join(Building)
        .where(Unit.project_id == project_id)).tuples()}
    items = {i.code: i for i in db.session.scalars(
        select(FeeItem).where(FeeItem.project_id == project_id))}
    errors: dict[str, str] = {}
    valid: list[tuple[Unit, FeeItem, Any, Any, Any]] = []
    for number, values in rows:
        unit = units.get((str(values["building"] or "").strip(), str(values["unit"] or "").strip()))
        item = items.get(str(values["fee_code"] or "").strip())
        if unit is None:
            errors[f"row {number}"] = "unknown building/unit"
            continue
        if item is None or item.kind != "metered":
            errors[f"row {number}"] = "fee_code is not a metered fee item of this project"
            continue
        valid.append((unit, item, values["period"], values["previous"], values["current"]))
    if errors:
        raise FieldErrors(errors, "the readings were not imported")
    count = 0
    try:
        with db.session.begin_nested():
            for unit, item, period, previous, current in valid:
                record_reading(unit, item, period, previous, current, source="import")
                count += 1
    except FieldErrors as exc:
        raise FieldErrors({f"row {count + 2}": "; ".join(exc.fields.values())},
                          "the readings were not imported") from exc
    return {"imported": count}
