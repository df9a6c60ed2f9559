"""Sentry as the service configures it: an exception with a PAN and a one-time code in its
message, its log lines and its request (query string and body) reaches the transport with
neither. The transport keeps envelopes in memory instead of sending them."""

from __future__ import annotations

import json

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from core.observability import sentry as service_sentry
from core.observability.redaction import MASK_PAN
from tests.security.support import OTP, PAN, forms_of


class MemoryTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def sent_bytes(self) -> str:
        return "\n".join(e.serialize().decode("utf-8", "replace") for e in self.envelopes)

    def events(self) -> list[dict]:
        return [e.get_event() for e in self.envelopes if e.get_event() is not None]


@pytest.fixture
def sentry_transport():
    transport = MemoryTransport()
    service_sentry.init("https://public@sentry.example/1", environment="test", release="test",
                        transport=transport, request_bodies="always")
    try:
        yield transport
    finally:
        sentry_sdk.flush()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.mark.django_db
@pytest.mark.urls("tests.security.failing_urls")
def test_an_exception_with_card_data_reaches_sentry_masked(client, sentry_transport):
    client.raise_request_exception = False
    body = {"pan": PAN, "note": f"card {forms_of(PAN)[1]}, code: {OTP}", "card": forms_of(PAN)[2]}
    response = client.post(f"/fail?card={PAN}&otp={OTP}", data=json.dumps(body),
                           content_type="application/json")
    assert response.status_code == 500
    sentry_sdk.flush()

    events = sentry_transport.events()
    crashes = [e for e in events if e.get("exception")]
    assert crashes, "the exception never reached the transport"
    assert crashes[0]["exception"]["values"][-1]["type"] == "ValueError"
    assert MASK_PAN in crashes[0]["exception"]["values"][-1]["value"]
    assert crashes[0]["request"].get("data"), "the request body was not captured"
    sent = sentry_transport.sent_bytes()
    for form in forms_of(PAN):
        assert form not in sent
    assert OTP not in sent


def test_before_send_masks_every_string_of_an_event_request_body_included():
    event = {
        "message": f"card {PAN}",
        "exception": {"values": [{"type": "ValueError", "value": f"otp={OTP} pan {PAN}"}]},
        "request": {"data": {"pan": PAN, "otp": OTP, "text": f"{OTP} is your code"},
                    "query_string": f"card={PAN}", "headers": {"Authorization": "Bearer x"}},
        "breadcrumbs": {"values": [{"message": f"card data for {forms_of(PAN)[2]}"}]},
        "extra": {"body": f'{{"card_number": "{PAN}"}}'},
    }
    flat = json.dumps(service_sentry.before_send(event))
    for form in forms_of(PAN):
        assert form not in flat
    assert OTP not in flat and "Bearer x" not in flat


def test_sentry_is_configured_without_default_pii_or_local_variables(sentry_transport):
    options = sentry_sdk.get_client().options
    assert options["send_default_pii"] is False
    assert options["include_local_variables"] is False
    assert options["before_send"] is service_sentry.before_send
    assert options["before_breadcrumb"] is service_sentry.before_breadcrumb


def test_production_default_keeps_request_bodies_out_of_sentry():
    import inspect

    assert inspect.signature(service_sentry.init).parameters["request_bodies"].default == "never"
