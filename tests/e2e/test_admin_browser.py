"""Support and operations in a real browser: support finds a customer's push by the card's
last four, reads its history and is offered no action; operations retry a failed request
and watch it leave `failed`; a second operations user approves a weakened rule."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from provisioning import services
from core.models import Trigger
from provisioning.models import State
from tests.factories import ProvisioningRequestFactory
from tests.operations.conftest import OPERATIONS_PERMISSIONS, SUPPORT_PERMISSIONS, make_staff_user

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def failed_push(card_last4: str = "0044"):
    """A request that went received → eligible → token_requested → failed (timeouts)."""
    request = ProvisioningRequestFactory(state=State.RECEIVED, card_last4="",
                                         customer_id="cust_wanjiru")
    request.mark_eligible(by=Trigger.WORKER, reason="issuer_eligible", card_last4=card_last4,
                          card_product="visa_classic", customer_msisdn="+254712340100")
    request.save()
    request.mark_token_requested(by=Trigger.WORKER, reason="provision_call")
    request.save()
    services.fail_request(request.pk, "token_service_timeout", "token service kept failing")
    return request


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username)


def test_support_finds_a_push_by_last_four_reads_its_history_and_sees_no_buttons(
        live_server, new_page, screenshot):
    wanted = failed_push("0044")
    other = ProvisioningRequestFactory(card_last4="1111")
    make_staff_user("support_amina", SUPPORT_PERMISSIONS, password=PASSWORD)
    page = new_page()

    log_in(page, live_server.url, "support_amina")
    page.goto(f"{live_server.url}/admin/provisioning/provisioningrequest/")
    page.fill("#searchbar", "0044")
    page.press("#searchbar", "Enter")
    results = page.locator("#result_list tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("token_service_timeout")
    expect(page.locator("#result_list")).not_to_contain_text(str(other.pk))
    screenshot(page, "support-search-by-last-four")

    results.first.locator(f"a[href*='{wanted.pk}']").first.click()
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(3)
    expect(history.nth(0)).to_contain_text("eligible")
    expect(history.nth(1)).to_contain_text("token_requested")
    expect(history.nth(2)).to_contain_text("failed")
    expect(history.nth(2)).to_contain_text("token_service_timeout")
    expect(page.locator("body")).to_contain_text("+2547****0100")
    expect(page.locator("[data-transition]")).to_have_count(0)
    screenshot(page, "support-request-history-no-buttons")

    page.goto(f"{live_server.url}/admin/overview/")
    expect(page.locator("#per-state tr[data-state=failed] .count")).to_have_text("1")
    expect(page.locator("#outcomes")).to_contain_text("token_service_timeout")
    expect(page.locator("svg[aria-label='ProvisioningRequest.state']")).to_be_visible()
    screenshot(page, "support-overview")


def test_operations_retry_a_failed_push_and_watch_it_move(live_server, new_page, screenshot):
    request = failed_push("0044")
    make_staff_user("ops_brian", OPERATIONS_PERMISSIONS, password=PASSWORD)
    page = new_page()

    log_in(page, live_server.url, "ops_brian")
    page.goto(f"{live_server.url}/admin/provisioning/provisioningrequest/{request.pk}/change/")
    badge = page.locator(".field-state_coloured .state-badge")
    expect(badge).to_have_attribute("data-state", "failed")
    buttons = page.locator("[data-transition]")
    expect(buttons).to_have_count(1)
    screenshot(page, "operations-failed-request-with-retry")

    page.click("[data-transition=retry]")
    expect(page.locator(".messagelist")).to_contain_text("Retry: done.")
    # It left `failed`; with a worker running it would go on from `received`.
    expect(badge).not_to_have_attribute("data-state", "failed")
    retried = page.locator("#history tbody tr[data-to=received]")
    expect(retried).to_have_count(1)
    expect(retried).to_contain_text("admin")
    expect(retried).to_contain_text("ops_brian")
    expect(page.locator("[data-transition=retry]")).to_have_count(0)
    screenshot(page, "operations-retried-request-moved")
    assert re.search(r"/change/$", page.url)


def test_a_second_operations_user_approves_a_weakened_rule(live_server, new_page, screenshot):
    from django.contrib.auth.models import Group, User

    from decisioning import services as decisioning
    from decisioning.models import DecisionRule

    operations = Group.objects.get(name="operations")
    for username in ("ops_amina", "ops_brian"):
        User.objects.create_user(username, password=PASSWORD, is_staff=True).groups.add(operations)
    rule = DecisionRule.objects.get(key="attempts-per-customer")
    rule.params = {**rule.params, "max": 200}
    decisioning.save_rule(rule, user=User.objects.get(username="ops_amina"))
    page = new_page()

    log_in(page, live_server.url, "ops_brian")
    page.goto(f"{live_server.url}/admin/decisioning/rulechange/?status__exact=pending")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("params.max: 20 → 200")
    expect(rows.first).to_contain_text("ops_amina")
    screenshot(page, "operations-pending-rule-change")

    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "approve_changes")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 change(s) approved and applied.")
    approved = DecisionRule.objects.get(key="attempts-per-customer")
    assert (approved.version, approved.params["max"]) == (2, 200)
    assert approved.versions.get(version=2).approved_by == "ops_brian"
    screenshot(page, "operations-approved-rule-change")
