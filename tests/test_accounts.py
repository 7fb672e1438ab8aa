"""Sign-in, lockout, passwords, user administration and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.lockout import Lockout, RedisLockoutStore
from app.accounts.models import ApiToken, User
from app.accounts.roles import Role
from app.audit.models import AuditEvent
from app.extensions import db
from tests.conftest import PASSWORD


def test_login_and_logout(client, auth, create_user):
    create_user("owner", username="wang")
    response = auth.login("wang")
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "Wang" in home.get_data(as_text=True)
    auth.logout()
    assert client.get("/").status_code == 302  # back to the login page


def test_wrong_password_is_refused_with_a_message(client, auth, create_user):
    create_user("owner", username="wang")
    response = auth.login("wang", "not-the-password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True) or \
        "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_passwords_are_hashed_with_argon2(db_session, create_user):
    user = create_user("owner", username="wang")
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


def test_lockout_after_repeated_failures_even_with_right_password(client, auth, create_user,
                                                                  app, frozen_clock):
    from datetime import timedelta
    create_user("owner", username="locky")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert auth.login("locky", "wrong-wrong").status_code == 401
    locked = auth.login("locky")
    assert locked.status_code == 401
    text = locked.get_data(as_text=True)
    assert "locked" in text or "锁定" in text
    frozen_clock.advance(timedelta(seconds=app.config["LOGIN_LOCKOUT_SECONDS"] + 1))
    assert auth.login("locky").status_code == 302


def test_failed_logins_are_audited(client, auth, create_user):
    from app.audit.models import AuditEvent
    create_user("owner", username="wang")
    auth.login("wang", "nope-nope")
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "login.failed" in actions


@pytest.mark.redis
def test_lockout_is_shared_through_redis(redis_url):
    import redis as redis_lib
    client = redis_lib.Redis.from_url(redis_url)
    first = Lockout(RedisLockoutStore(client), max_failures=3, lock_seconds=60)
    second = Lockout(RedisLockoutStore(client), max_failures=3, lock_seconds=60)  # other worker
    name = "redis-lock-test-user"
    first.succeeded(name)
    first.failed(name)
    second.failed(name)
    assert not first.is_locked(name)
    first.failed(name)
    assert second.is_locked(name)
    assert client.ttl(f"estateflow:lockout:{name}") > 0
    second.succeeded(name)
    assert not first.is_locked(name)


def test_change_password(client, auth, create_user):
    create_user("owner", username="wang")
    auth.login("wang")
    token = auth.csrf("/account/password")
    wrong = client.post("/account/password", data={
        "csrf_token": token, "current_password": "bad-bad-bad",
        "new_password": "new-password-1", "confirm": "new-password-1"})
    assert wrong.status_code == 422
    ok = client.post("/account/password", data={
        "csrf_token": token, "current_password": PASSWORD,
        "new_password": "new-password-1", "confirm": "new-password-1"})
    assert ok.status_code == 302
    auth.logout()
    assert auth.login("wang", PASSWORD).status_code == 401
    assert auth.login("wang", "new-password-1").status_code == 302


def test_admin_creates_and_disables_a_user(client, auth, create_user, create_project):
    project = create_project()
    create_user("super_admin", username="root")
    auth.login("root")
    token = auth.csrf("/admin/users/new")
    response = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "tech1", "display_name": "Tech One",
        "password": "tech-pass-1", "roles": ["technician", "guard"],
        "projects": [str(project.id)], "active": "y"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "tech1"))
    assert user.roles == {Role.TECHNICIAN, Role.GUARD}
    assert user.project_ids == {project.id}

    response = client.post(f"/admin/users/{user.id}", data={
        "csrf_token": token, "username": "tech1", "display_name": "Tech One",
        "roles": ["technician"], "projects": [str(project.id)]})  # "active" unticked
    assert response.status_code == 302
    auth.logout()
    assert auth.login("tech1", "tech-pass-1").status_code == 401


def test_duplicate_username_is_a_clear_error(client, auth, create_user):
    create_user("super_admin", username="root")
    create_user("owner", username="taken")
    auth.login("root")
    token = auth.csrf("/admin/users/new")
    response = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "taken", "display_name": "X",
        "password": "password-123", "roles": ["owner"]})
    assert response.status_code == 422
    assert "taken" in response.get_data(as_text=True)


# One parametrized test per permission rule: (role, path) → expected status.
PAGES = ["/admin/users", "/admin/audit/", "/projects/", "/account/tokens"]
ALLOWED = {
    "/admin/users": {"super_admin"},
    "/admin/audit/": {"super_admin", "hq"},
    "/projects/": {r.value for r in Role} - {"owner", "tenant"},
    "/account/tokens": {r.value for r in Role},
}


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize("path", PAGES)
def test_permission_rules(client, auth, create_user, create_project, role, path):
    project = create_project()
    create_user(role, projects=[project], username="someone")
    auth.login("someone")
    expected = 200 if role in ALLOWED[path] else 403
    assert client.get(path).status_code == expected


def test_signed_out_users_are_sent_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_api_token_lifecycle(client, auth, create_user):
    create_user("supervisor", username="sup")
    issued = client.post("/api/v1/auth/token",
                         json={"username": "sup", "password": PASSWORD, "name": "phone"})
    assert issued.status_code == 201
    token = issued.get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.get_json()["username"] == "sup"
    # A bearer token needs no CSRF token for writes.
    second = client.post("/api/v1/tokens", json={"name": "tablet"}, headers=headers)
    assert second.status_code == 201
    token_id = issued.get_json()["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=headers).status_code == 200
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthorized"


def test_token_last_use_is_kept_to_the_minute_without_filling_the_audit_trail(
        client, create_user, frozen_clock):
    create_user("supervisor", username="sup")
    issued = client.post("/api/v1/auth/token",
                         json={"username": "sup", "password": PASSWORD, "name": "phone"})
    headers = {"Authorization": f"Bearer {issued.get_json()['token']}"}
    row = db.session.get(ApiToken, issued.get_json()["id"])
    audited = db.session.scalar(select(func.count(AuditEvent.id)))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    first = row.last_used_at
    assert first is not None
    frozen_clock.advance(timedelta(seconds=30))
    client.get("/api/v1/me", headers=headers)
    assert row.last_used_at == first  # within the minute: not written again
    frozen_clock.advance(timedelta(seconds=31))
    client.get("/api/v1/me", headers=headers)
    assert row.last_used_at == first + timedelta(seconds=61)
    # Using a token is not a change anyone audits.
    assert db.session.scalar(select(func.count(AuditEvent.id))) == audited


def test_token_of_disabled_user_stops_working(client, create_user):
    user = create_user("supervisor", username="sup")
    token = client.post("/api/v1/auth/token", json={
        "username": "sup", "password": PASSWORD, "name": "x"}).get_json()["token"]
    user.active = False
    db.session.flush()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401


def test_api_admin_creates_user_and_validates_fields(client, create_user, create_project):
    project = create_project()
    create_user("super_admin", username="root")
    token = client.post("/api/v1/auth/token", json={
        "username": "root", "password": PASSWORD, "name": "x"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    bad = client.post("/api/v1/users", json={"username": "x", "password": "short",
                                             "roles": ["wizard"]}, headers=headers)
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert {"password", "display_name", "roles.0"} <= set(fields)
    good = client.post("/api/v1/users", json={
        "username": "cs1", "password": "long-enough-1", "display_name": "CS",
        "roles": ["customer_service"], "project_ids": [project.id]}, headers=headers)
    assert good.status_code == 201
    unknown = client.patch(f"/api/v1/users/{good.get_json()['id']}",
                           json={"project_ids": [999999]}, headers=headers)
    assert unknown.status_code == 422
    assert "project_ids" in unknown.get_json()["error"]["fields"]


def test_users_cli_creates_user(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "clinew", "--role", "finance",
                                 "--password", "cli-pass-123"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.username == "clinew")) is not None
