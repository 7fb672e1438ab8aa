"""Reading the Excel sheets finance staff upload (meter readings, bank statements)."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import Any

from openpyxl import load_workbook

from app.errors import FieldErrors


def sheet_rows(content: bytes, required: Sequence[str], optional: Sequence[str] = ()
               ) -> list[tuple[int, dict[str, Any]]]:
    """(row number, {column: value}) of every non-blank row under the header of the first
    sheet; the required columns must all be there, optional ones are included when present.
    A file that is not a workbook, an empty sheet or a missing column: FieldErrors("file")."""
    try:
        sheet = load_workbook(BytesIO(content), read_only=True, data_only=True).active
    except Exception as exc:
        raise FieldErrors({"file": "not an Excel (.xlsx) file"}) from exc
    rows = list(sheet.iter_rows(values_only=True)) if sheet is not None else []
    if not rows:
        raise FieldErrors({"file": "the sheet is empty"})
    header = [str(c or "").strip().lower() for c in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise FieldErrors({"file": f"missing column(s): {', '.join(missing)}"})
    pos = {c: header.index(c) for c in (*required, *optional) if c in header}
    return [(number, {c: (raw[i] if i < len(raw) else None) for c, i in pos.items()})
            for number, raw in enumerate(rows[1:], start=2)
            if not all(c in (None, "") for c in raw)]
