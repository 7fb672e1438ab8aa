"""How task data refers to an upload: the string ``"upload:<id>"``, never the file itself.

A form field for one file is ``{"type": "string", "x-upload": {...}}`` and holds one reference;
a field for several is an array of such strings. Schemas can check the shape with
:data:`UPLOAD_REF_PATTERN` (``"pattern": "^upload:[1-9][0-9]*$"``).
"""

from __future__ import annotations

import re

UPLOAD_REF_PREFIX = "upload:"
UPLOAD_REF_PATTERN = r"^upload:[1-9][0-9]*$"
_REF = re.compile(UPLOAD_REF_PATTERN)


def upload_ref(upload_id: int) -> str:
    """The reference stored in task data for upload ``upload_id``."""
    return f"{UPLOAD_REF_PREFIX}{upload_id}"


def parse_upload_ref(value: object) -> int | None:
    """The upload id in ``value`` (``"upload:12"`` → 12), or ``None`` if it is no reference."""
    if isinstance(value, str) and _REF.match(value):
        return int(value[len(UPLOAD_REF_PREFIX):])
    return None
