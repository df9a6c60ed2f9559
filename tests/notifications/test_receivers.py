"""The outbox receiver: which state changes add a notification, once, in the same transaction."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_fsm.signals import post_transition

from notifications.models import Channel, CustomerProfile, Notification, Status, TemplateKey
from notifications.services import queue_event_notification
from core.models import Trigger
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tests.notifications.conftest import enqueued_dispatches
from tokens.models import Token, TokenState

pytestmark = pytest.mark.django_db

MSISDN = "+254700000100"


def _move(instance, name, **kwargs):
    with transaction.atomic():
        getattr(instance, name)(by=Trigger.WORKER, **kwargs)
        instance.save()


@pytest.mark.parametrize("name,source,kwargs,template_key", [
    ("mark_provisioned", State.TOKEN_REQUESTED, {}, TemplateKey.PROVISIONED),
    ("decline", State.TOKEN_REQUESTED, {}, TemplateKey.DECLINED),
    ("mark_ineligible", State.RECEIVED, {"reason": "card_blocked"}, TemplateKey.INELIGIBLE),
    ("fail", State.ELIGIBLE, {"reason": "issuer_unavailable"}, TemplateKey.FAILED),
    ("expire", State.STEP_UP_REQUIRED, {}, TemplateKey.EXPIRED),
])
def test_each_request_outcome_queues_one_notification_of_its_kind(name, source, kwargs,
                                                                  template_key):
    request = ProvisioningRequestFactory(state=source, customer_msisdn=MSISDN)
    _move(request, name, **kwargs)
    notification = Notification.objects.get(object_id=request.pk)
    assert notification.template_key == template_key
    assert notification.customer_id == request.customer_id
    assert notification.msisdn == MSISDN
    assert notification.status == Status.PENDING


@pytest.mark.parametrize("name,source", [
    ("mark_eligible", State.RECEIVED),
    ("mark_token_requested", State.ELIGIBLE),
    ("require_step_up", State.TOKEN_REQUESTED),
    ("cancel", State.RECEIVED),
])
def test_intermediate_states_and_a_customers_own_cancel_queue_nothing(name, source):
    request = ProvisioningRequestFactory(state=source)
    _move(request, name)
    assert not Notification.objects.filter(object_id=request.pk).exists()


def test_the_message_names_the_wallet_and_last_four_and_nothing_more_of_the_card():
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, wallet="samsung_pay",
                                         card_last4="1111", customer_msisdn=MSISDN)
    _move(request, "mark_provisioned")
    assert Notification.objects.get(object_id=request.pk).context == {
        "wallet": "samsung_pay", "card_last4": "1111"}


def test_the_same_transition_signal_fired_twice_queues_one_notification():
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_msisdn=MSISDN)
    with transaction.atomic():
        request.mark_provisioned(by=Trigger.WORKER)
        request.save()
        post_transition.send(sender=ProvisioningRequest, instance=request,
                             name="mark_provisioned", source=State.TOKEN_REQUESTED,
                             target=State.PROVISIONED, method_kwargs={"by": Trigger.WORKER})
    assert Notification.objects.filter(object_id=request.pk).count() == 1


def test_a_rolled_back_transition_notifies_nobody():
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_msisdn=MSISDN)
    with pytest.raises(RuntimeError), transaction.atomic():
        request.mark_provisioned(by=Trigger.WORKER)
        request.save()
        raise RuntimeError("the service failed after the transition")
    assert not Notification.objects.filter(object_id=request.pk).exists()


def test_dispatch_is_enqueued_only_when_the_transaction_commits(
        django_capture_on_commit_callbacks):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_msisdn=MSISDN)
    with django_capture_on_commit_callbacks() as callbacks:
        _move(request, "mark_provisioned")
        notification = Notification.objects.get(object_id=request.pk)
    assert enqueued_dispatches(callbacks) == [(str(notification.pk),)]
    assert notification.status == Status.PENDING


def test_a_duplicate_signal_enqueues_no_second_dispatch(django_capture_on_commit_callbacks):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_msisdn=MSISDN)
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        request.mark_provisioned(by=Trigger.WORKER)
        request.save()
        post_transition.send(sender=ProvisioningRequest, instance=request,
                             name="mark_provisioned", source=State.TOKEN_REQUESTED,
                             target=State.PROVISIONED, method_kwargs={"by": Trigger.WORKER})
    assert len(enqueued_dispatches(callbacks)) == 1


def test_failing_again_after_an_operations_retry_notifies_again():
    request = ProvisioningRequestFactory(state=State.ELIGIBLE, customer_msisdn=MSISDN)
    _move(request, "fail", reason="issuer_unavailable")
    _move(request, "retry")
    _move(request, "fail", reason="issuer_unavailable")
    kinds = list(Notification.objects.filter(object_id=request.pk)
                 .values_list("template_key", flat=True))
    assert kinds == [TemplateKey.FAILED, TemplateKey.FAILED]


@pytest.mark.parametrize("name,source,template_key", [
    ("suspend", TokenState.ACTIVE, TemplateKey.TOKEN_SUSPENDED),
    ("resume", TokenState.SUSPENDED, TemplateKey.TOKEN_RESUMED),
    ("delete_token", TokenState.ACTIVE, TemplateKey.TOKEN_DELETED),
    ("delete_token", TokenState.SUSPENDED, TemplateKey.TOKEN_DELETED),
])
def test_token_lifecycle_changes_tell_the_customer_with_the_cards_last_four(name, source,
                                                                            template_key):
    token = TokenFactory(state=source, token_last4="9999",
                         provisioning_request__customer_msisdn=MSISDN,
                         provisioning_request__card_last4="1111")
    _move(token, name)
    notification = Notification.objects.get(object_id=token.pk)
    assert notification.template_key == template_key
    assert notification.context["card_last4"] == "1111"  # the card's, not the token's
    assert notification.msisdn == MSISDN


def test_activating_a_new_token_is_not_a_resume():
    token = TokenFactory(state=TokenState.INACTIVE)
    _move(token, "activate")
    assert not Notification.objects.filter(object_id=token.pk).exists()


def test_deleting_a_token_that_was_never_active_is_left_to_the_requests_own_message():
    token = TokenFactory(state=TokenState.INACTIVE)
    _move(token, "delete_token")
    assert not Notification.objects.filter(object_id=token.pk).exists()


def test_suspending_again_after_a_resume_is_a_second_message():
    token = TokenFactory(state=TokenState.ACTIVE)
    for name in ("suspend", "resume", "suspend"):
        _move(token, name)
    assert list(Notification.objects.filter(object_id=token.pk).order_by("created_at")
                .values_list("template_key", flat=True)) == [
        TemplateKey.TOKEN_SUSPENDED, TemplateKey.TOKEN_RESUMED, TemplateKey.TOKEN_SUSPENDED]
    assert Token.objects.get(pk=token.pk).state == TokenState.SUSPENDED


def test_the_customers_language_and_channel_are_taken_from_their_profile():
    CustomerProfile.objects.create(customer_id="cust_test", locale="sw", preferred_channel="sms")
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_id="cust_test")
    _move(request, "decline")
    notification = Notification.objects.get(object_id=request.pk)
    assert (notification.locale, notification.channel) == ("sw", Channel.SMS)


def test_without_a_profile_a_customer_is_told_in_english_by_push():
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_id="cust_new")
    _move(request, "decline")
    notification = Notification.objects.get(object_id=request.pk)
    assert (notification.locale, notification.channel) == ("en", Channel.PUSH)


def test_a_request_without_an_msisdn_takes_the_number_from_the_profile():
    CustomerProfile.objects.create(customer_id="cust_test", msisdn="+254700000999")
    request = ProvisioningRequestFactory(state=State.RECEIVED, customer_id="cust_test",
                                         customer_msisdn="")
    _move(request, "mark_ineligible", reason="card_blocked")
    assert Notification.objects.get(object_id=request.pk).msisdn == "+254700000999"


def test_queueing_the_same_event_twice_returns_the_first_row():
    request = ProvisioningRequestFactory(state=State.PROVISIONED)
    first = queue_event_notification(customer_id="c", object_id=request.pk, event="provisioned:1",
                                     template_key=TemplateKey.PROVISIONED, context={})
    second = queue_event_notification(customer_id="c", object_id=request.pk,
                                      event="provisioned:1", template_key=TemplateKey.PROVISIONED,
                                      context={})
    assert second.pk == first.pk
    assert Notification.objects.filter(object_id=request.pk).count() == 1
