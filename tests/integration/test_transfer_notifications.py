"""A transfer's end reaches its sender once: the API over HTTP → the live worker → the
sandbox's ledger and payouts → the outbox → the sandbox's SMS gateway, asserted on the
sandbox inbox and its duplicate-reference counter."""

from __future__ import annotations

import random

import pytest
import requests

from devstack import wait_until
from notifications.models import Channel, CustomerProfile, Notification, Status, TemplateKey
from transfers.models import State

from .test_transfers import AMOUNT, Visa

pytestmark = [pytest.mark.integration, pytest.mark.embedded]


@pytest.fixture(autouse=True)
def _fee_schedule(stack):
    from tests.transfers.conftest import install_first_fee_schedule

    install_first_fee_schedule()


def _customer_by_sms(stack, locale: str) -> tuple[Visa, str]:
    visa = Visa(stack)
    msisdn = f"+2547{random.randrange(10**8):08d}"
    CustomerProfile.objects.create(customer_id=visa.customer_id, locale=locale,
                                   preferred_channel=Channel.SMS, msisdn=msisdn)
    return visa, msisdn


def _inbox(stack, to: str) -> list[dict]:
    response = requests.get(f"{stack.sandbox}/sandbox/messages", params={"to": to}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def _one_sent_notification(transfer_id) -> Notification:
    def sent():
        rows = list(Notification.objects.filter(object_id=transfer_id))
        return rows if rows and all(row.status == Status.SENT for row in rows) else None

    rows = wait_until(sent, timeout=30, message=f"the notification of {transfer_id} sent")
    assert len(rows) == 1, [(row.template_key, row.status) for row in rows]
    return rows[0]


def _exactly_one_message(stack, msisdn: str, reference: str) -> dict:
    wait_until(lambda: _inbox(stack, msisdn) or None, timeout=30,
               message=f"a message to {msisdn}")
    # The row is already `sent` (final): a second send of it (a redelivered dispatch, the
    # outbox drain) would be a second message under the same reference.
    messages = _inbox(stack, msisdn)
    assert [m["reference"] for m in messages] == [reference], [m["body"] for m in messages]
    duplicates = stack.sandbox_stats()["messages"]
    assert reference not in (duplicates.get("duplicated") or {}), duplicates
    return messages[0]


def test_a_completed_transfer_tells_its_sender_once_by_sms(stack):
    visa, msisdn = _customer_by_sms(stack, "en")
    created = visa.send("0010")
    assert visa.wait(created["id"]).state == State.COMPLETED
    notification = _one_sent_notification(created["id"])
    assert notification.template_key == TemplateKey.TRANSFER_COMPLETED
    message = _exactly_one_message(stack, msisdn, notification.reference)
    assert message["channel"] == "sms"
    assert message["body"].startswith(
        f"You have sent KES {AMOUNT // 100:,}.00 to JANE WANJIKU, Visa card ending 0010. "
        "The money is on the card now.")


def test_a_declined_transfer_tells_its_sender_once_in_swahili_that_the_money_is_back(stack):
    visa, msisdn = _customer_by_sms(stack, "sw")
    created = visa.send("0002")
    transfer = visa.wait(created["id"])
    assert transfer.state == State.DECLINED
    notification = _one_sent_notification(created["id"])
    assert notification.template_key == TemplateKey.TRANSFER_DECLINED
    message = _exactly_one_message(stack, msisdn, notification.reference)
    total = f"KES {transfer.total // 100:,}.{transfer.total % 100:02d}"
    assert "inayoishia 0002, umekataliwa" in message["body"]
    assert f"{total} (kiasi pamoja na ada) zimerudishwa kwenye salio lako la M-Pesa." \
        in message["body"]
    assert visa.account()["balance"] == 5_000_000
