"""Uploading files and fetching them back (app.uploads)."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.accounts.operations import create_api_token
from app.api.openapi import build_spec
from app.extensions import db
from app.uploads import operations as ops
from app.uploads.models import Upload
from app.uploads.refs import parse_upload_ref, upload_ref

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"1 0 obj\n" * 10
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"


@pytest.fixture
def estate(create_project, create_user):
    home, other = create_project(), create_project()
    return {
        "project": home,
        "other": other,
        "cs": create_user("customer_service", projects=[home], username="cs1"),
        "tech": create_user("technician", projects=[home], username="tech1"),
        "owner": create_user("owner", projects=[home], username="owner1"),
        "stranger": create_user("supervisor", projects=[other], username="sup2"),
        "hq": create_user("hq", username="hq1"),
    }


def post_file(client, auth, project_id, content=JPEG, name="维修照片.jpg", headers=None):
    if headers is None:
        headers = {"X-CSRFToken": auth.csrf()}
    data = {"file": (BytesIO(content), name)}
    if project_id is not None:
        data["project_id"] = str(project_id)
    return client.post("/api/v1/uploads", data=data, headers=headers,
                       content_type="multipart/form-data")


def test_staff_uploads_a_photo(client, auth, estate, app):
    auth.login("cs1")
    response = post_file(client, auth, estate["project"].id)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == "image/jpeg"
    assert body["size"] == len(JPEG)
    assert body["name"] == "维修照片.jpg"
    assert body["url"] == f"/uploads/{body['id']}"
    assert body["ref"] == upload_ref(body["id"]) == f"upload:{body['id']}"

    upload = db.session.get(Upload, body["id"])
    assert upload.project_id == estate["project"].id
    assert upload.uploaded_by_id == estate["cs"].id
    assert upload.sha256 == hashlib.sha256(JPEG).hexdigest()
    # the stored name is random and nothing of the user's name reaches the disk
    assert upload.stored_name not in {"维修照片.jpg", "jpg"} and len(upload.stored_name) >= 32
    path = Path(app.instance_path) / "uploads" / upload.stored_name[:2] / upload.stored_name
    assert path.read_bytes() == JPEG
    with ops.open_upload(upload) as handle:
        assert handle.read() == JPEG


def test_two_uploads_get_different_names(client, auth, estate):
    auth.login("cs1")
    first = post_file(client, auth, estate["project"].id).get_json()["id"]
    second = post_file(client, auth, estate["project"].id).get_json()["id"]
    names = db.session.scalars(select(Upload.stored_name).where(Upload.id.in_([first, second])))
    assert len(set(names)) == 2


def test_upload_with_a_bearer_token(client, estate):
    _, token = create_api_token(estate["tech"], "phone")
    response = post_file(client, None, estate["project"].id, content=PNG, name="a.png",
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert response.get_json()["content_type"] == "image/png"


@pytest.mark.parametrize(("content", "kind"), [(PDF, "application/pdf"), (HEIC, "image/heic"),
                                               (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp")])
def test_allowed_types_are_recognised_by_content(client, auth, estate, content, kind):
    auth.login("cs1")
    response = post_file(client, auth, estate["project"].id, content=content, name="x.bin")
    assert response.status_code == 201
    assert response.get_json()["content_type"] == kind


def test_without_csrf_token_the_session_upload_is_refused(client, auth, estate):
    auth.login("cs1")
    response = post_file(client, auth, estate["project"].id, headers={})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_too_large_is_refused_naming_the_field(client, auth, estate, app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 100)
    auth.login("cs1")
    response = post_file(client, auth, estate["project"].id)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert "larger" in error["fields"]["file"]
    assert db.session.scalars(select(Upload)).all() == []
    leftovers = [p for p in (Path(app.instance_path) / "uploads").rglob("*") if p.is_file()
                 and p.name.startswith(".incoming")]
    assert leftovers == []


def test_a_text_file_named_jpg_is_refused(client, auth, estate):
    auth.login("cs1")
    response = post_file(client, auth, estate["project"].id,
                         content=b"<html><script>alert(1)</script></html>", name="photo.jpg")
    assert response.status_code == 422
    assert "not allowed" in response.get_json()["error"]["fields"]["file"]


def test_allowed_types_are_configurable(client, auth, estate, app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_ALLOWED_TYPES", ("image/png",))
    auth.login("cs1")
    assert post_file(client, auth, estate["project"].id).status_code == 422
    assert post_file(client, auth, estate["project"].id, content=PNG).status_code == 201


@pytest.mark.parametrize(("project", "field", "status"), [
    (None, "project_id", 422), ("abc", "project_id", 422), ("other", None, 404)])
def test_bad_project(client, auth, estate, project, field, status):
    auth.login("cs1")
    project_id = estate["other"].id if project == "other" else project
    response = post_file(client, auth, project_id)
    assert response.status_code == status
    if field:
        assert field in response.get_json()["error"]["fields"]


def test_missing_file(client, auth, estate):
    auth.login("cs1")
    response = client.post("/api/v1/uploads", data={"project_id": str(estate["project"].id)},
                           headers={"X-CSRFToken": auth.csrf()})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"file": "required"}


def test_anonymous_cannot_upload(client, estate):
    response = client.post("/api/v1/uploads", data={"project_id": str(estate["project"].id)},
                           headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


@pytest.fixture
def uploaded(client, auth, estate):
    auth.login("owner1")
    body = post_file(client, auth, estate["project"].id).get_json()
    auth.logout()
    return body


@pytest.mark.parametrize(("username", "status"), [
    ("owner1", 200),   # the uploader
    ("cs1", 200),      # staff granted the project
    ("tech1", 200),
    ("hq1", 200),      # sees every project
    ("sup2", 404),     # staff of another project
])
def test_who_may_fetch_the_file(client, auth, estate, uploaded, username, status):
    auth.login(username)
    response = client.get(uploaded["url"])
    assert response.status_code == status
    if status == 200:
        assert response.data == JPEG
        assert response.mimetype == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "private" in response.headers["Cache-Control"]


def test_another_resident_of_the_same_project_gets_404(client, auth, estate, uploaded,
                                                       create_user):
    create_user("owner", projects=[estate["project"]], username="owner2")
    auth.login("owner2")
    assert client.get(uploaded["url"]).status_code == 404


def test_anonymous_is_sent_to_login(client, uploaded):
    response = client.get(uploaded["url"])
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_unknown_upload_is_404(client, auth, estate):
    auth.login("cs1")
    assert client.get("/uploads/999999").status_code == 404


def test_access_hook_can_allow_more_people(client, auth, estate, uploaded, create_user,
                                           monkeypatch):
    monkeypatch.setattr(ops, "_access_checks", [])
    create_user("owner", projects=[estate["project"]], username="owner3")
    seen = []

    @ops.register_access_check
    def task_viewers(upload, user):
        seen.append((upload.id, user.username))
        return user.username == "owner3"

    auth.login("owner3")
    assert client.get(uploaded["url"]).status_code == 200
    assert seen == [(uploaded["id"], "owner3")]
    ops.register_access_check(task_viewers)  # registering twice changes nothing
    assert ops._access_checks == [task_viewers]


def test_store_and_attach_outside_a_request(estate, db_session):
    # CLI and engine code run without a request: no scope, the system acts
    stored = ops.store_upload(FileStorage(BytesIO(PDF), "C:\\scans\\签字.pdf"),
                              estate["project"].id, None)
    assert (stored.original_name, stored.uploaded_by_id) == ("签字.pdf", None)
    ops.attach_upload(stored, 42, "8c2d3a4e-task")
    again = db_session.get(Upload, stored.id)
    assert (again.instance_id, again.task_id) == (42, "8c2d3a4e-task")


def test_refs():
    assert parse_upload_ref("upload:12") == 12
    assert parse_upload_ref("upload:0") is None
    assert parse_upload_ref("upload:12/../x") is None
    assert parse_upload_ref(12) is None


def test_api_is_documented(app):
    spec = build_spec(app)
    operation = spec["paths"]["/api/v1/uploads"]["post"]
    assert operation["responses"]["201"]
    assert any(p["name"] == "project_id" for p in operation["parameters"])
