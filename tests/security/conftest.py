"""A live stack of its own for the leak test: the sandbox, a Celery worker and the web app
(runserver) as separate processes on the test database, each logging to its own file.

The web app runs as a process rather than pytest-django's live server so that its log
lines come out of the configured handlers exactly as in production. The helpers come from
tests/live.py; the shared live fixtures are not used, because the integration
worker stays alive all session and two workers must not share one queue (leak_settings.py
gives this stack's broker keys a prefix of their own).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from devstack import Process, SandboxClient, free_port, sandbox_base_urls
from devstack.processes import answers_200
from devstack.stack import sandbox_command
from tests import live
from tests.security import leak_settings

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "test-logs"
LEAK_SETTINGS = "tests.security.leak_settings"


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class LeakStack(live.Stack):
    """The integration Stack, remembering every API response body it received."""

    def __init__(self, api: str, sandbox: str, worker, logs: dict[str, Path]):
        super().__init__(api, sandbox, worker)
        self.logs = logs
        self.responses: list[str] = []

    def client(self, customer_id: str = "cust_demo") -> requests.Session:
        session = super().client(customer_id)
        session.hooks["response"].append(lambda response, *a, **k:
                                         self.responses.append(response.text))
        return session


@pytest.fixture(scope="session")
def leak_processes(django_db_setup):
    """Sandbox, worker and web, started once; their log files are fresh for the session."""
    LOGS.mkdir(parents=True, exist_ok=True)
    logs = {name: LOGS / f"security-{name}.log" for name in ("sandbox", "worker", "web")}
    for path in logs.values():
        path.write_text("")
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for key in broker.scan_iter(f"{leak_settings.KEY_PREFIX}*"):
        broker.delete(key)  # leftovers of an earlier run against a dropped database

    web_port, sandbox_port = free_port(), free_port()
    web_url, sandbox_url = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{sandbox_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": LEAK_SETTINGS,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "DEV_KEYS_FILE": settings.DEV_KEYS_FILE,
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        **sandbox_base_urls(sandbox_url),
    }
    sandbox = Process(
        "sandbox", sandbox_command(sys.executable, "127.0.0.1", sandbox_port), logs["sandbox"],
        env={**env, "SANDBOX_WEBHOOK_URL": f"{web_url}/webhooks/token-service",
             "SANDBOX_LATE_DECISION_SECONDS": "0.5"},
        cwd=ROOT, ready=answers_200(f"{sandbox_url}/sandbox/health", timeout=0.5))
    web = Process(
        "web", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{web_port}",
                "--noreload", "--skip-checks"], logs["web"],
        env=env, cwd=ROOT, ready=answers_200(f"{web_url}/healthz", timeout=0.5))
    worker = live.Worker(env, logs["worker"])
    processes = []
    try:
        for process, timeout in ((sandbox, 30), (web, 60)):
            processes.append(process.start())
            process.wait_ready(timeout=timeout)
        processes.append(worker)
        worker.start()
        yield web_url, sandbox_url, worker, logs
    finally:
        for process in reversed(processes):
            process.stop() if process is worker else process.stop(grace=5)


@pytest.fixture
def leak_stack(leak_processes, transactional_db):
    web_url, sandbox_url, worker, logs = leak_processes
    SandboxClient(sandbox_url).reset()
    return LeakStack(web_url, sandbox_url, worker, logs)
