"""Logs are JSON lines; one correlation id follows a unit of work from the API request
through every task (retries and follow-up tasks included), every outside call (sent as
X-Correlation-Id) and every webhook; every transition is logged once as a structured
event."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from core.observability import correlation
from core.observability.redaction import RedactionFilter
from core.models import TransitionLog, Trigger
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory
from tests.live import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bound_correlation_id():
    """Bind an id for the test's own code, as the middleware does for a request."""
    value = f"corr-{uuid.uuid4().hex[:16]}"
    token = correlation.set(value)
    yield value
    correlation._current.reset(token)


def json_handler(stream) -> logging.Handler:
    """The production console handler, built from settings.LOGGING (json formatter)."""
    spec = dict(django_settings.LOGGING["formatters"]["json"])
    formatter = import_string(spec.pop("()"))(**spec)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(correlation.CorrelationIdFilter())
    handler.addFilter(RedactionFilter())
    return handler


# --- JSON lines ----------------------------------------------------------------------------

def test_each_log_record_is_one_json_line_with_time_level_logger_and_correlation_id(
        bound_correlation_id):
    stream = io.StringIO()
    logger = logging.getLogger("tests.operations.json")
    handler = json_handler(stream)
    logger.addHandler(handler)
    try:
        logger.warning("first line\nwith a newline", extra={"request_id": "r-1"})
        logger.info("second line")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "first line\nwith a newline"
    assert {"time", "level", "logger", "correlation_id"} <= first.keys()
    assert (first["level"], first["logger"]) == ("WARNING", "tests.operations.json")
    assert first["correlation_id"] == second["correlation_id"] == bound_correlation_id
    assert first["request_id"] == "r-1"


def test_the_service_writes_json_lines_unless_told_otherwise():
    """Django set up as web and workers are (dev settings, LOG_FORMAT unset): a log call
    comes out as one JSON object on one line."""
    code = ("import django, logging; django.setup();"
            "logging.getLogger('provisioning.services').warning("
            "'provisioning request failed', extra={'failure_code': 'issuer_timeout'})")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    env.pop("LOG_FORMAT", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line parses
    ours = [r for r in records if r["logger"] == "provisioning.services"]
    assert len(ours) == 1
    assert ours[0]["failure_code"] == "issuer_timeout"
    assert ours[0]["level"] == "WARNING" and ours[0]["correlation_id"] == "-"


# --- transitions -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_every_transition_is_logged_once_as_a_structured_event(
        caplog, django_capture_on_commit_callbacks):
    from provisioning import services

    request = ProvisioningRequestFactory(state=State.RECEIVED)
    caplog.set_level(logging.INFO, logger="transitions")
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_request(None, request.pk, by=Trigger.API)
    events = [r for r in caplog.records if r.name == "transitions"]
    assert len(events) == 1
    event = events[0]
    assert (event.event, event.machine, event.object_id, event.from_state, event.to_state,
            event.trigger) == ("transition", "provisioning_request", str(request.pk),
                               "received", "cancelled", "api")


@pytest.mark.django_db
def test_a_rolled_back_transition_is_not_logged(caplog, django_capture_on_commit_callbacks):
    from django.db import transaction

    request = ProvisioningRequestFactory(state=State.RECEIVED)
    caplog.set_level(logging.INFO, logger="transitions")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                request.cancel(by=Trigger.API)
                request.save()
                raise RuntimeError("rolled back")
    assert not [r for r in caplog.records if r.name == "transitions"]


# --- the API request's id -----------------------------------------------------------------------

@pytest.mark.django_db
def test_api_request_id_is_echoed_and_recorded_on_the_transition(api_client, customer_id):
    request = ProvisioningRequestFactory(state=State.RECEIVED, customer_id=customer_id)
    response = api_client.post(f"/api/v1/provisioning-requests/{request.pk}/cancel",
                               HTTP_X_CORRELATION_ID="corr-from-wallet-app-0001")
    assert response.status_code == 200, response.content
    assert response["X-Correlation-Id"] == "corr-from-wallet-app-0001"
    assert TransitionLog.objects.get(object_id=request.pk).correlation_id == \
        "corr-from-wallet-app-0001"


@pytest.mark.django_db
def test_a_malformed_incoming_id_is_replaced_not_logged(api_client, customer_id):
    request = ProvisioningRequestFactory(state=State.RECEIVED, customer_id=customer_id)
    response = api_client.post(f"/api/v1/provisioning-requests/{request.pk}/cancel",
                               HTTP_X_CORRELATION_ID="x\nforged log line")
    recorded = TransitionLog.objects.get(object_id=request.pk).correlation_id
    assert recorded == response["X-Correlation-Id"]
    assert "\n" not in recorded and len(recorded) == 32


@pytest.mark.django_db
def test_a_webhook_carries_its_senders_id_onto_the_transitions(client):
    from tokens.webhooks import sign

    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    body = json.dumps({
        "id": f"evt_{uuid.uuid4().hex}", "type": "provisioning.decision",
        "created": int(time.time()),
        "data": {"request_id": str(request.pk), "decision": "green",
                 "token_ref": f"tkn_{uuid.uuid4().hex}", "token_last4": "4242",
                 "token_expiry": "12/29"},
    }).encode()
    timestamp = str(int(time.time()))
    response = client.post(
        "/webhooks/token-service", data=body, content_type="application/json",
        HTTP_X_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_X_WEBHOOK_SIGNATURE=sign(django_settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0],
                                      timestamp, body),
        HTTP_X_CORRELATION_ID="corr-provision-call-0001")
    assert response.status_code == 200, response.content
    rows = TransitionLog.objects.filter(correlation_id="corr-provision-call-0001")
    assert {(row.machine, row.to_state) for row in rows} == {
        ("provisioning_request", "provisioned"), ("token", "active")}


