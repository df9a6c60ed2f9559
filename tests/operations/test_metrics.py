"""Prometheus metrics: committed transitions, requests per state and stuck requests from
the database, notification outcomes, Celery task durations, retries and failures, on
web's /metrics and on a real prefork worker's metrics port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import transaction
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from devstack import free_port
from core.models import Trigger
from provisioning.models import State
from tests.factories import ProvisioningRequestFactory
from tests.live import wait_until

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(text: str) -> dict[tuple, float]:
    """Exposition text → {(sample name, sorted labels): value}."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# --- transitions ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_committed_transition_is_counted_by_machine_from_to_and_trigger(
        django_capture_on_commit_callbacks):
    labels = {"machine": "provisioning_request", "from_state": "received",
              "to_state": "cancelled", "trigger": "api"}
    before = sample("transitions_total", **labels)
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            request.cancel(by=Trigger.API)
            request.save()
    assert sample("transitions_total", **labels) == before + 1


@pytest.mark.django_db
def test_a_rolled_back_transition_is_not_counted(django_capture_on_commit_callbacks):
    labels = {"machine": "provisioning_request", "from_state": "received",
              "to_state": "failed", "trigger": "worker"}
    before = sample("transitions_total", **labels)
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                request.fail(by=Trigger.WORKER, reason="issuer_timeout")
                request.save()
                raise RuntimeError("the service's transaction fails after the move")
    assert sample("transitions_total", **labels) == before


@pytest.mark.django_db
def test_token_transitions_are_counted_under_their_own_machine(django_capture_on_commit_callbacks):
    from tests.factories import TokenFactory

    labels = {"machine": "token", "from_state": "active", "to_state": "suspended",
              "trigger": "webhook"}
    before = sample("transitions_total", **labels)
    token = TokenFactory(state="active")
    with django_capture_on_commit_callbacks(execute=True):
        token.suspend(by=Trigger.WEBHOOK)
        token.save()
    assert sample("transitions_total", **labels) == before + 1


@pytest.mark.django_db
def test_a_failure_is_counted_with_its_code(django_capture_on_commit_callbacks):
    from provisioning import services

    labels = {"to_state": "failed", "code": "issuer_timeout"}
    before = sample("provisioning_failures_total", **labels)
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with django_capture_on_commit_callbacks(execute=True):
        services.fail_request(request.pk, "issuer_timeout")
    assert sample("provisioning_failures_total", **labels) == before + 1


@pytest.mark.django_db
def test_notification_transitions_are_counted_under_their_own_machine(
        django_capture_on_commit_callbacks):
    import uuid

    from notifications.models import Notification

    labels = {"machine": "notification", "from_state": "sending", "to_state": "failed",
              "trigger": ""}
    before = sample("transitions_total", **labels)
    notification = Notification.objects.create(
        customer_id="cust_test", object_id=uuid.uuid4(), event="failed", channel="sms",
        template_key="failed", status="sending")
    with django_capture_on_commit_callbacks(execute=True):
        notification.fail(error_code="gateway_unavailable")
        notification.save()
    assert sample("transitions_total", **labels) == before + 1


# --- database gauges ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_metrics_endpoint_reports_requests_per_open_state_and_stuck_requests(client):
    now = timezone.now()
    ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, due_at=now - timedelta(minutes=10))
    ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, due_at=now + timedelta(minutes=1))
    ProvisioningRequestFactory(state=State.RECEIVED, due_at=now + timedelta(minutes=1))
    ProvisioningRequestFactory(state=State.PROVISIONED, due_at=None)
    response = client.get("/metrics")
    assert response.status_code == 200
    values = scrape(response.content.decode())
    assert values[("provisioning_requests", (("state", "token_requested"),))] == 2
    assert values[("provisioning_requests", (("state", "received"),))] == 1
    assert values[("provisioning_stuck_requests", (("state", "token_requested"),))] == 1
    assert values[("provisioning_stuck_requests", (("state", "received"),))] == 0
    oldest = values[("provisioning_oldest_stuck_seconds", (("state", "token_requested"),))]
    assert 590 <= oldest <= 700
    assert values[("metrics_collector_errors", (("family", "provisioning"),))] == 0


