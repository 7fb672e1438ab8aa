"""Upload a file (JSON API) and fetch it back (a plain URL, usable in <img src>)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.api.openapi import doc
from app.errors import FieldErrors
from app.uploads import operations as ops
from app.uploads.models import Upload
from app.uploads.refs import upload_ref

bp = Blueprint("uploads", __name__)

UPLOAD = {"type": "object", "properties": {
    "id": {"type": "integer"}, "ref": {"type": "string", "description": "upload:<id>"},
    "url": {"type": "string"}, "content_type": {"type": "string"},
    "size": {"type": "integer"}, "name": {"type": "string"}}}
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "application/pdf"})


def upload_json(upload: Upload) -> dict[str, Any]:
    return {"id": upload.id, "ref": upload_ref(upload.id),
            "url": url_for("uploads.serve", upload_id=upload.id),
            "content_type": upload.content_type, "size": upload.size,
            "name": upload.original_name}


def _project_id() -> int:
    raw = request.form.get("project_id") or request.args.get("project_id")
    if not raw:
        raise FieldErrors({"project_id": "required"})
    try:
        return int(raw)
    except ValueError as exc:
        raise FieldErrors({"project_id": "must be a whole number"}) from exc


@bp.post("/api/v1/uploads")
@doc("Upload a file (multipart/form-data: field `file`, and `project_id` as a field or in "
     "the query). The type is read from the content: JPEG, PNG, WebP, HEIC or PDF by default. "
     "Refer to it in task data as `upload:<id>`.",
     tags=("uploads",), response=UPLOAD, status=201,
     query={"project_id": {"type": "integer"}})
def create_upload() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    project_id = _project_id()
    file = request.files.get("file")
    if file is None or not file.filename:
        raise FieldErrors({"file": "required"})
    upload = ops.store_upload(file, project_id, current_user)
    return jsonify(upload_json(upload)), 201


@bp.get("/uploads/<int:upload_id>")
def serve(upload_id: int) -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    upload = ops.visible_upload(upload_id, current_user)
    if upload is None:
        abort(404)
    download = request.args.get("download") == "1" or upload.content_type not in INLINE_TYPES
    response = send_file(ops.open_upload(upload), mimetype=upload.content_type,
                         as_attachment=download, download_name=upload.original_name,
                         etag=upload.sha256, conditional=True, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.public = False
    return response
