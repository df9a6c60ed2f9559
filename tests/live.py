"""Live infrastructure for integration tests (the fixtures are in tests/conftest.py): the sandbox over HTTP, a real Celery worker
(prefork, its own process) on real Redis, the web app under pytest-django's live server,
all on the test PostgreSQL database.

Nothing here is faked: the worker picks tasks from the Redis broker, calls the sandbox
over HTTP, and the sandbox's webhooks reach the live server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from config.auth import mint_dev_token
from provisioning.models import ProvisioningRequest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "var" / "test-logs"
TERMINAL = {"ineligible", "provisioned", "declined", "failed", "expired", "cancelled"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = ""):
    """Poll `predicate` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it still runs (uvicorn waits for hanging 0044 calls)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _outside_env(sandbox: str) -> dict[str, str]:
    return {
        "ISSUER_BASE_URL": f"{sandbox}/issuer",
        "TOKEN_SERVICE_BASE_URL": f"{sandbox}/tms",
        "PUSH_GATEWAY_BASE_URL": f"{sandbox}/push",
        "SMS_GATEWAY_BASE_URL": f"{sandbox}/sms",
        "TELCO_BASE_URL": f"{sandbox}/telco",
    }


class Worker:
    """A Celery worker process on the test database; can be killed and restarted."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path, self.process = env, log_path, None

    def start(self):
        self.log = open(self.log_path, "a")
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info",
             "-Q", "provisioning,tokens,notifications,reconciliation", "-c", "3",
             "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited:\n{_log_tail(self.log_path)}")
            text = self.log_path.read_text(errors="replace")[offset:]
            return " ready." in text

        wait_until(ready, timeout=60, interval=0.1, message="celery worker ready")

    def kill(self, sig=signal.SIGKILL):
        os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)
        self.log.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            _stop(self.process, grace=10)
            self.log.close()


class Stack:
    def __init__(self, api: str, sandbox: str, worker: Worker):
        self.api, self.sandbox, self.worker = api, sandbox, worker

    def client(self, customer_id: str = "cust_demo") -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {mint_dev_token(customer_id)}"
        return session

    def create(self, card_id: str, wallet: str = "google_pay", customer_id: str = "cust_demo",
               device_id: str | None = None, **extra) -> dict:
        import uuid

        body = {"card_id": card_id, "wallet": wallet,
                "device": {"id": device_id or f"dev-{uuid.uuid4().hex[:12]}", "type": "phone",
                           "os": "android-15"}, **extra}
        response = self.client(customer_id).post(
            f"{self.api}/api/v1/provisioning-requests", json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
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
                f"worker log tail:\n{_log_tail(self.worker.log_path)}") from None

    def wait_terminal(self, request_id, timeout: float = 30.0) -> ProvisioningRequest:
        return self.wait_for_state(request_id, TERMINAL, timeout)

    def sandbox_stats(self) -> dict:
        return requests.get(f"{self.sandbox}/sandbox/stats", timeout=5).json()

    def sandbox_post(self, path: str, body: dict) -> requests.Response:
        return requests.post(f"{self.sandbox}{path}", json=body, timeout=10)


def luhn_pan(last4: str, prefix: str = "4") -> str:
    """A 16-digit Luhn-valid PAN ending in `last4` (the check digit is last4's last digit,
    so one free digit in the middle is chosen to make the sum come out right)."""
    import random

    body = prefix + "".join(random.choice("0123456789") for _ in range(10 - len(prefix)))
    for free in "0123456789":
        candidate = body + free + last4
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one free digit always fixes the Luhn sum")
