"""/metrics, /api/schema/ and /api/docs/ are served on the internal listener only
(INTERNAL_PORT, ADR 0006), and nothing a client sends makes the public one serve them.

The listener is the local address of the connection's socket, which gunicorn hands the
app as `gunicorn.socket`. The unit tests give Django's test client such a socket (the
only stand-in here); the gunicorn tests run the real server with production settings
on two ports and try to reach the internal endpoints through the public one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from devstack import Process, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "test-logs"
INTERNAL = ["/metrics", "/api/schema/", "/api/docs/"]
INTERNAL_PORT = 9117


class ListenerSocket:
    """What gunicorn puts under `gunicorn.socket`: the accepted connection."""

    def __init__(self, local_address):
        self.local_address = local_address

    def getsockname(self):
        return self.local_address


def _on(port: int, host: str = "10.1.2.3") -> dict:
    return {"gunicorn.socket": ListenerSocket((host, port))}


@pytest.fixture
def split_listeners(settings):
    settings.INTERNAL_PORT = INTERNAL_PORT


# --- routing, through Django's test client ------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_internal_endpoints_are_404_on_the_public_listener(client, split_listeners, path):
    response = client.get(path, **_on(8000))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
@pytest.mark.parametrize("spoof", [
    {"HTTP_HOST": f"127.0.0.1:{INTERNAL_PORT}"},
    {"HTTP_X_FORWARDED_FOR": "127.0.0.1"},
    {"HTTP_X_FORWARDED_HOST": f"localhost:{INTERNAL_PORT}"},
    {"HTTP_X_FORWARDED_PORT": str(INTERNAL_PORT)},
    {"HTTP_FORWARDED": f"for=127.0.0.1;host=localhost:{INTERNAL_PORT}"},
    # What gunicorn derives from Host when it listens on a unix socket.
    {"SERVER_PORT": str(INTERNAL_PORT), "SERVER_NAME": "localhost"},
    {"REMOTE_ADDR": "127.0.0.1"},
], ids=["host", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port", "forwarded",
        "server-port", "loopback-client"])
def test_no_header_makes_the_public_listener_serve_an_internal_endpoint(
        client, split_listeners, path, spoof):
    response = client.get(path, **_on(8000), **spoof)
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_without_a_listener_socket_the_request_counts_as_public(client, split_listeners, path):
    # Not under gunicorn (runserver, a test client): fail closed.
    assert client.get(path, SERVER_PORT=str(INTERNAL_PORT)).status_code == 404


@pytest.mark.django_db
def test_a_unix_socket_listener_is_public(client, split_listeners):
    response = client.get("/metrics", **{"gunicorn.socket": ListenerSocket("/run/gunicorn.sock")},
                          HTTP_HOST=f"localhost:{INTERNAL_PORT}")
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_internal_listener_serves_metrics_whatever_the_host(client, split_listeners):
    # Prometheus scrapes a pod by its address: a Host that is not in ALLOWED_HOSTS.
    response = client.get("/metrics", **_on(INTERNAL_PORT), HTTP_HOST=f"10.1.2.3:{INTERNAL_PORT}")
    assert response.status_code == 200
    assert b"transitions_total" in response.content


@pytest.mark.django_db
def test_the_internal_listener_serves_the_schema_and_its_docs_page(client, split_listeners):
    schema = client.get("/api/schema/", **_on(INTERNAL_PORT), HTTP_HOST="10.1.2.3")
    docs = client.get("/api/docs/", **_on(INTERNAL_PORT), HTTP_HOST="10.1.2.3")
    assert schema.status_code == 200 and b"/api/v1/provisioning-requests" in schema.content
    assert docs.status_code == 200 and b"swagger-ui" in docs.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/tokens", "/admin/", "/webhooks/token-service"])
def test_the_internal_listener_serves_nothing_of_the_public_site(client, split_listeners, path):
    assert client.get(path, **_on(INTERNAL_PORT)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("port", [8000, INTERNAL_PORT])
def test_health_checks_answer_on_both_listeners(client, split_listeners, port):
    assert client.get("/healthz", **_on(port)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_with_one_listener_dev_serves_everything_on_it(client, path):
    assert settings.INTERNAL_PORT == 0
    assert client.get(path).status_code == 200


# --- the real server: gunicorn with production settings on two ports ------------------------

def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _gunicorn(env: dict[str, str], log: Path, *extra: str) -> Process:
    return Process("gunicorn", [sys.executable, "-m", "gunicorn", "config.wsgi:application",
                                "--config", "python:config.gunicorn", "--workers", "1", *extra],
                   log_path=log, env=env, cwd=ROOT).start(append=False)


@pytest.fixture(scope="module")
def production_server(production_env, django_db_setup, django_db_blocker):
    LOGS.mkdir(parents=True, exist_ok=True)
    public, internal = free_port(), free_port()
    env = {**production_env,
           "GUNICORN_BIND": f"127.0.0.1:{public}",
           "INTERNAL_PORT": str(internal),
           # The real test database and this run's Redis, so /metrics reads real gauges.
           "DATABASE_URL": _database_url(),
           "REDIS_URL": os.environ.get("REDIS_URL") or settings.REDIS_URL,
           "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL")
           or settings.CELERY_BROKER_URL,
           # Host validation is not what keeps the internal endpoints private here:
           # a Host naming the internal port must pass it and still be refused.
           "DJANGO_ALLOWED_HOSTS": "push-provisioning.mpesa.example,127.0.0.1,localhost"}
    log = LOGS / "gunicorn-listeners.log"
    process = _gunicorn(env, log)

    def up():
        if process.popen.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{process.tail()}")
        try:
            return requests.get(f"http://127.0.0.1:{internal}/healthz", timeout=0.5).ok
        except requests.RequestException:
            return False

    wait_until(up, timeout=60, message="gunicorn on both listeners")
    yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{internal}", internal
    process.stop(grace=5)


# What the TLS-terminating proxy in front of the public listener adds.
THROUGH_THE_PROXY = {"Host": "push-provisioning.mpesa.example", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize("path", INTERNAL)
def test_gunicorn_public_listener_does_not_serve_internal_endpoints(production_server, path):
    public, _, _ = production_server
    response = requests.get(f"{public}{path}", headers=THROUGH_THE_PROXY, timeout=10,
                            allow_redirects=False)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", INTERNAL)
def test_gunicorn_public_listener_ignores_spoofed_host_and_forwarding_headers(
        production_server, path):
    public, _, internal = production_server
    response = requests.get(f"{public}{path}", timeout=10, allow_redirects=False, headers={
        **THROUGH_THE_PROXY,
        "Host": f"127.0.0.1:{internal}",
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Host": f"localhost:{internal}",
        "X-Forwarded-Port": str(internal),
        "Forwarded": f"for=127.0.0.1;host=localhost:{internal}",
    })
    assert response.status_code == 404


def test_gunicorn_public_listener_still_serves_the_api_and_health(production_server):
    public, _, _ = production_server
    health = requests.get(f"{public}/healthz", headers=THROUGH_THE_PROXY, timeout=10)
    api = requests.get(f"{public}/api/v1/tokens", headers=THROUGH_THE_PROXY, timeout=10)
    assert health.status_code == 200
    assert api.status_code == 401  # there, and asking for a customer's token


def test_gunicorn_internal_listener_serves_metrics_schema_and_docs(production_server):
    _, internal_url, internal = production_server
    # Plain HTTP and the pod's address as Host, as Prometheus scrapes.
    pod = {"Host": f"10.1.2.3:{internal}"}
    metrics = requests.get(f"{internal_url}/metrics", headers=pod, timeout=10)
    schema = requests.get(f"{internal_url}/api/schema/", headers=pod, timeout=10)
    docs = requests.get(f"{internal_url}/api/docs/", headers=pod, timeout=10)
    assert metrics.status_code == 200 and "provisioning_requests" in metrics.text
    assert schema.status_code == 200 and "/api/v1/provisioning-requests" in schema.text
    assert docs.status_code == 200 and "swagger-ui" in docs.text


def test_gunicorn_internal_listener_serves_nothing_of_the_public_site(production_server):
    _, internal_url, _ = production_server
    assert requests.get(f"{internal_url}/api/v1/tokens", timeout=10).status_code == 404
    assert requests.get(f"{internal_url}/admin/login/", timeout=10).status_code == 404


def test_gunicorn_refuses_to_start_when_the_internal_port_is_not_bound(production_env):
    # A --bind on the command line replaces config/gunicorn.py's binds.
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / "gunicorn-listeners-refused.log"
    process = _gunicorn({**production_env, "INTERNAL_PORT": str(free_port())}, log,
                        "--bind", f"127.0.0.1:{free_port()}")
    try:
        code = process.popen.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.stop(grace=5)
        raise AssertionError(f"gunicorn served without its internal listener:\n{process.tail()}")
    assert code != 0
    assert "INTERNAL_PORT" in log.read_text()
