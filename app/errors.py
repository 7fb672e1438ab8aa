"""Errors that operations raise and the web and API layers turn into answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base for errors a user can act on. ``status`` is the HTTP status that fits."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class FieldErrors(DomainError):
    """Submitted data failed validation; ``fields`` maps field name to reason."""

    status = 422
    code = "validation_failed"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        text = message or "; ".join(f"{k}: {v}" for k, v in fields.items())
        super().__init__(text, fields)


class Conflict(DomainError):
    status = 409
    code = "conflict"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, {field: message} if field else None)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The signed-in user may not do this to this record."""

    status = 403
    code = "forbidden"
