"""The admin answers "what happened to this customer's card push?": list, filters, search,
the detail page's history, token and notifications, transition buttons that respect
state and permission and go through the services, and the overview page."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import TransitionLog, Trigger

from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tokens.models import Token

from .conftest import logged_in, make_staff_user

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:provisioning_provisioningrequest_changelist"
PAN = "4000000000000044"


def change_url(request) -> str:
    return reverse("admin:provisioning_provisioningrequest_change", args=[request.pk])


def transition_url(request, name: str) -> str:
    return reverse("admin:provisioning_provisioningrequest_transition", args=[request.pk, name])


def failed_request(**fields) -> ProvisioningRequest:
    """A request that went received → eligible → token_requested → failed, with its log."""
    from provisioning import services

    request = ProvisioningRequestFactory(state=State.RECEIVED, card_last4="", **fields)
    request.mark_eligible(by=Trigger.WORKER, reason="issuer_eligible", card_last4="0044",
                          card_product="visa_classic", customer_msisdn="+254712340100")
    request.save()
    request.mark_token_requested(by=Trigger.WORKER, reason="provision_call",
                                 pan_fingerprint="f" * 64)
    request.save()
    services.fail_request(request.pk, "token_service_timeout", "token service kept failing")
    return ProvisioningRequest.objects.get(pk=request.pk)


# --- list ---------------------------------------------------------------------------------

def test_list_shows_coloured_state_wallet_last_four_age_and_last_failure(support_client):
    request = failed_request()
    page = support_client.get(reverse(CHANGELIST)).content.decode()
    assert 'class="state-badge" data-state="failed"' in page
    assert "google_pay" in page
    assert "•••• 0044" in page
    assert "token_service_timeout" in page
    assert str(request.pk) in page


def test_search_by_last_four_finds_only_that_card(support_client):
    wanted = failed_request()
    other = ProvisioningRequestFactory(card_last4="1111")
    page = support_client.get(reverse(CHANGELIST), {"q": "0044"}).content.decode()
    assert str(wanted.pk) in page
    assert str(other.pk) not in page


@pytest.mark.parametrize("term", ["request_id", "customer_id", "token_ref"])
def test_search_by_request_id_customer_id_or_token_reference_finds_the_request(
        support_client, term):
    wanted = ProvisioningRequestFactory(state=State.PROVISIONED, customer_id="cust_wanjiru",
                                        due_at=None)
    token = TokenFactory(provisioning_request=wanted)
    other = ProvisioningRequestFactory(customer_id="cust_other")
    value = {"request_id": str(wanted.pk), "customer_id": "cust_wanjiru",
             "token_ref": token.token_ref}[term]
    page = support_client.get(reverse(CHANGELIST), {"q": value}).content.decode()
    assert str(wanted.pk) in page
    assert str(other.pk) not in page


def test_stuck_filter_lists_only_requests_past_their_due_time(support_client):
    stuck = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED,
                                       due_at=timezone.now() - timedelta(minutes=5))
    on_time = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED,
                                         due_at=timezone.now() + timedelta(minutes=5))
    page = support_client.get(reverse(CHANGELIST), {"stuck": "yes"}).content.decode()
    assert str(stuck.pk) in page
    assert str(on_time.pk) not in page


def test_state_and_wallet_filters_narrow_the_list(support_client):
    failed = ProvisioningRequestFactory(state=State.FAILED, wallet="apple_pay", due_at=None)
    received = ProvisioningRequestFactory(state=State.RECEIVED, wallet="apple_pay")
    page = support_client.get(reverse(CHANGELIST),
                              {"state__exact": "failed", "wallet__exact": "apple_pay"})
    assert page.status_code == 200
    assert str(failed.pk) in page.content.decode()
    assert str(received.pk) not in page.content.decode()


# --- detail page --------------------------------------------------------------------------

def test_detail_page_shows_the_whole_transition_history_in_order(support_client):
    request = failed_request()
    page = support_client.get(change_url(request)).content.decode()
    history = page[page.index('id="history"'):]
    positions = [history.index(f'data-to="{state}"')
                 for state in ("eligible", "token_requested", "failed")]
    assert positions == sorted(positions)
    assert "token_service_timeout" in history


def test_detail_page_shows_the_token_and_its_transitions(support_client):
    request = ProvisioningRequestFactory(state=State.PROVISIONED, due_at=None)
    token = TokenFactory(provisioning_request=request, state="active")
    token.suspend(by=Trigger.WEBHOOK, reason="token.suspended")
    token.save()
    page = support_client.get(change_url(request)).content.decode()
    token_block = page[page.index('id="token"'):]
    assert token.token_ref in token_block
    assert "suspended" in token_block
    assert 'data-to="suspended"' in page


def test_detail_page_lists_the_customer_notifications(support_client):
    from notifications.models import Notification

    request = failed_request()
    Notification.objects.create(customer_id=request.customer_id, object_id=request.pk,
                                event="failed", channel="sms", template_key="failed",
                                status="failed", attempts=3, last_error="gateway_unavailable")
    page = support_client.get(change_url(request)).content.decode()
    block = page[page.index('id="notifications"'):]
    assert "gateway_unavailable" in block
    assert "sms" in block


def test_detail_page_masks_the_phone_number_and_shows_no_secret(support_client):
    request = failed_request()
    ProvisioningRequest.objects.filter(pk=request.pk).update(otp_hash="a" * 64)
    page = support_client.get(change_url(request)).content.decode()
    assert "+2547****0100" in page
    assert "+254712340100" not in page
    assert "a" * 64 not in page  # otp hash
    assert "f" * 64 not in page  # PAN fingerprint
    assert PAN not in page
    assert "wallet_payload_sealed" not in page and 'name="wallet_payload"' not in page


def test_detail_page_never_decrypts_or_shows_the_wallet_payload(support_client):
    request = ProvisioningRequestFactory(state=State.PROVISIONED, due_at=None)
    request.wallet_payload = {"opaque_payment_card": "c2VjcmV0LXBheWxvYWQ="}
    request.save()
    page = support_client.get(change_url(request)).content.decode()
    assert "c2VjcmV0LXBheWxvYWQ=" not in page
    assert "Wallet payload held" in page


# --- transition buttons ---------------------------------------------------------------------

def test_support_sees_no_transition_buttons(support_client):
    request = failed_request()
    page = support_client.get(change_url(request)).content.decode()
    assert "data-transition=" not in page


def test_operations_see_retry_on_a_failed_request_and_nothing_else(operations_client):
    request = failed_request()
    page = operations_client.get(change_url(request)).content.decode()
    assert 'data-transition="retry"' in page
    assert 'data-transition="cancel"' not in page
    assert 'data-transition="expire"' not in page


def test_operations_see_cancel_and_expire_during_step_up(operations_client):
    request = ProvisioningRequestFactory(state=State.STEP_UP_REQUIRED,
                                         otp_expires_at=timezone.now() + timedelta(minutes=5))
    page = operations_client.get(change_url(request)).content.decode()
    assert 'data-transition="cancel"' in page
    assert 'data-transition="expire"' in page
    assert 'data-transition="retry"' not in page


def test_expire_is_not_offered_once_the_customer_code_was_accepted(operations_client):
    # verify() clears otp_expires_at when the code is right; activation is under way.
    request = ProvisioningRequestFactory(state=State.STEP_UP_REQUIRED, otp_expires_at=None)
    page = operations_client.get(change_url(request)).content.decode()
    assert 'data-transition="expire"' not in page
    operations_client.post(transition_url(request, "expire"))
    request.refresh_from_db()
    assert request.state == State.STEP_UP_REQUIRED


def test_no_button_is_offered_on_a_provisioned_request(operations_client):
    request = ProvisioningRequestFactory(state=State.PROVISIONED, due_at=None)
    page = operations_client.get(change_url(request)).content.decode()
    assert "data-transition=" not in page


def test_operations_retry_puts_the_request_back_to_received_logged_with_the_user(
        operations_client, django_capture_on_commit_callbacks):
    request = failed_request()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operations_client.post(transition_url(request, "retry"))
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    last = TransitionLog.objects.filter(object_id=request.pk).latest("id")
    assert (last.from_state, last.to_state, last.trigger, last.actor) == (
        "failed", "received", "admin", "ops_brian")
    assert len(callbacks) >= 1  # the eligibility step is enqueued once this commits


def test_operations_cancel_a_received_request(operations_client):
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    operations_client.post(transition_url(request, "cancel"))
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert TransitionLog.objects.get(object_id=request.pk).actor == "ops_brian"


def test_operations_expire_a_step_up_that_is_not_overdue_yet(operations_client):
    request = ProvisioningRequestFactory(state=State.STEP_UP_REQUIRED,
                                         otp_expires_at=timezone.now() + timedelta(minutes=5))
    operations_client.post(transition_url(request, "expire"))
    request.refresh_from_db()
    assert request.state == State.EXPIRED
    assert request.failure_code == "step_up_expired"


def test_support_posting_a_transition_by_hand_changes_nothing(support_client):
    request = failed_request()
    response = support_client.post(transition_url(request, "retry"), follow=True)
    request.refresh_from_db()
    assert request.state == State.FAILED
    assert "not possible" in response.content.decode()


def test_a_button_from_a_stale_page_is_refused_without_a_transition(operations_client):
    request = ProvisioningRequestFactory(state=State.PROVISIONED, due_at=None)
    response = operations_client.post(transition_url(request, "retry"), follow=True)
    assert "not possible" in response.content.decode()
    assert not TransitionLog.objects.filter(object_id=request.pk).exists()


def test_a_non_transition_method_name_is_refused(operations_client):
    request = failed_request()
    operations_client.post(transition_url(request, "save"))
    request.refresh_from_db()
    assert request.state == State.FAILED


def test_transition_url_refuses_get(operations_client):
    request = failed_request()
    assert operations_client.get(transition_url(request, "retry")).status_code == 405


# --- tokens ---------------------------------------------------------------------------------

def token_operation_url(token, name: str) -> str:
    return reverse("admin:tokens_token_operation", args=[token.pk, name])


def test_operations_see_suspend_and_delete_on_an_active_token(operations_client):
    token = TokenFactory(state="active")
    page = operations_client.get(reverse("admin:tokens_token_change", args=[token.pk]))
    content = page.content.decode()
    assert 'data-operation="suspend"' in content and 'data-operation="delete"' in content
    assert 'data-operation="resume"' not in content


def test_support_sees_no_token_buttons(support_client):
    token = TokenFactory(state="active")
    page = support_client.get(reverse("admin:tokens_token_change", args=[token.pk]))
    assert page.status_code == 200
    assert "token-operation" not in page.content.decode()


def test_operations_suspend_goes_through_the_token_service_request(
        operations_client, django_capture_on_commit_callbacks):
    token = TokenFactory(state="active")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operations_client.post(token_operation_url(token, "suspend"), follow=True)
    assert "Suspend requested" in response.content.decode()
    token.refresh_from_db()
    # 202 semantics: the request is recorded and its worker call enqueued on commit; the
    # state moves only when the token service has answered.
    assert token.operations_requested == 1
    assert token.state == "active"
    assert len(callbacks) == 1


def test_support_cannot_suspend_a_token_by_posting(support_client):
    token = TokenFactory(state="active")
    support_client.post(token_operation_url(token, "suspend"))
    assert Token.objects.get(pk=token.pk).operations_requested == 0


def test_operations_see_who_suspended_and_may_resume_a_token_service_suspension(
        operations_client, django_capture_on_commit_callbacks):
    token = TokenFactory(state="suspended", suspended_by="token_service")
    page = operations_client.get(reverse("admin:tokens_token_change", args=[token.pk]))
    content = page.content.decode()
    assert "token_service" in content or "Token service" in content
    assert 'data-operation="resume"' in content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operations_client.post(token_operation_url(token, "resume"), follow=True)
    assert "Resume requested" in response.content.decode()
    assert Token.objects.get(pk=token.pk).operations_requested == 1
    assert len(callbacks) == 1


def test_resume_is_refused_on_an_active_token(operations_client):
    token = TokenFactory(state="active")
    response = operations_client.post(token_operation_url(token, "resume"), follow=True)
    assert "not possible" in response.content.decode()
    assert Token.objects.get(pk=token.pk).operations_requested == 0


# --- overview -------------------------------------------------------------------------------

def _provisioning_panel(response) -> dict:
    return next(panel for panel in response.context["panels"]
                if panel["template"] == "admin/provisioning/overview_panel.html")


def test_overview_counts_requests_and_stuck_requests_per_state(support_client):
    ProvisioningRequestFactory(state=State.TOKEN_REQUESTED,
                               due_at=timezone.now() - timedelta(minutes=3))
    ProvisioningRequestFactory(state=State.TOKEN_REQUESTED,
                               due_at=timezone.now() + timedelta(minutes=3))
    ProvisioningRequestFactory(state=State.PROVISIONED, due_at=None)
    response = support_client.get(reverse("admin:overview"))
    assert response.status_code == 200
    rows = {row["state"]: row for row in _provisioning_panel(response)["states"]}
    assert rows["token_requested"]["count"] == 2
    assert rows["token_requested"]["stuck"] == 1
    assert rows["provisioned"]["count"] == 1
    assert rows["provisioned"]["stuck"] is None  # a terminal state cannot be stuck


def test_overview_shows_last_hours_outcomes_by_failure_code(support_client):
    failed_request()
    old = ProvisioningRequestFactory(state=State.DECLINED, due_at=None,
                                     failure_code="token_service_declined")
    ProvisioningRequest.objects.filter(pk=old.pk).update(
        state_changed_at=timezone.now() - timedelta(hours=3))
    response = support_client.get(reverse("admin:overview"))
    outcomes = {(row["state"], row["failure_code"]): row["count"]
                for row in _provisioning_panel(response)["outcomes"]}
    assert outcomes == {("failed", "token_service_timeout"): 1}


def test_overview_draws_every_state_diagram(support_client):
    page = support_client.get(reverse("admin:overview")).content.decode()
    assert 'aria-label="ProvisioningRequest.state"' in page
    assert 'aria-label="Token.state"' in page
    assert 'aria-label="Transfer.state"' in page and 'id="state-needs_attention"' in page
    assert 'id="state-step_up_required"' in page and 'id="state-suspended"' in page


def test_overview_is_refused_to_staff_without_view_permission(db):
    client = logged_in(make_staff_user("stranger", ()))
    assert client.get(reverse("admin:overview")).status_code == 403


def test_admin_home_links_to_the_overview(support_client):
    page = support_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:overview") in page


def test_transition_log_admin_finds_rows_by_correlation_id(support_client):
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    from core.observability import correlation

    token = correlation.set("corr-admin-search-1")
    try:
        request.cancel(by=Trigger.API)
        request.save()
    finally:
        correlation._current.reset(token)
    page = support_client.get(reverse("admin:core_transitionlog_changelist"),
                              {"q": "corr-admin-search-1"}).content.decode()
    assert str(request.pk) in page
    assert support_client.get(reverse("admin:core_transitionlog_changelist"),
                              {"q": str(uuid.uuid4())}).status_code == 200
