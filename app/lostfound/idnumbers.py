"""ID numbers of people who collect an item: checked, then kept masked only."""

from __future__ import annotations

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from app.errors import FieldErrors

#: What a masked resident ID number looks like (the hand-over form's pattern says the same).
MASK_PATTERN = r"^[0-9]{3}\*{11}[0-9]{3}[0-9X]$"


def mask_id_number(raw: str, field: str = "receiver_id_number") -> str:
    """A valid 18-digit resident ID number (居民身份证号) as 310***********1234.

    Raises FieldErrors when the number is malformed or its checksum or birth date is wrong;
    the full number is never returned, stored or logged.
    """
    try:
        number = ric.validate(raw or "")
    except ValidationError as exc:
        raise FieldErrors({field: "not a valid resident ID number"}) from exc
    if len(number) != 18:  # the old 15-digit numbers carry no checksum
        raise FieldErrors({field: "an 18-digit resident ID number is required"})
    return number[:3] + "*" * 11 + number[-4:]