@pytest.mark.django_db
def test_metrics_endpoint_names_every_family_the_alerts_use(client):
    text = client.get("/metrics").content.decode()
    for family in ("transitions_total", "celery_task_seconds", "celery_task_retries_total",
                   "celery_task_failures_total", "outside_call_seconds",
                   "provisioning_failures_total", "provisioning_requests",
                   "provisioning_stuck_requests", "token_service_circuit_open",
                   "notifications_unsent", "token_webhook_unknown_objects"):
        assert f"# TYPE {family.removesuffix('_total')}" in text, family


@pytest.mark.django_db
def test_a_failing_gauge_is_reported_without_failing_the_scrape(client, settings):
    from core.outside.http import shared_breaker as _breaker

    # Redis (the circuit breaker's store) is down: nothing answers on this port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{dead_port}/0"
    _breaker.cache_clear()
    try:
        response = client.get("/metrics")
    finally:
        _breaker.cache_clear()
    values = scrape(response.content.decode())
    assert response.status_code == 200
    assert values[("metrics_collector_errors", (("family", "circuit"),))] == 1
    assert ("provisioning_requests", (("state", "received"),)) in values


# --- Celery tasks --------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_task_run_is_timed_with_its_outcome():
    from provisioning.tasks import redrive_due_requests_task

    name = "provisioning.tasks.redrive_due_requests_task"
    before = sample("celery_task_seconds_count", task=name, outcome="success")
    redrive_due_requests_task.apply()
    assert sample("celery_task_seconds_count", task=name, outcome="success") == before + 1


@pytest.mark.django_db
def test_a_task_that_raises_is_counted_as_a_failure():
    from provisioning.tasks import check_eligibility_task

    name = "provisioning.tasks.check_eligibility_task"
    before = sample("celery_task_failures_total", task=name, exception="DoesNotExist")
    check_eligibility_task.apply(args=["00000000-0000-0000-0000-000000000000"])
    assert sample("celery_task_failures_total", task=name, exception="DoesNotExist") == before + 1


@pytest.mark.django_db
def test_outside_errors_count_task_retries_and_outside_call_latency(settings):
    from provisioning.tasks import check_eligibility_task

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    settings.ISSUER_BASE_URL = f"http://127.0.0.1:{dead_port}/issuer"
    settings.OUTSIDE_MAX_ATTEMPTS = 3
    name = "provisioning.tasks.check_eligibility_task"
    retries = sample("celery_task_retries_total", task=name)
    calls = sample("outside_call_seconds_count", system="issuer", operation="eligibility",
                   outcome="connection_error")
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    check_eligibility_task.apply(args=[str(request.pk)])
    request.refresh_from_db()
    assert request.state == State.FAILED and request.failure_code == "issuer_unavailable"
    assert sample("celery_task_retries_total", task=name) == retries + 2
    assert sample("outside_call_seconds_count", system="issuer", operation="eligibility",
                  outcome="connection_error") == calls + 3


# --- a real prefork worker ----------------------------------------------------------------

@pytest.mark.integration
def test_prefork_worker_serves_metrics_counted_in_its_children(transactional_db, settings,
                                                               tmp_path):
    """Tasks run in the pool's children; the main process's port must show their counts."""
    from config.celery import app

    queue = f"ops-metrics-{os.getpid()}-{time.monotonic_ns()}"  # ours alone
    port = free_port()
    db = settings.DATABASES["default"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "REDIS_URL": settings.REDIS_URL,
           "WORKER_METRICS_PORT": str(port), "WORKER_METRICS_ADDR": "127.0.0.1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-Q", queue,
             "-c", "2", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-n", f"{queue}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def metrics() -> dict | None:
            assert worker.poll() is None, log_path.read_text()
            try:
                return scrape(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text)
            except requests.RequestException:
                return None

        wait_until(metrics, timeout=60, interval=0.1, message="the worker's metrics port")
        name = "provisioning.tasks.redrive_due_requests_task"
        for _ in range(4):
            app.send_task(name, queue=queue)
        key = ("celery_task_seconds_count", (("outcome", "success"), ("task", name)))
        values = wait_until(lambda: (m := metrics()) and m.get(key, 0) >= 4 and m,
                            timeout=60, interval=0.1, message="four task runs counted")
        assert values[key] == 4
        # The database gauges are served by the worker too.
        assert ("provisioning_requests", (("state", "received"),)) in values
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait(timeout=10)
