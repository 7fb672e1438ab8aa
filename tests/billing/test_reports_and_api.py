"""Arrears reports, the Excel export, the API and pages with their permissions, the portal."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.billing import reports
from tests.billing.world import BillingWorld
from tests.conftest import Auth

NOV = date(2026, 11, 1)


def test_ageing_buckets_and_top_owners(world: BillingWorld):
    world.bill(date(2026, 7, 1))   # due 16 Jul: 129 days on 22 Nov
    world.bill(date(2026, 10, 1))  # due 16 Oct: 37 days
    world.bill(NOV)                # due 16 Nov: 6 days
    world.pay(21002, unit=world.units[1])  # pays 202's July bill
    today = world.today()
    ageing = {r["bucket"]: r for r in reports.ageing(world.project.id, today)}
    assert ageing["0-30"]["bills"] == 3 and ageing["31-90"]["bills"] == 3
    assert ageing["91-180"]["bills"] == 2 and ageing["180+"]["bills"] == 0
    top = reports.top_owners(world.project.id, today)
    assert top[0]["amount_fen"] == 3 * 21002 and top[-1]["amount_fen"] == 2 * 21002
    assert top[0]["days"] == 129 and top[0]["owner"]
    [building] = reports.by_building(world.project.id, today)
    assert building["amount_fen"] == 8 * 21002
    july = reports.collection_rate(world.project.id)[0]
    assert july["month"] == "2026-07" and july["rate_permille"] == 333
    book = load_workbook(BytesIO(reports.report_workbook(
        reports.arrears_report(world.project.id, today))))
    assert book.sheetnames == ["ageing", "top owners", "by building", "collection"]


@pytest.mark.parametrize("role,status", [("finance", 201), ("project_manager", 403),
                                         ("owner", 403), ("customer_service", 403)])
def test_recording_payments_needs_finance_manage(world: BillingWorld, client, auth: Auth,
                                                 create_user, role, status):
    world.bill(NOV)
    user = create_user(role, projects=[world.project])
    auth.login(user.username)
    response = client.post("/api/v1/billing/payments", json={
        "unit_id": world.unit.id, "amount_fen": 21002, "method": "cash"},
        headers={"X-CSRFToken": auth.csrf()})
    assert response.status_code == status


def test_api_payment_refund_and_report(world: BillingWorld, client, auth: Auth):
    auth.login(world.finance.username)
    headers = {"X-CSRFToken": auth.csrf()}
    run = client.post("/api/v1/billing/runs", json={"project_id": world.project.id,
                                                    "day": "2026-11-01"}, headers=headers)
    assert run.status_code == 200 and run.json["bills_created"] == 3
    assert run.json["cases_opened"] == 3
    bad = client.post("/api/v1/billing/payments", json={"unit_id": world.unit.id,
                                                        "amount_fen": -5, "method": "cash"},
                      headers=headers)
    assert bad.status_code == 422
    paid = client.post("/api/v1/billing/payments", json={
        "unit_id": world.unit.id, "amount_fen": 31002, "method": "alipay",
        "reference": "2026112222001"}, headers=headers)
    assert paid.status_code == 201 and paid.json["to_balance_fen"] == 10000
    account = client.get(f"/api/v1/billing/units/{world.unit.id}/account").json
    assert account["balance_fen"] == 10000 and account["dunning"] is None
    refund = client.post("/api/v1/billing/refunds", json={
        "unit_id": world.unit.id, "amount_fen": 10000, "method": "cash", "reason": "多缴"},
        headers=headers)
    assert refund.status_code == 201
    own = client.post(f"/api/v1/billing/refunds/{refund.json['id']}/decision",
                      json={"approve": True}, headers=headers)
    assert own.status_code == 403
    report = client.get(f"/api/v1/billing/reports/arrears?project_id={world.project.id}")
    assert report.status_code == 200 and report.json["ageing"][0]["bills"] == 2
    xlsx = client.get(f"/api/v1/billing/reports/arrears.xlsx?project_id={world.project.id}")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    page = client.get(f"/billing/?project_id={world.project.id}")
    assert page.status_code == 200
    receipt = client.get(f"/billing/payments/{paid.json['id']}/receipt")
    assert receipt.status_code == 200 and "100.00" in receipt.get_data(as_text=True)


def test_owner_portal_shows_bills_arrears_and_receipts(world: BillingWorld, client,
                                                       auth: Auth):
    world.bill(date(2026, 10, 1))
    world.bill(NOV)
    payment = world.pay(21002)
    world.pay(21002, unit=world.units[1])
    auth.login(world.owner.username)
    mine = client.get("/api/v1/billing/my").json
    [unit] = mine["units"]
    assert unit["unit_id"] == world.unit.id and unit["overdue_fen"] == 21002
    assert len(unit["bills"]) == 2 and len(unit["payments"]) == 1
    page = client.get("/my/bills/")
    assert page.status_code == 200 and "2号楼-201" in page.get_data(as_text=True)
    receipt = client.get(f"/my/bills/receipts/{payment.id}?download=1")
    assert receipt.status_code == 200 and "attachment" in receipt.headers[
        "Content-Disposition"]
    other = world.bills(world.units[1])[0]
    assert client.get(f"/api/v1/billing/my/bills/{other.id}").status_code == 404
    assert client.get("/api/v1/billing/payments/1").status_code == 403


def test_page_payment_form_records_and_redirects_to_receipt(world: BillingWorld, client,
                                                            auth: Auth):
    world.bill(NOV)
    auth.login(world.finance.username)
    token = auth.csrf(f"/billing/units/{world.unit.id}")
    response = client.post(f"/billing/units/{world.unit.id}/payments", data={
        "amount": "210.02", "method": "cash", "csrf_token": token})
    assert response.status_code == 302 and "/receipt" in response.headers["Location"]
    bad = client.post(f"/billing/units/{world.unit.id}/payments", data={
        "amount": "abc", "method": "cash", "csrf_token": token})
    assert bad.status_code == 422
    world.clock.advance(timedelta(days=1))
