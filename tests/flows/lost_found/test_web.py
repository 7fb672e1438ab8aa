"""The pages and the JSON API of lost and found, as residents and staff use them."""

from __future__ import annotations

from app import create_app  # noqa: F401 - the app fixture builds it
from app.lostfound.models import Claim, Item
from tests.conftest import PASSWORD
from tests.flows.lost_found.conftest import ID_MASKED, ID_NUMBER, report, task


def login(client, auth, user):
    if getattr(auth, "signed_in", False):
        auth.logout()
    auth.signed_in = True
    assert auth.login(user.username, PASSWORD).status_code in (200, 302)


def test_resident_reports_staff_review_list_claim_and_hand_over(client, auth, estate, db_session):
    login(client, auth, estate.owner)
    page = client.get("/lost-found/new?kind=found")
    assert page.status_code == 200 and "report" in page.get_data(as_text=True).lower()
    token = auth.csrf("/lost-found/new")
    bad = client.post("/lost-found/new", data={"csrf_token": token, "kind": "found"})
    assert bad.status_code == 422
    answer = client.post("/lost-found/new", data={
        "csrf_token": token, "kind": "found", "category": "phone",
        "description": "白色华为手机", "place": "儿童游乐场", "occurred_at": "2026-11-22T08:00",
        "contact": "13800138000"})
    assert answer.status_code == 302
    item = db_session.query(Item).one()
    assert item.status == "pending_review"
    assert "白色华为手机" not in client.get("/lost-found/").get_data(as_text=True)

    login(client, auth, estate.cs)
    review = task(item, "Review")
    html = client.get(f"/lost-found/items/{item.id}").get_data(as_text=True)
    assert "task-Review" in html and "13800138000" in html  # staff see the contact
    answer = client.post(f"/lost-found/items/{item.id}/tasks/{review.id}", data={
        "csrf_token": auth.csrf(f"/lost-found/items/{item.id}"), "review_decision": "approve",
        "category": "phone", "place": "儿童游乐场旁", "description": "白色华为手机"})
    assert answer.status_code == 302 and item.status == "published"
    assert item.place == "儿童游乐场旁"

    login(client, auth, estate.tenant)
    listing = client.get("/lost-found/?q=华为").get_data(as_text=True)
    assert item.number in listing
    detail = client.get(f"/lost-found/items/{item.id}").get_data(as_text=True)
    assert "13800138000" not in detail  # contact is for staff and the reporter only
    token = auth.csrf(f"/lost-found/items/{item.id}")
    assert client.post(f"/lost-found/items/{item.id}/claim",
                       data={"csrf_token": token, "details": "x"}).status_code == 422
    assert client.post(f"/lost-found/items/{item.id}/claim", data={
        "csrf_token": token, "details": "手机壳背面贴着小熊贴纸"}).status_code == 302
    claim = db_session.query(Claim).one()

    login(client, auth, estate.cs)
    url = f"/lost-found/items/{item.id}"
    client.post(f"{url}/tasks/{claim.verify_task_id}", data={
        "csrf_token": auth.csrf(url), "claim_decision": "verified"})
    assert claim.status == "verified"
    answer = client.post(f"{url}/hand-over", data={
        "csrf_token": auth.csrf(url), "receiver_name": "李租户", "id_number": "123"})
    assert answer.status_code == 422 and "123" not in answer.get_data(as_text=True).split(
        'name="id_number"')[1][:40]
    answer = client.post(f"{url}/hand-over", data={
        "csrf_token": auth.csrf(url), "receiver_name": "李租户", "id_number": ID_NUMBER,
        "handed_over_at": "2026-11-22T09:00"})
    assert answer.status_code == 302
    assert item.status == "returned" and claim.receiver_id_masked == ID_MASKED
    assert ID_MASKED in client.get(url).get_data(as_text=True)


def test_permissions_on_pages(client, auth, estate, create_user, db_session):
    pending = report(estate.owner)
    login(client, auth, estate.tenant)
    assert client.get(f"/lost-found/items/{pending.id}").status_code == 404  # not listed yet
    token = auth.csrf("/lost-found/")
    assert client.post(f"/lost-found/items/{pending.id}/tasks/{task(pending, 'Review').id}",
                       data={"csrf_token": token}).status_code == 403
    finance = create_user("finance", projects=[estate.project])
    login(client, auth, finance)
    assert client.get("/lost-found/new").status_code == 403
    assert client.get("/lost-found/").status_code == 200


def test_api_report_search_claim_and_hand_over(client, auth, estate, db_session):
    login(client, auth, estate.guard)
    answer = client.post("/api/v1/lost-found/items", json={
        "kind": "found", "category": "keys", "description": "一串钥匙，挂着蓝色工牌",
        "place": "地下车库", "occurred_at": "2026-11-22T07:30:00+08:00", "contact": "前台"},
        headers={"X-CSRFToken": auth.csrf("/lost-found/")})
    assert answer.status_code == 201, answer.get_json()
    item_id = answer.get_json()["id"]
    assert answer.get_json()["status"] == "published"
    login(client, auth, estate.owner)
    token = {"X-CSRFToken": auth.csrf("/lost-found/")}
    found = client.get("/api/v1/lost-found/items?category=keys&q=工牌").get_json()
    assert [i["id"] for i in found["items"]] == [item_id] and "contact" not in found["items"][0]
    answer = client.post(f"/api/v1/lost-found/items/{item_id}/claims",
                         json={"details": "工牌上写着王业主"}, headers=token)
    assert answer.status_code == 201
    assert client.get("/api/v1/lost-found/mine").get_json()["claims"][0]["status"] == "verifying"
    login(client, auth, estate.cs)
    token = {"X-CSRFToken": auth.csrf("/lost-found/")}
    detail = client.get(f"/api/v1/lost-found/items/{item_id}").get_json()
    verify = detail["open_tasks"][0]
    assert verify["element_id"] == "Verify_claim"
    answer = client.post(f"/api/v1/lost-found/items/{item_id}/tasks/{verify['id']}",
                         json={"claim_decision": "nonsense"}, headers=token)
    assert answer.status_code == 422
    client.post(f"/api/v1/lost-found/items/{item_id}/tasks/{verify['id']}",
                json={"claim_decision": "verified"}, headers=token)
    answer = client.post(f"/api/v1/lost-found/items/{item_id}/hand-over", json={
        "receiver_name": "王业主", "id_number": ID_NUMBER.lower()}, headers=token)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["receiver_id_masked"] == ID_MASKED
    assert client.get(f"/api/v1/lost-found/items/{item_id}").get_json()["status"] == "returned"


def test_every_lost_found_api_route_is_documented(app):
    from app.api.openapi import build_spec, undocumented_routes
    assert undocumented_routes(app) == [] or all(
        "lost-found" not in r for r in undocumented_routes(app))
    paths = build_spec(app)["paths"]
    assert "/api/v1/lost-found/items/{item_id}/hand-over" in paths
