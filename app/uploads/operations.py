"""Storing, opening and authorising uploads.

Files live under ``<instance>/uploads/<2 chars>/<random name>``; the name a user gave is only
displayed. The type is decided from the file's first bytes, never from its extension or the
``Content-Type`` the browser sent. Limits come from the config: ``UPLOAD_MAX_BYTES`` (10 MB)
and ``UPLOAD_ALLOWED_TYPES`` (JPEG, PNG, WebP, HEIC/HEIF and PDF).

A file is written before the transaction commits; if the transaction then rolls back the file
stays behind without a row (harmless, and a sweep can remove names no row knows).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.accounts.roles import STAFF_ROLES
from app.errors import FieldErrors, NotFound
from app.extensions import db
from app.projects.models import Project
from app.scoping import in_scope
from app.uploads.models import Upload

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_ALLOWED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif",
                         "application/pdf")
_CHUNK = 64 * 1024
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_BRANDS = {b"mif1", b"msf1"}

AccessCheck = Callable[[Upload, Any], bool]
_access_checks: list[AccessCheck] = []


def sniff_content_type(head: bytes) -> str | None:
    """The content type that the first bytes of a file show, or ``None`` if not recognised."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        if head[8:12] in _HEIC_BRANDS:
            return "image/heic"
        if head[8:12] in _HEIF_BRANDS:
            return "image/heif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def upload_root() -> Path:
    return Path(current_app.instance_path) / "uploads"


def _path_of(stored_name: str) -> Path:
    # Stored names come from secrets.token_urlsafe only; refuse anything else outright.
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", stored_name):
        raise ValueError("invalid stored upload name")
    return upload_root() / stored_name[:2] / stored_name


def _display_name(filename: str | None) -> str:
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-255:] or "file"


def _limits() -> tuple[int, frozenset[str]]:
    config = current_app.config
    max_bytes = int(config.get("UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
    allowed = frozenset(config.get("UPLOAD_ALLOWED_TYPES", DEFAULT_ALLOWED_TYPES))
    return max_bytes, allowed


def store_upload(file_storage: FileStorage, project_id: int, user: Any,
                 *, field: str = "file") -> Upload:
    """Save ``file_storage`` for ``project_id`` after checking size and real type; flushes."""
    if not in_scope(project_id) or db.session.scalar(
        select(Project.id).where(Project.id == project_id)
    ) is None:
        raise NotFound("project not found", {"project_id": "no such project"})
    max_bytes, allowed = _limits()
    root = upload_root()
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    handle, temp_name = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := file_storage.stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FieldErrors({field: f"the file is larger than "
                                              f"{max_bytes / 1024 / 1024:g} MB"})
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise FieldErrors({field: "the file is empty"})
        content_type = sniff_content_type(head)
        if content_type is None or content_type not in allowed:
            raise FieldErrors({field: "this file type is not allowed (allowed: "
                                      + ", ".join(sorted(allowed)) + ")"})
        stored_name = secrets.token_urlsafe(24)
        final = _path_of(stored_name)
        final.parent.mkdir(exist_ok=True)
        os.replace(temp_name, final)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    upload = Upload(project_id=project_id, stored_name=stored_name,
                    original_name=_display_name(file_storage.filename),
                    content_type=content_type, size=size, sha256=digest.hexdigest(),
                    uploaded_by_id=getattr(user, "id", None))
    db.session.add(upload)
    db.session.flush()
    return upload


def open_upload(upload: Upload) -> IO[bytes]:
    """The stored file, opened for reading (the caller closes it)."""
    return _path_of(upload.stored_name).open("rb")


def attach_upload(upload: Upload, instance_id: int | None, task_id: str | None) -> None:
    """Record which process instance and task an upload belongs to; flushes."""
    upload.instance_id = instance_id
    upload.task_id = task_id
    db.session.flush()


def register_access_check(check: AccessCheck) -> AccessCheck:
    """Add a rule ``check(upload, user) -> bool`` that may let a user see an upload.

    The engine registers "users who may see the task" here; usable as a decorator.
    """
    if check not in _access_checks:
        _access_checks.append(check)
    return check


def may_view(upload: Upload, user: Any) -> bool:
    """The uploader, staff granted the upload's project, and whoever a registered check allows."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if upload.uploaded_by_id is not None and upload.uploaded_by_id == user.id:
        return True
    if user.roles & STAFF_ROLES and (
        user.sees_all_projects or upload.project_id in user.project_ids
    ):
        return True
    return any(check(upload, user) for check in list(_access_checks))


def visible_upload(upload_id: int, user: Any) -> Upload | None:
    """The upload if ``user`` may see it, else ``None`` (answered as 404)."""
    upload = db.session.scalar(
        select(Upload).where(Upload.id == upload_id).execution_options(all_projects=True)
    )
    if upload is None or not may_view(upload, user):
        return None
    return upload
