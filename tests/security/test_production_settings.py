"""Production settings: `check --deploy` is clean with realistic values, and the process
refuses to start when a required secret or the database is missing or weak."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]


def _public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _b64(size: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


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
    })
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_no_warnings(production_env):
    result = _manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_turns_on_hsts_secure_cookies_and_the_https_redirect(production_env):
    code = ("from django.conf import settings as s; import json; print(json.dumps([s.DEBUG, "
            "s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.JWT_DEV_SIGNING_KEY]))")
    result = _manage(production_env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        False, 31536000, True, True, True, True, None]


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "ENCRYPTION_ACTIVE_KEY_ID",
                                  "PAN_FINGERPRINT_KEY", "TOKEN_SERVICE_WEBHOOK_SECRETS",
                                  "JWT_PUBLIC_KEYS", "REDIS_URL"])
def test_production_refuses_to_start_without_a_required_variable(production_env, name):
    env = {k: v for k, v in production_env.items() if k != name}
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


@pytest.mark.parametrize("name,value,complaint", [
    ("SECRET_KEY", "django-insecure-short", "SECRET_KEY must be at least 50"),
    ("DATABASE_URL", "sqlite:////tmp/pp.sqlite3", "PostgreSQL"),
    ("ENCRYPTION_KEYS", json.dumps({"k-2026-01": base64.b64encode(b"x" * 16).decode()}),
     "must be 32 bytes"),
    ("PAN_FINGERPRINT_KEY", base64.b64encode(b"short").decode(), "at least 32 bytes"),
    ("JWT_ALGORITHM", "HS256", "asymmetric"),
])
def test_production_refuses_weak_or_unsafe_values(production_env, name, value, complaint):
    result = _manage({**production_env, name: value}, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


@pytest.mark.parametrize("name,value,complaint", [
    ("ADMIN_LOGIN_USERNAME_FAILURE_LIMIT", "11", "at most 10"),
    ("ADMIN_LOGIN_USERNAME_FAILURE_LIMIT", "0", "at most 10"),
    ("ADMIN_LOGIN_FAILURE_LIMIT", "12", "ADMIN_LOGIN_FAILURE_LIMIT"),
    ("ADMIN_LOGIN_COOLOFF_MINUTES", "5", "at least 30 minutes"),
])
def test_production_refuses_an_admin_lockout_weaker_than_pci_dss(production_env, name, value,
                                                                 complaint):
    result = _manage({**production_env, name: value}, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr
