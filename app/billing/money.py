"""Integer-fen arithmetic and billing periods: the explicit rounding rules.

* A charge is ``unit price (fen) × quantity (hundredths) / 100``, rounded half up to the fen,
  once per bill (never per month inside a bill).
* A discount is ``gross × basis points / 10,000``, rounded half up; the bill is
  ``gross − discount``, so a bill's lines always add up to its amount.
* A late fee is ``outstanding × rate / 10,000`` per day, rounded down (never charge a fen more
  than the rate gives).
* A payment is allocated whole fen by whole fen to bills (oldest due first) and the rest kept
  as balance, so allocations + balance = payment exactly.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from app.clock import clock
from app.errors import FieldErrors

#: Bills, due dates and dunning days are counted in the company's local calendar.
LOCAL = ZoneInfo("Asia/Shanghai")


def local_today(now: datetime | None = None) -> date:
    """Today in Shanghai by the engine clock."""
    return (now or clock.now()).astimezone(LOCAL).date()


def half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative integers."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("half_up_div needs a non-negative numerator and a positive denominator")
    return (numerator * 2 + denominator) // (denominator * 2)


def charge_fen(unit_price_fen: int, quantity_c: int) -> int:
    """Price × quantity in hundredths, half up to the fen."""
    return half_up_div(unit_price_fen * quantity_c, 100)


def discount_fen(gross_fen: int, percent_bp: int) -> int:
    return half_up_div(gross_fen * percent_bp, 10_000)


def late_fee_fen(outstanding_fen: int, per_10k_daily: int, days: int) -> int:
    if outstanding_fen <= 0 or per_10k_daily <= 0 or days <= 0:
        return 0
    return outstanding_fen * per_10k_daily * days // 10_000


def hundredths(value: Decimal | int | float | str | None) -> int:
    """A quantity (area in m², a reading) as an integer count of hundredths, half up."""
    if value is None:
        return 0
    try:
        dec = Decimal(str(value))
    except InvalidOperation as exc:
        raise FieldErrors({"quantity": f"not a number: {value!r}"}) from exc
    return int((dec * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_yuan(value: object, field: str = "amount") -> int:
    """Yuan as typed by people or read from Excel (``"1,234.5"``, ``1234.50``) → fen.

    More than two decimals is an error, not a silent rounding.
    """
    if isinstance(value, bool) or value is None or value == "":
        raise FieldErrors({field: "required"})
    text = str(value).replace(",", "").replace("¥", "").replace("￥", "").strip()
    try:
        dec = Decimal(text)
    except InvalidOperation as exc:
        raise FieldErrors({field: f"not an amount: {value!r}"}) from exc
    if isinstance(value, float):
        dec = dec.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)  # Excel stores floats
    if dec != dec.quantize(Decimal("0.01")):
        raise FieldErrors({field: f"at most two decimals: {value!r}"})
    return int(dec * 100)


def yuan(fen: int) -> str:
    """``123450`` → ``1,234.50`` (no currency sign)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


# --- periods ---------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_start(day: date, cycle_months: int) -> date:
    """The start of the billing period containing ``day`` (months, quarters, years)."""
    month0 = (day.month - 1) // cycle_months * cycle_months
    return date(day.year, month0 + 1, 1)


def period_label(start: date, months: int) -> str:
    if months == 1:
        return f"{start:%Y-%m}"
    if months == 3:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if months == 12 and start.month == 1:
        return f"{start.year}"
    end = add_months(start, months - 1)
    return f"{start:%Y-%m}–{end:%Y-%m}"
