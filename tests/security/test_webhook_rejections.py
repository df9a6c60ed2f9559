"""Every inbound webhook the service refuses leaves the database exactly as it was: forged,
stale, malformed, oversized and replayed deliveries alike. (Status codes and the happy
paths are in tests/tokens/test_webhooks.py; this is the "changes nothing" proof.)"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.conf import settings

from core.models import TransitionLog

from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory
from tokens.models import Token, WebhookEvent
from tokens.webhooks import sign

URL = "/webhooks/token-service"


def _snapshot():
    return (list(ProvisioningRequest.objects.order_by("pk").values()),
            list(TransitionLog.objects.order_by("pk").values()),
            list(Token.objects.order_by("pk").values()),
            list(WebhookEvent.objects.order_by("pk").values()))


def _event(request_id, **data) -> dict:
    return {"id": f"evt_{uuid.uuid4().hex}", "type": "provisioning.decision",
            "created": int(time.time()),
            "data": {"request_id": str(request_id), "decision": "green",
                     "token_ref": f"tkn_{uuid.uuid4().hex[:8]}", "token_last4": "5678",
                     "token_expiry": "11/30", "wallet_payload": {"opaque_payment_card": "eA=="},
                     **data}}


def _post(client, raw: bytes, ts: str, signature: str, **headers):
    return client.post(URL, raw, content_type="application/json",
                       HTTP_X_WEBHOOK_TIMESTAMP=ts, HTTP_X_WEBHOOK_SIGNATURE=signature,
                       **headers)


def _deliveries(request_id):
    secret = settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0]
    now = str(int(time.time()))
    good = json.dumps(_event(request_id)).encode()
    stale = str(int(time.time()) - settings.WEBHOOK_TOLERANCE_SECONDS - 1)
    return {
        "forged signature": (good, now, "v1=" + "0" * 64),
        "unknown secret": (good, now, sign("whsec_not_ours", now, good)),
        "body changed after signing": (good.replace(b'"green"', b'"red"'), now,
                                       sign(secret, now, good)),
        "stale timestamp": (good, stale, sign(secret, stale, good)),
        "future timestamp": (good, str(int(now) + 3600), sign(secret, str(int(now) + 3600), good)),
        "timestamp not a number": (good, "yesterday", sign(secret, "yesterday", good)),
        "signature of another scheme": (good, now, "v0=" + sign(secret, now, good)[3:]),
        "no signature": (good, now, ""),
        "not json": (b"{not json", now, sign(secret, now, b"{not json")),
        "event without data": (b'{"id": "evt_x", "type": "t", "created": 1}', now,
                               sign(secret, now, b'{"id": "evt_x", "type": "t", "created": 1}')),
        "oversized": (b" " * (settings.WEBHOOK_MAX_BYTES + 1), now,
                      sign(secret, now, b" " * (settings.WEBHOOK_MAX_BYTES + 1))),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(_deliveries(uuid.uuid4())))
def test_a_refused_delivery_is_4xx_and_changes_nothing(client, kind):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    before = _snapshot()
    response = _post(client, *_deliveries(request.pk)[kind])
    assert response.status_code in (400, 401, 413), response.content
    assert "error" in response.json()
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_signed_decision_that_is_not_valid_changes_nothing(client):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    raw = json.dumps(_event(request.pk, decision="purple")).encode()
    now = str(int(time.time()))
    before = _snapshot()
    response = _post(client, raw, now, sign(settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0], now, raw))
    assert response.status_code == 400
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_replayed_event_changes_nothing_even_re_signed_later(client):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    raw = json.dumps(_event(request.pk)).encode()
    secret = settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0]
    now = str(int(time.time()))
    assert _post(client, raw, now, sign(secret, now, raw)).status_code == 200
    after_first = _snapshot()
    later = str(int(now) + 120)
    replay = _post(client, raw, later, sign(secret, later, raw))
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert _snapshot() == after_first
