"""Fixtures shared by every Django test: API clients with customer tokens, and the live
stack (sandbox process, Celery worker, live server) for integration tests.

The live fixtures are session-scoped and live here, once, so every directory's
integration tests share one sandbox and one worker: a second worker on the same broker
would take another suite's tasks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings

from devstack import Process, SandboxClient, free_port, sandbox_base_urls
from devstack.processes import answers_200
from devstack.stack import sandbox_command
from tests.live import ARTIFACTS, ROOT, Stack, Worker, aim_at_sandbox


def pytest_collection_modifyitems(session, config, items):
    """Tests that need the live worker run after all the others (in their own order).

    The worker is session-scoped: once started it consumes every task published to the
    test broker. A later test of a committed transaction (a transactional test's create
    publishes on commit) would hand its task to that worker, which then works on rows
    the test's teardown is flushing (seen as a deadlock in the flush)."""
    items.sort(key=lambda item: "worker" in getattr(item, "fixturenames", ()))


@pytest.fixture(autouse=True)
def _migration_data(request):
    """Put back what migrate installs (rules, groups, beat schedules): a transactional
    test flushes every table when it ends, and the next test must not run without them."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "transactional_db" not in request.fixturenames \
            and "live_server" not in request.fixturenames:
        return
    transactional = bool(marker and (marker.kwargs.get("transaction") or
                                     (marker.args and marker.args[0])))
    request.getfixturevalue("transactional_db" if transactional
                            or "transactional_db" in request.fixturenames else "db")
    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from core.security import sync_admin_groups
    from decisioning.models import DecisionRule, DecisionRuleVersion
    from decisioning.rules import install_default_rules
    from decisioning.transfer_rules import DEFAULT_TRANSFER_RULES
    from core import schedules

    install_default_rules(DecisionRule, DecisionRuleVersion)
    install_default_rules(DecisionRule, DecisionRuleVersion, DEFAULT_TRANSFER_RULES)
    schedules.install(PeriodicTask, IntervalSchedule)
    sync_admin_groups(apps, None)
    from tests.transfers.conftest import install_first_fee_schedule

    install_first_fee_schedule()  # what transfers' migration 0002 installs


@pytest.fixture
def customer_id() -> str:
    return "cust_demo"


@pytest.fixture
def api_client(customer_id):
    from rest_framework.test import APIClient

    from core.auth import mint_dev_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_dev_token(customer_id)}")
    return client


@pytest.fixture
def other_client():
    from rest_framework.test import APIClient

    from core.auth import mint_dev_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_dev_token('cust_other')}")
    return client


@pytest.fixture
def anon_client():
    from rest_framework.test import APIClient

    return APIClient()


# --- the live stack ------------------------------------------------------------------

@pytest.fixture(scope="session")
def sandbox_url(live_server):
    """The sandbox process, its webhooks aimed at the live server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SANDBOX_WEBHOOK_URL": f"{live_server.url}/webhooks/token-service",
        "SANDBOX_LATE_DECISION_SECONDS": "0.5",
        "SANDBOX_SLOW_SECONDS": "60",  # longer than every retry: 0044 never answers in time
        "DEV_KEYS_FILE": settings.DEV_KEYS_FILE,
    }
    process = Process("sandbox", sandbox_command(sys.executable, "127.0.0.1", port),
                      ARTIFACTS / "sandbox.log", env=env, cwd=ROOT,
                      ready=answers_200(f"{url}/sandbox/health", timeout=0.5))
    process.start(append=False)
    try:
        process.wait_ready(timeout=30)
        yield url
    finally:
        process.stop(grace=5)  # then SIGKILL: uvicorn waits for hanging 0044 calls



def _clean_broker() -> None:
    """No tasks left over from an earlier run against a dropped database."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for folder in {options["data_folder_in"], options["processed_folder"]}:
            for message in Path(folder).glob("*"):
                message.unlink(missing_ok=True)
        return
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()


def _database_url() -> str:
    """The test database as a URL for the worker process (after django_db_setup)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def worker(django_db_setup, sandbox_url):
    _clean_broker()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "DEV_KEYS_FILE": settings.DEV_KEYS_FILE,
        **sandbox_base_urls(sandbox_url),
    }
    process = Worker(env, ARTIFACTS / f"worker-{settings.TEST_STACK_MODE}.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def stack(worker, sandbox_url, live_server, settings, transactional_db):
    """Everything live; this test process talks to the same sandbox and broker."""
    aim_at_sandbox(settings, sandbox_url)
    SandboxClient(sandbox_url).reset()
    return Stack(live_server.url, sandbox_url, worker)


