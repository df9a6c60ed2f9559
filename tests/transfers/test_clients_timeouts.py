"""Every Visa Direct client sends with its own registry entry's timeouts (OutsideClient's
`timeout`), so a per-system setting such as PAYOUTS_READ_TIMEOUT is honoured."""

from __future__ import annotations

import pytest

from core.outside.errors import OutsideTimeout
from transfers import attributes, ledger, payouts, screening


class _TimingOut:
    """A session whose every request times out, after noting the timeout it was given."""

    def __init__(self):
        self.timeouts = []

    def request(self, method, url, **kwargs):
        import requests

        self.timeouts.append(kwargs["timeout"])
        raise requests.Timeout()


CALLS = [
    (ledger.LedgerClient, lambda c: c.holds_for("t-1"), "mpesa_timeout"),
    (screening.ScreeningClient, lambda c: c.screen(name="A B", country="KE", reference="t-1"),
     "screening_timeout"),
    (attributes.AttributesClient, lambda c: c.inquire("4111111111111111"), "attributes_timeout"),
    (payouts.TransactionSearchClient, lambda c: c.status("t-1"), "payouts_timeout"),
]


@pytest.mark.parametrize(("client_class", "call", "code"), CALLS,
                         ids=[c[0].__name__ for c in CALLS])
def test_each_client_sends_with_its_entry_timeouts(monkeypatch, client_class, call, code):
    monkeypatch.setattr(client_class, "timeout", property(lambda self: (0.25, 7.5)))
    client = client_class()
    client.session = _TimingOut()
    with pytest.raises(OutsideTimeout) as raised:
        call(client)
    assert raised.value.code == code
    assert client.session.timeouts == [(0.25, 7.5)]


def test_the_payout_itself_uses_the_payouts_entry_timeouts(monkeypatch):
    monkeypatch.setattr(payouts.PayoutsClient, "timeout", property(lambda self: (0.5, 9.0)))
    client = payouts.PayoutsClient()
    client.session = _TimingOut()
    oct_ = payouts.Oct(transfer_id="t-1", amount=100, currency="KES", sender_name="A",
                       sender_reference="c", recipient_name="B C", recipient_country="KE",
                       pan="4111111111111111")
    with pytest.raises(OutsideTimeout) as raised:
        client.send(oct_)
    assert raised.value.code == "payouts_timeout"
    assert client.session.timeouts == [(0.5, 9.0)]
