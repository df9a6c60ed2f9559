"""Shared by the decisioning rule tests: the issuer's answer, a telco stand-in (its HTTP
client only; everything else is real), and the helpers that pick and tune rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from decisioning import services as decisioning
from decisioning.models import DecisionRule, Mode
from decisioning.telco import SimSwap, TelcoUnavailable
from provisioning.issuer import Eligibility
from provisioning.models import State
from provisioning.selectors import PushHistory
from tests.factories import ProvisioningRequestFactory

ELIGIBLE = Eligibility(True, "", "1111", "visa_classic", "+254700000100", "tier_2")


class Telco:
    """Stands in for the telco's HTTP client only; everything else is real."""

    swapped_hours_ago: float | None = None
    down: bool = False

    def last_sim_swap(self, msisdn):
        if Telco.down:
            raise TelcoUnavailable("telco_unavailable")
        when = (None if Telco.swapped_hours_ago is None
                else timezone.now() - timedelta(hours=Telco.swapped_hours_ago))
        return SimSwap(msisdn, when)


@pytest.fixture(autouse=True)
def telco(monkeypatch):
    import decisioning.telco as telco_module

    Telco.swapped_hours_ago, Telco.down = None, False
    monkeypatch.setattr(telco_module, "TelcoClient", Telco)
    return Telco


def only(*keys):
    """Enable just these rules (the migration installs all defaults)."""
    DecisionRule.objects.exclude(key__in=keys).update(enabled=False)
    DecisionRule.objects.filter(key__in=keys).update(enabled=True, mode=Mode.ENFORCE)


def set_params(key, **params):
    rule = DecisionRule.objects.get(key=key)
    rule.params = {**rule.params, **params}
    rule.save()


def evaluate(request=None, eligibility=ELIGIBLE):
    request = request or ProvisioningRequestFactory(state=State.RECEIVED)
    return decisioning.evaluate(request, eligibility, history=PushHistory(request))
