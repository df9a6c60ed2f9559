"""Fixtures for notification tests: stand-in gateway clients for unit tests (the only thing
they stub), a real sandbox served in this process for the channel clients, outbox rows
built in whatever state a test needs, and the live stack for the integration tests."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import factory
import pytest
from django.conf import settings
from django.utils import timezone

from notifications import services
from notifications.channels import Sent
from notifications.models import Channel, Notification, Status, TemplateKey

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

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def gateway_sandbox():
    """The sandbox app on a free port in a thread: the clients speak real HTTP to it."""
    import uvicorn

    from sandbox.app import create_app
    from sandbox.config import SandboxConfig

    app = create_app(SandboxConfig.from_env({"DEV_KEYS_FILE": settings.DEV_KEYS_FILE},
                                            slow_seconds=3.0))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("in-process sandbox did not start")
        time.sleep(0.02)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", app=app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def gateway_urls(gateway_sandbox, settings):
    import requests

    requests.post(f"{gateway_sandbox.url}/sandbox/reset", timeout=5).raise_for_status()
    settings.PUSH_GATEWAY_BASE_URL = f"{gateway_sandbox.url}/push"
    settings.SMS_GATEWAY_BASE_URL = f"{gateway_sandbox.url}/sms"
    return gateway_sandbox.url


# --- the live stack (sandbox process, Celery worker, live server) for test_integration ------
#
# pytest keeps one instance of a fixture per conftest that defines it, so importing
# tests/integration's live fixtures here would start a second sandbox and a second worker
# beside theirs when the whole suite runs: their worker, still consuming the same broker,
# would take our tasks and send our messages to the other sandbox. Instead, an observer
# remembers the sandbox and worker any other conftest started in this session and the
# integration tests here reuse them; only when none runs (this directory alone) do they
# start their own, for this module only, so a later tests/integration starts clean.

class _LiveStackObserver:
    NAMES = ("sandbox_url", "worker")

    def __init__(self):
        self.running: dict[str, object] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        value = yield
        if fixturedef.argname in self.NAMES:
            self.running[fixturedef.argname] = value
        return value

    def pytest_fixture_post_finalizer(self, fixturedef, request):
        if fixturedef.argname in self.NAMES:
            self.running.pop(fixturedef.argname, None)


_observer = _LiveStackObserver()


def pytest_configure(config):
    if not config.pluginmanager.is_registered(_observer):
        config.pluginmanager.register(_observer, "notifications-live-stack-observer")


@pytest.fixture(scope="module")
def live_sandbox_and_worker(live_server, django_db_setup):
    """(sandbox URL, Worker): the session's running ones, else our own for this module."""
    if all(name in _observer.running for name in _LiveStackObserver.NAMES):
        yield _observer.running["sandbox_url"], _observer.running["worker"]
        return
    import os
    import subprocess
    import sys

    import redis
    import requests

    from tests.integration import conftest as live

    live.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = live._free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    sandbox_log = live.ARTIFACTS / "notifications-sandbox.log"
    with open(sandbox_log, "w") as log:
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)],
            cwd=live.ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "SANDBOX_WEBHOOK_URL": f"{live_server.url}/webhooks/token-service",
                 "SANDBOX_LATE_DECISION_SECONDS": "0.5", "SANDBOX_SLOW_SECONDS": "60",
                 "DEV_KEYS_FILE": settings.DEV_KEYS_FILE})

    def healthy():
        if sandbox.poll() is not None:
            raise AssertionError(f"sandbox exited:\n{live._log_tail(sandbox_log)}")
        try:
            return requests.get(f"{sandbox_url}/sandbox/health", timeout=0.5).status_code == 200
        except requests.RequestException:
            return False

    worker = None
    try:
        live.wait_until(healthy, timeout=30, message="sandbox health")
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        db = settings.DATABASES["default"]
        worker = live.Worker({
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            "DEV_KEYS_FILE": settings.DEV_KEYS_FILE,
            **live._outside_env(sandbox_url),
        }, live.ARTIFACTS / "notifications-worker.log")
        worker.start()
        yield sandbox_url, worker
    finally:
        if worker is not None:
            worker.stop()
        live._stop(sandbox)


@pytest.fixture
def stack(live_sandbox_and_worker, live_server, settings, transactional_db):
    """Everything live, as tests/integration's `stack`: a reset sandbox, this process's
    clients aimed at it."""
    import requests

    from tests.integration import conftest as live

    sandbox_url, worker = live_sandbox_and_worker
    for name, value in live._outside_env(sandbox_url).items():
        setattr(settings, name, value)
    requests.post(f"{sandbox_url}/sandbox/reset", timeout=5).raise_for_status()
    return live.Stack(live_server.url, sandbox_url, worker)
