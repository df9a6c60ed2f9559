"""Sentry: on only when SENTRY_DSN is set, with the Django and Celery integrations, the
environment and release tags, and task failures captured. Events are caught by a test
transport; nothing leaves the process. (Redaction is tested with the security work.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from core.observability import sentry

ROOT = Path(__file__).resolve().parents[2]
DSN = "https://public@sentry.invalid/42"


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.payload.json)


@pytest.fixture
def transport():
    transport = CapturingTransport()
    sentry.init(DSN, environment="staging", release="push-provisioning@1.4.2",
                transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # later tests run without Sentry


def test_events_carry_the_environment_and_release(transport):
    sentry_sdk.capture_message("operations test event")
    assert len(transport.events) == 1
    event = transport.events[0]
    assert event["environment"] == "staging"
    assert event["release"] == "push-provisioning@1.4.2"


@pytest.mark.django_db
def test_a_failing_celery_task_is_captured_with_its_task_name(transport):
    from provisioning.tasks import check_eligibility_task

    check_eligibility_task.apply(args=["00000000-0000-0000-0000-000000000000"])
    errors = [e for e in transport.events if e.get("level") == "error"]
    assert len(errors) == 1
    event = errors[0]
    assert event["exception"]["values"][-1]["type"] == "ProvisioningRequest.DoesNotExist"
    mechanism = event["exception"]["values"][-1]["mechanism"]
    assert mechanism["type"] == "celery" and mechanism["handled"] is False
    assert event["extra"]["celery-job"]["task_name"] == "provisioning.tasks.check_eligibility_task"


def test_local_variables_and_request_bodies_are_not_sent(transport):
    def handle_card():
        card_number = "4111111111111111"  # noqa: F841 - a local a frame would carry
        raise ValueError("card handling failed")

    try:
        handle_card()
    except ValueError:
        sentry_sdk.capture_exception()
    frames = transport.events[0]["exception"]["values"][0]["stacktrace"]["frames"]
    assert all("vars" not in frame for frame in frames)


def _sentry_state_in_a_fresh_process(extra_env: dict) -> dict:
    """Start Django as the service does and report what Sentry ended up configured with."""
    code = (
        "import json, django; django.setup(); import sentry_sdk;"
        "c = sentry_sdk.get_client();"
        "print(json.dumps({'active': c.is_active(),"
        " 'environment': c.options.get('environment') if c.is_active() else None,"
        " 'release': c.options.get('release') if c.is_active() else None,"
        " 'integrations': sorted(getattr(c, 'integrations', {}).keys())}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **extra_env}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sentry_dsn_turns_on_the_django_and_celery_integrations_with_tags():
    state = _sentry_state_in_a_fresh_process({
        "SENTRY_DSN": DSN, "SERVICE_ENVIRONMENT": "production-ke",
        "SERVICE_RELEASE": "push-provisioning@2.0.0"})
    assert state["active"] is True
    assert (state["environment"], state["release"]) == ("production-ke",
                                                          "push-provisioning@2.0.0")
    assert {"django", "celery"} <= set(state["integrations"])


def test_without_sentry_dsn_nothing_is_sent():
    state = _sentry_state_in_a_fresh_process({"SENTRY_DSN": ""})
    assert state["active"] is False
