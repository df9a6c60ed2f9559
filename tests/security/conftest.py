"""A live stack of its own for the leak test: the sandbox, a Celery worker and the web app
(runserver) as separate processes on the test database, each logging to its own file.

The web app runs as a process rather than pytest-django's live server so that its log
lines come out of the configured handlers exactly as in production. The helpers come from
tests/live.py; the shared live fixtures are not used, because the integration
worker stays alive all session and two workers must not share one queue (leak_settings.py
gives this stack's broker keys a prefix of their own).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from pathlib import Path

import pytest
import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.cache import cache

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


# --- production settings, as a deployment sets them ----------------------------------------

def _public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _b64(size: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def push_service_account(key_size: int = 2048, **overrides) -> dict:
    """A Google service-account key file for the push gateway's project."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "mpesa-wallet-prod",
            "private_key_id": secrets.token_hex(20), "private_key": pem,
            "client_email": "push-sender@mpesa-wallet-prod.iam.gserviceaccount.com",
            "client_id": "1" * 21, "token_uri": "https://oauth2.googleapis.com/token",
            **overrides}


@pytest.fixture(scope="module")
def production_env() -> dict[str, str]:
    """What a deployment sets: every required variable, with freshly generated keys."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "SENTRY_"))
           and name != "DEV_KEYS_FILE"}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "push-provisioning.mpesa.example",
        "CSRF_TRUSTED_ORIGINS": "https://push-provisioning.mpesa.example",
        "DATABASE_URL": "postgres://pp:secret@db.internal:5432/push_provisioning",
        "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
        "REDIS_URL": "redis://redis.internal:6379/1",
        "ISSUER_API_KEY": "iss_" + secrets.token_hex(16),
        "TELCO_API_KEY": "tel_" + secrets.token_hex(16),
        "PUSH_PROJECT_ID": "mpesa-wallet-prod",
        "GATEWAY_API_KEY": "gw_" + secrets.token_hex(16),
        "MPESA_API_KEY": "mpesa_" + secrets.token_hex(16),
        "SCREENING_API_KEY": "scr_" + secrets.token_hex(16),
        "TOKEN_SERVICE_MERCHANT_ID": "mpesa_wallet",
        "TOKEN_SERVICE_KEY_ID": "key-" + secrets.token_hex(4),
        "TOKEN_SERVICE_SHARED_SECRET": _b64(),
        "TOKEN_SERVICE_JWE_PUBLIC_KEY": _public_pem(),
        "TOKEN_SERVICE_WEBHOOK_SECRETS": "whsec_" + secrets.token_hex(24),
        "JWT_PUBLIC_KEYS": json.dumps({"idp-2026-01": _public_pem()}),
        "ENCRYPTION_KEYS": json.dumps({"k-2026-01": _b64(), "k-2025-07": _b64()}),
        "ENCRYPTION_ACTIVE_KEY_ID": "k-2026-01",
        "PAN_FINGERPRINT_KEY": _b64(),
        "OTP_HASH_KEY": _b64(),
        "INTERNAL_PORT": "8001",
        "PUSH_SERVICE_ACCOUNT": json.dumps(push_service_account()),
        **OUTSIDE_URLS,
    })
    return env


OUTSIDE_URLS = {
    "ISSUER_BASE_URL": "https://issuer.mpesa.example/api",
    "TOKEN_SERVICE_BASE_URL": "https://apitest.cybersource.example/tms",
    "PUSH_GATEWAY_BASE_URL": "https://fcm.googleapis.example",
    "SMS_GATEWAY_BASE_URL": "https://sms.safaricom.example",
    "TELCO_BASE_URL": "https://telco.safaricom.example/sim-swap",
    "MPESA_BASE_URL": "https://mpesa-core.safaricom.example",
    "ATTRIBUTES_BASE_URL": "https://sandbox.api.visa.example/paai",
    "PAYOUTS_BASE_URL": "https://apitest.cybersource.example/pts",
    "PAYOUT_SEARCH_BASE_URL": "https://apitest.cybersource.example/tss",
    "SCREENING_BASE_URL": "https://screening.mpesa.example",
    "SETTLEMENT_REPORTS_BASE_URL": "https://apitest.cybersource.example/reporting",
}


# --- throttle rates -------------------------------------------------------------------------

@pytest.fixture
def throttle_rates(settings):
    """Sets this test's throttle rates (`customer=..., client_ip=...`) on an empty rate-limit
    store, emptied again after the test."""
    def set_rates(**rates: str):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        return settings

    cache.clear()
    yield set_rates
    cache.clear()
