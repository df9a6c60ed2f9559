"""Live infrastructure for integration tests (the fixtures are in tests/conftest.py): the
sandbox over HTTP, a real Celery worker (prefork, its own process) on real Redis, the web
app under pytest-django's live server, all on the test PostgreSQL database. The processes
are `devstack` processes, as in `make up` and the bench.

Nothing here is faked: the worker picks tasks from the Redis broker, calls the sandbox
over HTTP, and the sandbox's webhooks reach the live server.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests

from core.auth import mint_dev_token
from devstack import Process, SandboxClient, luhn_pan, sandbox_base_urls, wait_until
from devstack.processes import logs_line
from devstack.stack import WORKER_READY, worker_command
from provisioning.models import ENDED_STATES, ProvisioningRequest

# Re-exported: tests import both from here.
__all__ = ["ARTIFACTS", "ROOT", "TERMINAL", "Stack", "Worker", "aim_at_sandbox", "luhn_pan",
           "wait_until"]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "var" / "test-logs"
TERMINAL = {str(state) for state in ENDED_STATES}  # where a request stops on its own


def aim_at_sandbox(settings, sandbox_url: str) -> None:
    """Point every outside system's base URL in this process's settings (pytest-django's
    `settings` fixture) at the sandbox at `sandbox_url` (the registry's mounts)."""
    for name, value in sandbox_base_urls(sandbox_url).items():
        setattr(settings, name, value)


class Worker(Process):
    """A Celery worker process on the test database; can be killed and restarted.
    `start()` returns once the worker consumes."""

    def __init__(self, env: dict[str, str], log_path: Path):
        super().__init__("worker", log_path=log_path, env=env, cwd=ROOT,
                         ready=logs_line(WORKER_READY))

    def start(self, append: bool = True) -> Worker:
        # A new node name each start: a restarted worker is a new node to the broker.
        self.argv = worker_command(sys.executable, concurrency=3, heartbeat=False,
                                   hostname=f"test-{os.getpid()}-{time.monotonic_ns()}@%h")
        super().start(append=True)
        self.wait_ready(timeout=60)
        return self

    def stop(self, grace: float = 10.0) -> bool:
        return super().stop(grace)


class Stack:
    """The live stack as a test sees it: the API as a customer, the sandbox, the worker."""

    def __init__(self, api: str, sandbox: str, worker: Worker):
        self.api, self.sandbox, self.worker = api, sandbox, worker
        self.sandbox_client = SandboxClient(sandbox)

    def client(self, customer_id: str = "cust_demo") -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {mint_dev_token(customer_id)}"
        return session

    def post_create(self, card_id: str, wallet: str = "google_pay",
                    customer_id: str = "cust_demo", device_id: str | None = None,
                    **extra) -> requests.Response:
        """POST a new push with a fresh idempotency key; the answer, whatever it is."""
        import uuid

        body = {"card_id": card_id, "wallet": wallet,
                "device": {"id": device_id or f"dev-{uuid.uuid4().hex[:12]}", "type": "phone",
                           "os": "android-15"}, **extra}
        return self.client(customer_id).post(
            f"{self.api}/api/v1/provisioning-requests", json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)

    def create(self, card_id: str, wallet: str = "google_pay", customer_id: str = "cust_demo",
               device_id: str | None = None, **extra) -> dict:
        response = self.post_create(card_id, wallet, customer_id, device_id, **extra)
        assert response.status_code == 202, response.text
        return response.json()

    def read(self, request_id: str, customer_id: str = "cust_demo") -> dict:
        response = self.client(customer_id).get(
            f"{self.api}/api/v1/provisioning-requests/{request_id}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_state(self, request_id, states, timeout: float = 30.0) -> ProvisioningRequest:
        states = {states} if isinstance(states, str) else set(states)

        def reached():
            row = ProvisioningRequest.objects.filter(pk=request_id).first()
            return row if row is not None and row.state in states else None

        try:
            return wait_until(reached, timeout=timeout, message=f"{request_id} in {states}")
        except AssertionError:
            row = ProvisioningRequest.objects.filter(pk=request_id).first()
            raise AssertionError(
                f"request {request_id} is {row and row.state}, wanted {states}\n"
                f"worker log tail:\n{self.worker.tail()}") from None

    def wait_terminal(self, request_id, timeout: float = 30.0) -> ProvisioningRequest:
        return self.wait_for_state(request_id, TERMINAL, timeout)

    def sandbox_stats(self) -> dict:
        return self.sandbox_client.stats()

    def sandbox_post(self, path: str, body: dict) -> requests.Response:
        return requests.post(f"{self.sandbox}{path}", json=body, timeout=10)
