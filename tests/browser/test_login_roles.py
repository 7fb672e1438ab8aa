"""A person signs in as each demo role, sees their home page, and switches language."""

from __future__ import annotations

import pytest

from app.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")


@pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda a: a.role.value)
def test_each_role_signs_in_and_switches_language(page, live_server, account):
    sign_in(page, live_server, account.username)
    assert page.url.rstrip("/") == live_server
    assert "您好" in page.inner_text("h1.greeting")
    assert page.locator(".card.tile").count() >= 1
    page.click("a[data-lang=en]")
    assert "Hello" in page.inner_text("h1.greeting")
    assert page.get_attribute("html", "lang") == "en"
    page.reload()  # the choice is remembered
    assert "Hello" in page.inner_text("h1.greeting")
    page.click("a[data-lang=zh_CN]")
    assert "您好" in page.inner_text("h1.greeting")
    page.click("[data-testid=logout]")
    assert "/login" in page.url


def test_wrong_password_shows_a_message(page, live_server):
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().strip() != ""
    assert "/login" in page.url
