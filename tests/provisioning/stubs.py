"""Provisioning's outside systems stubbed at the client boundary (the only thing unit tests
stub): an issuer, the token service, a telco. `stub_clients` installs them."""

from __future__ import annotations

import pytest

from core.outside.http import TransientError
from provisioning import services
from provisioning.issuer import CardData, Eligibility
from tokens.token_service import Decision

PAN = "4000000000000010"


class StubIssuer:
    eligibility = Eligibility(True, "", "1111", "visa_classic", "+254700000100", 2)
    calls: list = []
    card_failures: list[TransientError] = []  # raised, in order, by the next card reads

    def __init__(self):
        pass

    def check_eligibility(self, **kwargs):
        StubIssuer.calls.append(("eligibility", kwargs))
        if isinstance(self.eligibility, Exception):
            raise self.eligibility
        return self.eligibility

    def card_data(self, **kwargs):
        StubIssuer.calls.append(("card_data", kwargs))
        if StubIssuer.card_failures:
            raise StubIssuer.card_failures.pop(0)
        return CardData(pan=PAN, expiry_month="12", expiry_year="2029", cardholder_name="A")


class StubTokenService:
    decision: Decision | Exception = Decision("green", "tkn_1", "ACTIVE", "9876", "12/29",
                                              {"opaque_payment_card": "b3BhcXVl"})
    status: Decision | None = None
    provision_calls: list = []

    def provision(self, call):
        StubTokenService.provision_calls.append(call)
        if isinstance(self.decision, Exception):
            raise self.decision
        return self.decision

    def provision_status(self, request_id):
        return self.status


class StubTelco:
    def last_sim_swap(self, msisdn):
        from decisioning.telco import SimSwap

        return SimSwap(msisdn=msisdn, last_swap_at=None)


@pytest.fixture(autouse=True)
def stub_clients(monkeypatch):
    import decisioning.telco as telco_module
    import tokens.token_service as token_service_module

    StubIssuer.calls = []
    StubIssuer.card_failures = []
    StubIssuer.eligibility = Eligibility(True, "", "1111", "visa_classic", "+254700000100", 2)
    StubTokenService.provision_calls = []
    StubTokenService.decision = Decision("green", "tkn_1", "ACTIVE", "9876", "12/29",
                                         {"opaque_payment_card": "b3BhcXVl"})
    StubTokenService.status = None
    monkeypatch.setattr(services, "IssuerClient", StubIssuer)
    monkeypatch.setattr(token_service_module, "TokenServiceClient", StubTokenService)
    monkeypatch.setattr(telco_module, "TelcoClient", StubTelco)
