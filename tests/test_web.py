"""Languages, error pages, CSRF, the API's error shape and its OpenAPI document."""

from __future__ import annotations

import pytest

from app.accounts.roles import Role
from app.api.openapi import undocumented_routes


def test_language_follows_the_browser(client):
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in" in english.get_data(as_text=True)
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in chinese.get_data(as_text=True)


def test_language_switch_is_remembered(client, auth, create_user):
    user = create_user("owner", username="wang")
    client.get("/lang/en", headers={"Referer": "http://localhost/login"})
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert "Sign in" in page.get_data(as_text=True)
    auth.login("wang")
    client.get("/lang/zh_CN")
    assert user.locale == "zh_CN"
    home = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "您好" in home and '<html lang="zh-CN">' in home


def test_unknown_language_is_404(client):
    assert client.get("/lang/xx").status_code == 404


def test_language_switch_does_not_redirect_off_site(client):
    response = client.get("/lang/en", headers={"Referer": "https://evil.example/phish"})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("lang, words", [("en", "does not exist"), ("zh_CN", "不存在")])
def test_404_page_speaks_plainly(client, auth, create_user, lang, words):
    create_user("owner", username="wang")
    auth.login("wang")
    client.get(f"/lang/{lang}")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert words in response.get_data(as_text=True)


def test_forms_without_csrf_token_are_refused(client, create_user):
    create_user("owner", username="wang")
    response = client.post("/login", data={"username": "wang", "password": "x"})
    assert response.status_code == 400
    assert "form" in response.get_data(as_text=True).lower() or "表单" in response.get_data(
        as_text=True)


def test_cookie_api_writes_need_csrf(client, auth, create_user):
    create_user("owner", username="wang")
    auth.login("wang")
    response = client.post("/api/v1/tokens", json={"name": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    token = auth.csrf()
    ok = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRFToken": token})
    assert ok.status_code == 201


def test_api_errors_have_one_shape(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "fields"}
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    bad = client.post("/api/v1/auth/token", data="not json",
                      headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and "body" in bad.get_json()["error"]["fields"]


def test_every_api_route_is_documented(app):
    assert undocumented_routes(app) == []


def test_openapi_document_lists_routes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/projects/{project_id}/units" in spec["paths"]
    operation = spec["paths"]["/api/v1/users"]["post"]
    assert "requestBody" in operation
    assert operation["responses"]["default"]["content"]["application/json"]["schema"][
        "required"] == ["error"]


def test_undocumented_route_is_detected(app):
    from flask import Flask
    other = Flask("probe")
    other.add_url_rule("/api/v1/secret", "secret", lambda: "x")
    assert undocumented_routes(other) == ["['GET', 'HEAD', 'OPTIONS'] /api/v1/secret"]


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_has_a_home_page(client, auth, create_user, create_project, role):
    project = create_project()
    create_user(role, projects=[project], username="person")
    auth.login("person")
    page = client.get("/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert 'class="card tile"' in page.get_data(as_text=True)


def test_500_page_keeps_calm(client):
    response = client.get("/_test/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Nothing you submitted was lost" in text and "kaboom" not in text
