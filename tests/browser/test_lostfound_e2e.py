"""Lost and found in a browser: a resident reports a found wallet, customer service reviews
it, another resident claims it, staff verify and record the hand-over with a masked ID."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
ID_NUMBER = "11010519491231002X"


def sign_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def deploy_lost_found(page, base: str) -> None:
    sign_in(page, base, "procadmin")
    page.goto(f"{base}/lost-found/")
    token = page.get_attribute("input[name=csrf_token]", "value")
    files = sorted(
        [p for p in (ROOT / "processes").glob("lost_found*.bpmn")]
        + list((ROOT / "forms" / "lost_found").rglob("*.json"))
        + [p for p in (ROOT / "notifications" / "lost_found").rglob("*") if p.is_file()])
    multipart = {f"f{i}": {"name": p.relative_to(ROOT).as_posix(),
                           "mimeType": "application/octet-stream", "buffer": p.read_bytes()}
                 for i, p in enumerate(files)}
    answer = page.request.post(f"{base}/api/v1/deployments", multipart=multipart,
                               headers={"X-CSRFToken": token})
    assert answer.status in (200, 201), answer.text()


def test_report_review_claim_hand_over(page, live_server):
    base = live_server
    deploy_lost_found(page, base)

    sign_in(page, base, "owner")
    page.goto(f"{base}/lost-found/")
    page.click("[data-testid=report-found]")
    page.select_option("select[name=category]", "wallet")
    page.fill("input[name=description]", "棕色真皮钱包，浏览器测试")
    page.fill("input[name=place]", "2号楼电梯厅")
    page.fill("input[name=occurred_at]", "2026-01-02T08:30")
    page.fill("input[name=contact]", "13800138000")
    page.click("[data-testid=submit-report]")
    expect(page.locator("[role=status]")).to_contain_text("SW-")
    item_url = page.url
    expect(page.locator("[data-testid=item-status]")).to_have_attribute(
        "data-status", "pending_review")

    sign_in(page, base, "cs")
    page.goto(item_url)
    page.select_option("[data-testid=task-Review] select[name=review_decision]", "approve")
    page.click("[data-testid=complete-Review]")
    expect(page.locator("[data-testid=item-status]")).to_have_attribute("data-status", "published")

    sign_in(page, base, "tenant")
    page.goto(f"{base}/lost-found/?q=浏览器测试")
    page.click(".lf-list a")
    page.fill("textarea[name=details]", "钱包里有一张借书证，名字是李租户")
    page.click("[data-testid=claim]")
    expect(page.locator("[data-testid=my-claim]")).to_have_count(1)

    sign_in(page, base, "cs")
    page.goto(item_url)
    page.select_option("[data-testid=task-Verify_claim] select[name=claim_decision]", "verified")
    page.click("[data-testid=complete-Verify_claim]")
    expect(page.locator("[data-testid=hand-over]")).to_have_count(1)
    page.fill("input[name=receiver_name]", "李租户")
    page.fill("input[name=id_number]", "110105194912310021")  # wrong checksum
    page.click("[data-testid=hand-over]")
    expect(page.locator("[role=alert]")).not_to_have_count(0)
    page.fill("input[name=id_number]", ID_NUMBER)
    page.click("[data-testid=hand-over]")
    expect(page.locator("[data-testid=item-status]")).to_have_attribute("data-status", "returned")
    assert "110***********002X" in page.inner_text("[data-testid=handover-record]")
    assert ID_NUMBER not in page.content()
