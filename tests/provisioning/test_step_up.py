"""Step-up by one-time code: verify, wrong codes, expiry, resend limits, and the race
between a verify and the expiry sweep."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from provisioning import step_up, sweeps
from core.models import TransitionLog
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tokens.models import TokenState

URL = "/api/v1/provisioning-requests/{}/{}"
CODE = "493817"


def stepped_up(customer_id="cust_demo", *, expires_in=600, attempts_left=3, sends=1,
               last_sent_ago=120):
    now = timezone.now()
    request = ProvisioningRequestFactory(
        customer_id=customer_id, state=State.STEP_UP_REQUIRED,
        otp_expires_at=now + timedelta(seconds=expires_in), otp_attempts_left=attempts_left,
        otp_sends=sends, otp_last_sent_at=now - timedelta(seconds=last_sent_ago),
        due_at=now + timedelta(seconds=expires_in),
    )
    ProvisioningRequest.objects.filter(pk=request.pk).update(
        otp_hash=step_up.hash_code(request.pk, CODE))
    TokenFactory(provisioning_request=request, customer_id=customer_id,
                 state=TokenState.INACTIVE)
    return ProvisioningRequest.objects.get(pk=request.pk)


def verify(client, request, otp):
    return client.post(URL.format(request.pk, "verify"), {"otp": otp}, format="json")


@pytest.mark.django_db
def test_right_code_is_200_and_consumes_the_code(api_client):
    request = stepped_up()
    response = verify(api_client, request, CODE)
    assert response.status_code == 200
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert stored.otp_hash == "" and stored.otp_expires_at is None
    assert verify(api_client, request, CODE).status_code == 409


@pytest.mark.django_db
def test_wrong_code_is_422_with_attempts_left(api_client):
    request = stepped_up()
    response = verify(api_client, request, "000000")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "otp_invalid"
    assert error["details"]["attempts_left"] == 2
    assert ProvisioningRequest.objects.get(pk=request.pk).otp_attempts_left == 2


@pytest.mark.django_db
def test_last_wrong_code_declines_the_request(api_client):
    request = stepped_up(attempts_left=1)
    response = verify(api_client, request, "000000")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "otp_attempts_exhausted"
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.failure_code) == (State.DECLINED, "otp_attempts_exhausted")


@pytest.mark.django_db
def test_code_after_the_time_is_up_expires_the_request(api_client):
    request = stepped_up(expires_in=-1)
    response = verify(api_client, request, CODE)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "otp_expired"
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.EXPIRED


@pytest.mark.django_db
@pytest.mark.parametrize("state", [State.TOKEN_REQUESTED, State.PROVISIONED, State.EXPIRED])
def test_verify_outside_step_up_is_409(api_client, state):
    request = ProvisioningRequestFactory(customer_id="cust_demo", state=state)
    response = verify(api_client, request, CODE)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_in_step_up"


@pytest.mark.django_db
@pytest.mark.parametrize("otp", ["12345", "1234567", "abcdef", "", None])
def test_malformed_code_is_400_and_costs_no_attempt(api_client, otp):
    request = stepped_up()
    response = api_client.post(URL.format(request.pk, "verify"), {"otp": otp}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert ProvisioningRequest.objects.get(pk=request.pk).otp_attempts_left == 3


@pytest.mark.django_db
def test_verify_of_another_customers_request_is_404(other_client):
    request = stepped_up()
    assert verify(other_client, request, CODE).status_code == 404
    assert ProvisioningRequest.objects.get(pk=request.pk).otp_attempts_left == 3


@pytest.mark.django_db
def test_resend_within_the_interval_is_429_with_retry_after(api_client):
    request = stepped_up(last_sent_ago=10)
    response = api_client.post(URL.format(request.pk, "resend-otp"))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "otp_resend_too_soon"
    assert 45 <= int(response["Retry-After"]) <= 50


@pytest.mark.django_db
def test_resend_beyond_the_limit_is_429(api_client, settings):
    request = stepped_up(sends=1 + settings.OTP_MAX_RESENDS)
    response = api_client.post(URL.format(request.pk, "resend-otp"))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "otp_resend_limit_reached"


@pytest.mark.django_db
def test_resend_outside_step_up_is_409(api_client):
    request = ProvisioningRequestFactory(customer_id="cust_demo", state=State.PROVISIONED)
    assert api_client.post(URL.format(request.pk, "resend-otp")).status_code == 409


@pytest.mark.django_db
def test_expiry_sweep_expires_an_overdue_step_up_by_beat():
    request = stepped_up(expires_in=-5)
    ProvisioningRequest.objects.filter(pk=request.pk).update(
        due_at=timezone.now() - timedelta(seconds=5))
    assert sweeps.sweep_step_ups()["expired"] == 1
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.EXPIRED
    row = TransitionLog.objects.filter(object_id=request.pk).last()
    assert (row.to_state, row.trigger) == ("expired", "beat")


@pytest.mark.django_db
def test_expiry_sweep_leaves_a_verified_step_up_for_activation():
    request = stepped_up()
    ProvisioningRequest.objects.filter(pk=request.pk).update(
        otp_expires_at=None, otp_hash="", due_at=timezone.now() - timedelta(seconds=1))
    counts = sweeps.sweep_step_ups()
    assert counts["expired"] == 0 and counts["reactivated"] == 1
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.STEP_UP_REQUIRED


@pytest.mark.django_db(transaction=True)
def test_verify_racing_the_expiry_sweep_ends_in_exactly_one_outcome():
    # The code expires right now; verify and sweep go at the same moment, many times.
    outcomes = []
    for _ in range(8):
        request = stepped_up(expires_in=0)
        ProvisioningRequest.objects.filter(pk=request.pk).update(
            otp_expires_at=timezone.now() + timedelta(milliseconds=30),
            due_at=timezone.now() + timedelta(milliseconds=30))
        barrier = threading.Barrier(2)
        results = {}

        def do_verify():
            barrier.wait()
            try:
                results["verify"] = step_up.verify("cust_demo", request.pk, CODE)
            except Exception as exc:  # 409: the sweep won
                results["verify"] = exc
            finally:
                connection.close()

        def do_expire():
            barrier.wait()
            try:
                results["expire"] = step_up.expire_step_up(request.pk, only_if_overdue=False)
            finally:
                connection.close()

        threads = [threading.Thread(target=do_verify), threading.Thread(target=do_expire)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        stored = ProvisioningRequest.objects.get(pk=request.pk)
        log = list(TransitionLog.objects.filter(object_id=request.pk, machine="provisioning_request"))
        verified = getattr(results["verify"], "accepted", False)
        if verified:
            assert stored.state == State.STEP_UP_REQUIRED and stored.otp_expires_at is None
            assert results["expire"] is False and log == []
        else:
            # Expired once, by whichever got the lock first (the sweep, or the late verify).
            assert stored.state == State.EXPIRED
            assert [row.to_state for row in log] == ["expired"]
        outcomes.append(stored.state)
    assert set(outcomes) <= {State.EXPIRED, State.STEP_UP_REQUIRED}


@pytest.mark.django_db
def test_operations_cannot_expire_a_step_up_whose_code_was_accepted():
    request = stepped_up()
    ProvisioningRequest.objects.filter(pk=request.pk).update(otp_expires_at=None, otp_hash="")
    assert step_up.expire_step_up(request.pk, only_if_overdue=False) is False
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.STEP_UP_REQUIRED


# --- a code that cannot reach the customer ---------------------------------------------------

@pytest.mark.django_db
def test_an_undeliverable_code_declines_the_step_up_at_once_and_drops_its_token(api_client):
    request = stepped_up()
    assert step_up.end_unreachable_step_up(request.pk, "step_up_unreachable", sequence=1)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.failure_code, stored.otp_hash) == (
        State.DECLINED, "step_up_unreachable", "")
    assert stored.token.operations_requested == 1  # its delete is enqueued
    body = api_client.get(f"/api/v1/provisioning-requests/{request.pk}").json()
    assert body["failure"]["code"] == "try_again_later"


@pytest.mark.django_db
def test_an_older_codes_failure_leaves_a_fresher_code_alone():
    request = stepped_up(sends=2)
    assert step_up.end_unreachable_step_up(request.pk, "step_up_unreachable", sequence=1) is False
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.STEP_UP_REQUIRED


@pytest.mark.django_db
def test_a_step_up_whose_code_was_accepted_is_not_ended_by_a_late_failure():
    request = stepped_up()
    ProvisioningRequest.objects.filter(pk=request.pk).update(otp_expires_at=None, otp_hash="")
    assert step_up.end_unreachable_step_up(request.pk, "step_up_unreachable", sequence=1) is False
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.STEP_UP_REQUIRED


@pytest.mark.django_db
def test_the_notifications_signal_ends_the_step_up_through_a_task(
        django_capture_on_commit_callbacks):
    from django.db import transaction

    from notifications.signals import one_time_code_undeliverable

    request = stepped_up()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            one_time_code_undeliverable.send(sender=None, object_id=request.pk,
                                             customer_id="cust_demo", sequence=1,
                                             error_code="gateway_unavailable")
    # Nothing moved inside the notification's transaction: a task does it after commit.
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.STEP_UP_REQUIRED
    [task] = [getattr(callback.func, "__self__", None) for callback in callbacks
              if getattr(getattr(callback, "func", None), "__self__", None) is not None
              and callback.func.__self__.name.endswith("end_unreachable_step_up_task")]
    [arguments] = [callback.args for callback in callbacks
                   if getattr(callback.func, "__self__", None) is task]
    task.apply(args=arguments).get()
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.failure_code) == (State.DECLINED, "step_up_unreachable")
