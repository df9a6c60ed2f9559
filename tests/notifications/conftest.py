"""Fixtures for notification tests: stand-in gateway clients for unit tests (the only thing
they stub), a real sandbox served in this process for the channel clients, outbox rows
built in whatever state a test needs, and the live stack for the integration tests."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import factory
import pytest
from django.conf import settings
from django.utils import timezone

from devstack import free_port, wait_until
from notifications import services
from notifications.channels import Sent
from notifications.models import Channel, Notification, Status, TemplateKey
from tests.live import aim_at_sandbox

CUSTOMER = "cust_demo"
MSISDN = "+254700000100"


class NotificationFactory(factory.django.DjangoModelFactory):
    """An outbox row in any status (`status=` at construction is the one sanctioned bypass
    of the protected field, and it lives only in factories)."""

    class Meta:
        model = Notification

    customer_id = CUSTOMER
    object_id = factory.LazyFunction(uuid.uuid4)
    event = factory.Sequence(lambda n: f"provisioned:{n}")
    channel = Channel.SMS
    template_key = TemplateKey.PROVISIONED
    locale = "en"
    msisdn = MSISDN
    context = factory.LazyFunction(lambda: {"wallet": "google_pay", "card_last4": "1111"})
    status = Status.PENDING


@dataclass
class FakeGateway:
    """Stands in for one gateway client: records what it was asked to send and answers
    with the next queued outcome (an exception to raise), else accepts."""

    channel: str
    sent: list[dict] = field(default_factory=list)
    outcomes: deque = field(default_factory=deque)
    # Set by a test that needs a send to stay in flight (racing dispatchers).
    hold: threading.Event | None = None
    # Run once, inside the first send (what happens elsewhere while it is in flight).
    on_first_send: Callable[[], None] | None = None

    def fail_next(self, *errors: Exception) -> None:
        self.outcomes.extend(errors)

    def send(self, **message) -> Sent:
        self.sent.append(message)
        number = len(self.sent)
        if self.on_first_send is not None:
            during, self.on_first_send = self.on_first_send, None
            during()
        if self.hold is not None:
            self.hold.wait(timeout=10)
        if self.outcomes:
            raise self.outcomes.popleft()
        return Sent(provider_message_id=f"{self.channel}-{number}")


@pytest.fixture
def gateways(monkeypatch):
    push, sms = FakeGateway("push"), FakeGateway("sms")
    monkeypatch.setattr(services, "PushGatewayClient", lambda: push)
    monkeypatch.setattr(services, "SmsGatewayClient", lambda: sms)
    return SimpleNamespace(push=push, sms=sms)


def stored(notification) -> Notification:
    return Notification.objects.get(pk=notification.pk)


def enqueued_dispatches(callbacks) -> list[tuple]:
    """Arguments of every send_notification_task among captured on-commit callbacks
    (delay_on_commit registers a partial of the task's delay)."""
    return [callback.args for callback in callbacks
            if getattr(getattr(callback, "func", None), "__self__", None) is not None
            and callback.func.__self__.name == "notifications.tasks.send_notification_task"]


def make_due(notification) -> None:
    """Bring a scheduled retry forward instead of waiting for it."""
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())


# --- a real sandbox, served in this process, for the channel clients -----------------------

def _serve_sandbox(**config):
    """The sandbox app on a free port in a thread: the clients speak real HTTP to it."""
    import uvicorn

    from sandbox.app import create_app
    from sandbox.config import SandboxConfig

    app = create_app(SandboxConfig.from_env({"DEV_KEYS_FILE": settings.DEV_KEYS_FILE},
                                            slow_seconds=3.0, **config))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Started, or its thread died (then it never will: fail at once, not at the deadline).
    wait_until(lambda: server.started or not thread.is_alive(), timeout=10, interval=0.02,
               message="the in-process sandbox to start")
    if not server.started:
        raise AssertionError("in-process sandbox did not start")
    return SimpleNamespace(url=f"http://127.0.0.1:{port}", app=app, server=server, thread=thread)


def _stop_sandbox(sandbox) -> None:
    sandbox.server.should_exit = True
    sandbox.thread.join(timeout=10)


def _aim_gateways_at(sandbox_url: str, settings) -> str:
    """Point the push and SMS clients, and the push service account's token_uri, at a sandbox.

    Each test's token_uri differs by a query string the sandbox ignores: the client keeps
    access tokens per process and token endpoint, so no test reuses one an earlier test
    bought (the sandbox's counters start from zero at each reset)."""
    import requests

    requests.post(f"{sandbox_url}/sandbox/reset", timeout=5).raise_for_status()
    aim_at_sandbox(settings, sandbox_url)
    settings.PUSH_SERVICE_ACCOUNT = {
        **settings.PUSH_SERVICE_ACCOUNT,
        "token_uri": f"{settings.PUSH_GATEWAY_BASE_URL}/token?test={uuid.uuid4().hex}",
    }
    return sandbox_url


@pytest.fixture(scope="session")
def gateway_sandbox():
    sandbox = _serve_sandbox()
    yield sandbox
    _stop_sandbox(sandbox)


@pytest.fixture
def gateway_urls(gateway_sandbox, settings):
    return _aim_gateways_at(gateway_sandbox.url, settings)


@pytest.fixture(scope="session")
def short_token_sandbox():
    """A sandbox whose access tokens live 226 s: google-auth renews a token 225 s before it
    expires, so each one counts as fresh for about a second."""
    sandbox = _serve_sandbox(push_token_seconds=226.0)
    yield sandbox
    _stop_sandbox(sandbox)


@pytest.fixture
def short_token_gateway(short_token_sandbox, settings):
    return _aim_gateways_at(short_token_sandbox.url, settings)
