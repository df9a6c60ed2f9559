"""Transfers' metrics: outcomes by terminal state and failure-code family and the time from
accepted to that end (both counted when the move commits), and, read from the database at
scrape time, transfers per open state, the money held on customers' balances, the
status-inquiry backlog and overdue ("stuck") transfers. Alerts: deploy/prometheus/alerts.yml.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django_fsm.signals import post_transition
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from core.observability.metrics import DatabaseGauges, register_database_gauges

from .models import MOVING_STATES, TERMINAL_STATES, NetworkOutcome, State, Transfer

OUTCOMES = Counter(
    "transfers_outcomes_total",
    "Transfers that ended, by terminal state and failure-code family (\"\" when completed)",
    ["state", "code"],
)
COMPLETION_SECONDS = Histogram(
    "transfers_completion_seconds",
    "Time from a transfer's acceptance to its terminal state, by that state",
    ["state"],
    # Seconds when all goes well; minutes through inquiries; hours to days when a person
    # settles one that needed attention.
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600),
)

OPEN_STATES = (State.RECEIVED, State.IN_REVIEW, State.CHECKED, State.FUNDS_HELD,
               State.SUBMITTED, State.NEEDS_ATTENTION)
# Where amount + fee sit held on the customer's M-Pesa balance.
HELD_STATES = (State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION)
UNSETTLED_OUTCOMES = (NetworkOutcome.UNKNOWN, NetworkOutcome.PENDING)


def code_family(failure_code: str) -> str:
    """`network_declined:05` → `network_declined`: the stable part the runbook lists (the
    network's own reason after the colon would grow the label set without bound)."""
    return failure_code.split(":", 1)[0][:64]


@receiver(post_transition, sender=Transfer, dispatch_uid="transfers.metrics.count_outcome")
def count_outcome(sender, instance, name, source, target, **_kwargs):
    if target not in TERMINAL_STATES:
        return
    state = str(target)
    code = "" if target == State.COMPLETED else code_family(instance.failure_code)
    elapsed = max((timezone.now() - instance.created_at).total_seconds(), 0.0)

    def count():
        OUTCOMES.labels(state, code).inc()
        COMPLETION_SECONDS.labels(state).observe(elapsed)

    transaction.on_commit(count)


def _families() -> list[GaugeMetricFamily]:
    return [
        GaugeMetricFamily("transfers", "Transfers per open state", labels=["state"]),
        GaugeMetricFamily("transfers_money_held_minor_units",
                          "Amount + fee held on customers' M-Pesa balances now, minor units",
                          labels=["state", "currency"]),
        GaugeMetricFamily("transfers_oldest_hold_seconds",
                          "How long the oldest transfer in this state has had money held",
                          labels=["state"]),
        GaugeMetricFamily("transfers_inquiry_backlog",
                          "Submitted transfers whose outcome is still unknown or pending",
                          labels=["outcome"]),
        GaugeMetricFamily("transfers_oldest_inquiry_seconds",
                          "How long ago the OCT of the oldest transfer still being asked "
                          "about was sent"),
        GaugeMetricFamily("transfers_stuck", "Transfers past their due time (due_at < now)",
                          labels=["state"]),
        GaugeMetricFamily("transfers_oldest_stuck_seconds",
                          "How long the most overdue transfer is past due", labels=["state"]),
    ]


def read_gauges():
    from django.db.models import Count, Min, Sum

    per_state, held, oldest_hold, backlog, oldest_inquiry, stuck, oldest_stuck = _families()
    now = timezone.now()

    def age(moment) -> float:
        return max((now - moment).total_seconds(), 0.0) if moment else 0.0

    counts = dict.fromkeys(OPEN_STATES, 0)
    counts.update(Transfer.objects.filter(state__in=OPEN_STATES).values_list("state")
                  .annotate(n=Count("pk")).order_by())
    for state, count in counts.items():
        per_state.add_metric([state], count)

    holds = {(state, currency): (total, first) for state, currency, total, first in
             Transfer.objects.filter(state__in=HELD_STATES)
             .values_list("state", "currency")
             .annotate(total=Sum("total"), first=Min("hold_requested_at")).order_by()}
    currencies = {currency for _, currency in holds} or {"KES"}
    for state in HELD_STATES:
        firsts = []
        for currency in sorted(currencies):
            total, first = holds.get((state, currency), (0, None))
            held.add_metric([state, currency], total or 0)
            firsts.extend([first] if first else [])
        oldest_hold.add_metric([state], age(min(firsts)) if firsts else 0)

    asking = dict.fromkeys(UNSETTLED_OUTCOMES, 0)
    asking.update(Transfer.objects.filter(state=State.SUBMITTED,
                                          network_outcome__in=UNSETTLED_OUTCOMES)
                  .values_list("network_outcome").annotate(n=Count("pk")).order_by())
    for outcome, count in asking.items():
        backlog.add_metric([outcome], count)
    first_sent = Transfer.objects.filter(
        state=State.SUBMITTED, network_outcome__in=UNSETTLED_OUTCOMES).aggregate(
        first=Min("payout_sent_at"))["first"]
    oldest_inquiry.add_metric([], age(first_sent))

    overdue = {state: (count, first) for state, count, first in
               Transfer.objects.filter(due_at__isnull=False, due_at__lt=now,
                                       state__in=MOVING_STATES)
               .values_list("state").annotate(n=Count("pk"), first=Min("due_at")).order_by()}
    for state in MOVING_STATES:
        count, first = overdue.get(state, (0, None))
        stuck.add_metric([state], count)
        oldest_stuck.add_metric([state], age(first))
    return [per_state, held, oldest_hold, backlog, oldest_inquiry, stuck, oldest_stuck]


register_database_gauges(DatabaseGauges("transfers", _families, read_gauges))
