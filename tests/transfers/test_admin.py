"""Admin of transfers: masked data only, the review queue with who and why, operations
settle needs_attention from the network's answer; support may look, not act."""

import pytest
from django.contrib.auth.models import Group

from core.models import TransitionLog
from transfers.models import NetworkOutcome, State

from .factories import GREEN_PAN, PayeeFactory, TransferFactory

pytestmark = pytest.mark.django_db


def _staff(client, django_user_model, group):
    user = django_user_model.objects.create_user(f"{group}_user", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


def test_payee_and_transfer_pages_show_the_last_four_and_name_never_the_pan(client,
                                                                             django_user_model):
    _staff(client, django_user_model, "support")
    transfer = TransferFactory()
    pages = [client.get("/admin/transfers/payee/"),
             client.get(f"/admin/transfers/payee/{transfer.payee_id}/change/"),
             client.get("/admin/transfers/transfer/"),
             client.get(f"/admin/transfers/transfer/{transfer.pk}/change/")]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert GREEN_PAN not in html and transfer.payee.pan_fingerprint not in html
        assert "0010" in html


def test_operations_approve_a_review_with_a_reason_that_lands_in_the_log(
        client, django_user_model, no_tasks):
    _staff(client, django_user_model, "operations")
    transfer = TransferFactory(state=State.IN_REVIEW)
    url = f"/admin/transfers/transfer/{transfer.pk}/act/approve/"
    client.post(url, {"reason": ""})
    transfer.refresh_from_db()
    assert transfer.state == State.IN_REVIEW  # no reason, no move
    client.post(url, {"reason": "documents checked"})
    transfer.refresh_from_db()
    assert transfer.state == State.CHECKED
    row = TransitionLog.objects.get(object_id=transfer.pk)
    assert (row.actor, row.reason, row.trigger) == ("operations_user", "documents checked",
                                                    "admin")
    assert no_tasks == [("hold_funds_task", str(transfer.pk))]


def test_support_cannot_act_on_a_review(client, django_user_model):
    _staff(client, django_user_model, "support")
    transfer = TransferFactory(state=State.IN_REVIEW)
    client.post(f"/admin/transfers/transfer/{transfer.pk}/act/reject/", {"reason": "no"})
    transfer.refresh_from_db()
    assert transfer.state == State.IN_REVIEW


def test_operations_settle_needs_attention_from_the_network(client, django_user_model,
                                                            network, fake_ledger):
    from transfers.payouts import PayoutStatus

    _staff(client, django_user_model, "operations")
    transfer = TransferFactory(state=State.NEEDS_ATTENTION, hold_id="hold_z",
                               network_outcome=NetworkOutcome.UNKNOWN)
    fake_ledger.holds["hold_z"] = {"id": "hold_z", "status": "held", "total": transfer.total,
                                   "reference": str(transfer.pk), "customer": "cust_test"}
    network.payouts[str(transfer.pk)] = PayoutStatus("approved", "p1")
    client.post(f"/admin/transfers/transfer/{transfer.pk}/act/resolve/")
    transfer.refresh_from_db()
    assert transfer.state == State.COMPLETED
    assert fake_ledger.holds["hold_z"]["status"] == "captured"


def test_editing_the_fee_in_admin_saves_a_new_version_and_keeps_the_old(client,
                                                                       django_user_model):
    from transfers.models import FeeSchedule

    _staff(client, django_user_model, "operations")
    first = FeeSchedule.objects.get(version=1)
    response = client.post(f"/admin/transfers/feeschedule/{first.pk}/change/", {
        "fixed_fee": 3000, "percent_bps": 50, "min_fee": 3000, "max_fee": 40000,
        "effective_from_0": "2026-01-01", "effective_from_1": "00:00:00", "note": "new"})
    assert response.status_code == 302, response.content[:2000]
    newest = FeeSchedule.objects.order_by("-version").first()
    assert (newest.version, newest.fixed_fee, newest.created_by) == (2, 3000, "operations_user")
    assert FeeSchedule.objects.get(version=1).fixed_fee == 2500


def test_a_transfers_page_shows_each_rule_verdict_and_the_rule_shows_how_often_it_fired(
        client, django_user_model):
    from transfers.models import TransferRuleResult

    _staff(client, django_user_model, "support")
    transfer = TransferFactory()
    TransferRuleResult.objects.create(
        transfer=transfer, rule_key="transfer-senders-per-card",
        rule_kind="transfer_senders_per_card", rule_version=1, mode="shadow", outcome="yellow",
        reason_code="card_velocity", inputs={"senders": 7, "max": 5})
    html = client.get(f"/admin/transfers/transfer/{transfer.pk}/change/").content.decode()
    assert 'class="rule-result-row"' in html and "card_velocity" in html

    from datetime import timedelta

    from django.utils import timezone

    from decisioning.services import firing_counts

    counts = firing_counts(timezone.now() - timedelta(hours=1))
    assert counts["transfer-senders-per-card"] == {"yellow": 1}