# --- outside calls -------------------------------------------------------------------------------

class CaptureServer:
    """A stand-in outside system on a local port: records every call's path and headers and
    answers from a script of (status, body) per path prefix."""

    def __init__(self, script):
        self.calls: list[tuple[str, dict]] = []
        self.script = script
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.calls.append((self.path, dict(self.headers)))
                status, body = outer.answer(self.path)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path):
        for prefix, replies in self.script.items():
            if path.startswith(prefix):
                seen = sum(1 for called, _ in self.calls if called.startswith(prefix))
                return replies[min(seen, len(replies)) - 1]
        return 404, {"error": {"code": "not_found"}}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_outside_calls_send_the_bound_id_as_x_correlation_id(bound_correlation_id):
    from core.outside import http as outside

    with CaptureServer({"/v1/ping": [(200, {"ok": True})]}) as server:
        outside.send(outside.build_session(), system="issuer", operation="ping",
                     method="POST", url=f"{server.url}/v1/ping", body=b"{}")
    assert server.calls[0][1]["X-Correlation-Id"] == bound_correlation_id


# --- through a real worker ---------------------------------------------------------------------

@pytest.mark.integration
def test_one_id_follows_a_request_through_tasks_retries_follow_ups_and_outside_calls(
        transactional_db, settings, tmp_path):
    """API-side id → check_eligibility (retried once after a 503) → request_token, run next
    in the same task once eligibility commits, its retry published as its own task → every
    issuer call and every transition, and each transition is one JSON log line of the
    worker."""
    from kombu import Connection

    from decisioning.models import DecisionRule
    from provisioning.tasks import check_eligibility_task

    # Only the issuer is played here: without a telco the SIM-swap rule would decline the
    # push (swap date unknown), and this test follows the id, not the rules.
    DecisionRule.objects.filter(key="sim-swap").update(enabled=False)
    eligible = {"decision": "eligible", "card": {"last4": "0044", "product": "visa_classic"},
                "customer": {"msisdn": "+254712340100", "kyc_tier": 2}}
    script = {"/issuer/v1/eligibility": [(503, {}), (200, eligible)],
              "/issuer/v1/cards/": [(503, {})]}
    prefix = f"ops-logging-{uuid.uuid4().hex[:8]}:"
    db = settings.DATABASES["default"]
    log_path = tmp_path / "worker.jsonl"
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    with CaptureServer(script) as issuer:
        env = {**os.environ,
               "DJANGO_SETTINGS_MODULE": "tests.operations.json_worker_settings",
               "OPS_BROKER_KEYPREFIX": prefix,
               "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "REDIS_URL": settings.REDIS_URL,
               "ISSUER_BASE_URL": f"{issuer.url}/issuer", "OUTSIDE_MAX_ATTEMPTS": "2"}
        env.pop("WORKER_METRICS_PORT", None)
        with open(log_path, "w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "--quiet", "-A", "config", "worker", "-l", "info",
                 "-Q", "provisioning", "-c", "2", "--without-heartbeat", "--without-gossip",
                 "--without-mingle", "-n", f"ops-logging-{uuid.uuid4().hex[:6]}@%h"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            token = correlation.set("corr-api-request-0042")
            try:
                with Connection(settings.CELERY_BROKER_URL,
                                transport_options={"global_keyprefix": prefix}) as connection:
                    check_eligibility_task.apply_async(args=[str(request.pk)],
                                                       connection=connection)
            finally:
                correlation._current.reset(token)

            def finished():
                assert worker.poll() is None, log_path.read_text()
                return ProvisioningRequest.objects.filter(pk=request.pk,
                                                          state=State.FAILED).exists()

            wait_until(finished, timeout=60, interval=0.1, message="the request to fail")
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    rows = list(TransitionLog.objects.filter(object_id=request.pk).order_by("id"))
    assert [(r.from_state, r.to_state) for r in rows] == [("received", "eligible"),
                                                         ("eligible", "failed")]
    assert {r.correlation_id for r in rows} == {"corr-api-request-0042"}
    # Two eligibility calls (one retried) and two card-data calls (one retried), all four
    # carrying the id, though they ran in two tasks and three task runs (the token
    # request's first try ran in the eligibility task's second run).
    assert [path.split("/")[3] for path, _ in issuer.calls] == [
        "eligibility", "eligibility", "cards", "cards"]
    assert {headers["X-Correlation-Id"] for _, headers in issuer.calls} == {
        "corr-api-request-0042"}

    records = [json.loads(line) for line in log_path.read_text().splitlines()
               if line.startswith("{")]
    assert records, log_path.read_text()
    transitions = [r for r in records if r.get("event") == "transition"
                   and r.get("object_id") == str(request.pk)]
    assert [(t["from_state"], t["to_state"]) for t in transitions] == [
        ("received", "eligible"), ("eligible", "failed")]
    assert {t["correlation_id"] for t in transitions} == {"corr-api-request-0042"}
    retried = [r for r in records if r.get("message") == "transient outside error, retrying"]
    assert len(retried) == 2
    assert {r["correlation_id"] for r in retried} == {"corr-api-request-0042"}
