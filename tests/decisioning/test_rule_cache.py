"""Each process reads the enabled rule set at most every DECISION_RULES_CACHE_SECONDS; a
rule saved in the process is seen there at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisioning import services
from decisioning.models import DecisionRule
from decisioning.rules import KINDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings):
    settings.DECISION_RULES_CACHE_SECONDS = 60
    services.forget_enabled_rules()
    yield
    services.forget_enabled_rules()


def _reads(kinds=KINDS) -> tuple[list[str], int]:
    with CaptureQueriesContext(connection) as queries:
        keys = [rule.key for rule in services.enabled_rules(kinds)]
    return keys, len(queries.captured_queries)


def test_within_the_ttl_the_rule_set_is_read_once(cached):
    first, reads = _reads()
    assert reads == 1 and first  # the migrations' default rules
    assert _reads() == (first, 0)


def test_a_rule_saved_in_this_process_is_seen_at_once(cached):
    first, _ = _reads()
    rule = DecisionRule.objects.get(key=first[0])
    rule.enabled = False
    rule.save()
    assert _reads() == (first[1:], 1)


def test_past_the_ttl_a_change_made_elsewhere_is_read(cached, settings, monkeypatch):
    first, _ = _reads()
    # Another process's change: an UPDATE sends no signal here.
    DecisionRule.objects.filter(key=first[0]).update(enabled=False)
    assert _reads()[0] == first  # still within the TTL
    clock = services.time.monotonic() + 61
    monkeypatch.setattr(services.time, "monotonic", lambda: clock)
    assert _reads() == (first[1:], 1)


def test_a_ttl_of_zero_reads_every_time(settings):
    settings.DECISION_RULES_CACHE_SECONDS = 0
    services.forget_enabled_rules()
    assert _reads()[1] == 1
    assert _reads()[1] == 1
