"""Production settings: `check --deploy` is clean with realistic values, and the process
refuses to start when a required secret, an outside system's URL or the database is
missing or weak; no entry point starts without a settings module named explicitly."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack import free_port
from tests.security.conftest import OUTSIDE_URLS, push_service_account

ROOT = Path(__file__).resolve().parents[2]


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
                                  "JWT_PUBLIC_KEYS", "REDIS_URL", "INTERNAL_PORT",
                                  "PUSH_SERVICE_ACCOUNT"])
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


@pytest.mark.parametrize("name", sorted(OUTSIDE_URLS))
def test_production_refuses_to_start_without_an_outside_systems_base_url(production_env, name):
    env = {k: v for k, v in production_env.items() if k != name}
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and f"{name} must be set" in result.stderr


@pytest.mark.parametrize("name,url", [
    *((name, "http://gw.mpesa.example/v1") for name in sorted(OUTSIDE_URLS)),
    ("ISSUER_BASE_URL", "issuer.mpesa.example/v1"),  # no scheme at all
    ("TELCO_BASE_URL", "https:///v1"),  # no host
    ("SMS_GATEWAY_BASE_URL", "ftp://sms.mpesa.example"),
    ("PUSH_GATEWAY_BASE_URL", "https://user:secret@fcm.mpesa.example"),  # credentials in a URL
])
def test_production_refuses_an_outside_base_url_that_is_not_https(production_env, name, url):
    result = _manage({**production_env, name: url}, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name} must be an https:// URL" in result.stderr


@pytest.mark.parametrize("name,value,complaint", [
    ("ISSUER_API_KEY", "iss_" + "a1" * 8, "ISSUER_API_KEY must be at least 24 characters"),
    ("TELCO_API_KEY", "tel_short", "TELCO_API_KEY must be at least 24 characters"),
    ("GATEWAY_API_KEY", "gw_" + "7" * 30, "GATEWAY_API_KEY looks like a placeholder"),
    ("TOKEN_SERVICE_SHARED_SECRET", base64.b64encode(secrets.token_bytes(16)).decode(),
     "TOKEN_SERVICE_SHARED_SECRET must be at least 32 bytes"),
    ("TOKEN_SERVICE_SHARED_SECRET", "not base64!", "TOKEN_SERVICE_SHARED_SECRET must be base64"),
    ("TOKEN_SERVICE_WEBHOOK_SECRETS", "whsec_" + secrets.token_hex(24) + ",whsec_short",
     "TOKEN_SERVICE_WEBHOOK_SECRETS[1] must be at least 32 bytes"),
    ("OTP_HASH_KEY", base64.b64encode(secrets.token_bytes(31)).decode(), "at least 32 bytes"),
    ("SECRET_KEY", "x" * 64, "SECRET_KEY looks like a placeholder"),
])
def test_production_refuses_a_short_or_placeholder_secret(production_env, name, value, complaint):
    result = _manage({**production_env, name: value}, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_production_refuses_a_token_service_jwe_key_weaker_than_2048_bits(production_env):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = weak.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    result = _manage({**production_env, "TOKEN_SERVICE_JWE_PUBLIC_KEY": pem}, "check")
    assert result.returncode != 0
    assert "TOKEN_SERVICE_JWE_PUBLIC_KEY must be an RSA public key of at least 2048 bits" \
        in result.stderr


# --- entry points name their settings ---------------------------------------------------------

SETTINGS_MISSING = "DJANGO_SETTINGS_MODULE is not set"


@pytest.fixture
def env_without_settings_module(production_env) -> dict[str, str]:
    """A shell that names no settings module (and, should one start, a broker of its own)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["CELERY_BROKER_URL"] = "memory://"
    return env


def test_manage_py_refuses_to_run_without_a_settings_module(env_without_settings_module):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT,
                            env=env_without_settings_module, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert SETTINGS_MISSING in result.stderr and "config.settings.dev" in result.stderr
    assert "Traceback" not in result.stderr  # a sentence for the developer, not a stack


def _runs_until_exit(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run a server process; a process still serving at the deadline fails the test."""
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"{argv[2]} started without a settings module:\n{output[-2000:]}")
    return process.returncode, output


def test_gunicorn_refuses_to_serve_the_wsgi_app_without_a_settings_module(
        env_without_settings_module):
    port = free_port()
    code, output = _runs_until_exit(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config",
         "python:config.gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env_without_settings_module)
    assert code != 0
    assert SETTINGS_MISSING in output


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_the_celery_app_refuses_to_start_without_a_settings_module(env_without_settings_module,
                                                                   role):
    extra = ["--pool", "solo"] if role == "worker" else ["--schedule", os.devnull]
    code, output = _runs_until_exit(
        [sys.executable, "-m", "celery", "-A", "config", role, "--loglevel", "INFO", *extra],
        env_without_settings_module)
    assert code != 0
    assert SETTINGS_MISSING in output


@pytest.mark.parametrize("account,complaint", [
    (push_service_account(token_uri="http://oauth2.googleapis.com/token"),
     "PUSH_SERVICE_ACCOUNT token_uri must be an https:// URL"),
    (push_service_account(key_size=1024),
     "PUSH_SERVICE_ACCOUNT private_key must be an RSA private key of at least 2048 bits"),
    (push_service_account(private_key="-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"),
     "PUSH_SERVICE_ACCOUNT private_key must be an RSA private key"),
    (push_service_account(type="authorized_user"),
     "PUSH_SERVICE_ACCOUNT must be a service_account key file"),
    ({k: v for k, v in push_service_account().items() if k != "client_email"},
     "PUSH_SERVICE_ACCOUNT lacks client_email"),
    ("[]", "PUSH_SERVICE_ACCOUNT must be a service_account key file"),
])
def test_production_refuses_a_push_service_account_it_cannot_trust(production_env, account,
                                                                    complaint):
    value = account if isinstance(account, str) else json.dumps(account)
    result = _manage({**production_env, "PUSH_SERVICE_ACCOUNT": value}, "check")
    assert result.returncode != 0
    assert complaint in result.stderr
    assert "PRIVATE KEY" not in result.stderr  # the key itself is never echoed
