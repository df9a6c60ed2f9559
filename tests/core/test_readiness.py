"""/readyz: the database, broker and Redis decide ready (503 when one is down); the outside
systems the flows registered are each asked at once and reported, a down one making the
answer `degraded` while the pod stays in the load balancer. Each one's answer is kept
READYZ_OUTSIDE_CACHE_SECONDS, so probes in a row do not call it every time."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import health
from core.outside import registry
from provisioning.apps import READINESS_SYSTEMS as PROVISIONING_SYSTEMS
from transfers.apps import READINESS_SYSTEMS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_answers():
    """Each test asks the systems anew (a port may be reused by a later test's server)."""
    health.forget_outside_results()
    yield
    health.forget_outside_results()


class _Answer(BaseHTTPRequestHandler):
    status = 404  # what a counterpart says to an unauthenticated GET of its root

    def do_GET(self):
        with self.server.count_lock:
            self.server.requests += 1
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A real HTTP server on a free port answering every GET with `status`."""
    servers = []

    def start(status: int) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
        server.status = status
        server.requests = 0
        server.count_lock = threading.Lock()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    start.servers = servers
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def _closed_port() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def outside_up(settings, http_server):
    """Every registered outside system aimed at a live server answering 404 (reachable)."""
    url = http_server(404)
    for name in health.outside_systems():
        setattr(settings, registry.get(name).base_url_setting, url + registry.get(name).mount)
    return settings


def _aim(settings, name: str, url: str) -> None:
    setattr(settings, registry.get(name).base_url_setting, url)


def test_the_transfers_flow_registers_the_outside_systems_it_calls():
    assert set(health.outside_systems()) >= {"mpesa", "attributes", "payouts",
                                             "transaction_search", "screening"}


def test_the_provisioning_flow_registers_the_issuer_and_the_token_service():
    assert set(PROVISIONING_SYSTEMS) == {"issuer", "token_service"}
    assert set(health.outside_systems()) >= set(PROVISIONING_SYSTEMS)


def test_all_up_is_ready_and_names_every_outside_system(client, outside_up):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "broker", "redis"}
    assert set(body["outside"]) >= {*READINESS_SYSTEMS, *PROVISIONING_SYSTEMS}
    assert all(result["status"] == "ok" for result in body["outside"].values())


def test_an_outside_system_refusing_connections_is_down_and_the_pod_stays_in(client,
                                                                               outside_up):
    _aim(outside_up, "payouts", _closed_port())
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["outside"]["payouts"] == {"status": "down", "error": "ConnectionError"}
    assert body["outside"]["mpesa"]["status"] == "ok"
    assert all(result["status"] == "ok" for result in body["checks"].values())


def test_an_outside_system_answering_a_server_error_is_down(client, outside_up, http_server):
    _aim(outside_up, "screening", http_server(503))
    body = client.get("/readyz").json()
    assert body["outside"]["screening"] == {"status": "down", "error": "OutsideSystemDown"}
    assert body["status"] == "degraded"


def test_silent_systems_are_asked_at_once_so_the_probe_takes_one_timeout(client, outside_up,
                                                                          silent_port):
    outside_up.READYZ_OUTSIDE_TIMEOUT = 0.5
    names = health.outside_systems()
    for name in names:
        _aim(outside_up, name, silent_port)
    started = time.monotonic()
    body = client.get("/readyz").json()
    elapsed = time.monotonic() - started
    assert {body["outside"][name]["error"] for name in names} == {"ReadTimeout"}
    # One after another they would take 7 x 0.5 s.
    assert elapsed < 2.0, elapsed


def test_redis_down_is_still_not_ready_whatever_the_outside_systems_say(client, outside_up):
    outside_up.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["outside"]["mpesa"]["status"] == "ok"


def test_only_a_system_with_a_client_can_be_depended_on(monkeypatch):
    unclient = registry.OutsideSystem(name="toy_unclient", title="No client yet",
                                      prefix="TOY_UNCLIENT", mount="/toy",
                                      sandbox_routes="sandbox.toy:routes")
    monkeypatch.setattr(registry, "SYSTEMS", [*registry.SYSTEMS, unclient])
    with pytest.raises(ValueError):
        health.depend_on_outside_systems("toy_unclient")
    assert "toy_unclient" not in health.outside_systems()
    with pytest.raises(KeyError):
        health.depend_on_outside_systems("no_such_system")


@pytest.fixture
def one_server_for_all(settings, http_server):
    """Every registered system aimed at one live server that counts the GETs it answers."""
    http_server(404)
    server = http_server.servers[-1]
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for name in health.outside_systems():
        _aim(settings, name, url + registry.get(name).mount)
    return server


class _Clock:
    """time.monotonic, moved on by the test instead of waited for."""

    def __init__(self):
        self.now = time.monotonic()

    def __call__(self):
        return self.now


def test_two_probes_within_the_cache_time_ask_each_outside_system_once(
        client, settings, one_server_for_all, monkeypatch):
    settings.READYZ_OUTSIDE_CACHE_SECONDS = 10
    clock = _Clock()
    monkeypatch.setattr(health, "_clock", clock)
    systems = len(health.outside_systems())
    first = client.get("/readyz").json()
    clock.now += 9
    second = client.get("/readyz").json()
    assert one_server_for_all.requests == systems
    assert first["outside"] == second["outside"]
    assert second["status"] == "ready"


def test_a_probe_after_the_cache_time_asks_again(client, settings, one_server_for_all,
                                                 monkeypatch):
    settings.READYZ_OUTSIDE_CACHE_SECONDS = 10
    clock = _Clock()
    monkeypatch.setattr(health, "_clock", clock)
    systems = len(health.outside_systems())
    client.get("/readyz")
    clock.now += 10.5
    client.get("/readyz")
    assert one_server_for_all.requests == 2 * systems


def test_a_down_answer_is_kept_too_and_a_system_aimed_elsewhere_is_asked_anew(
        client, settings, one_server_for_all, http_server):
    settings.READYZ_OUTSIDE_CACHE_SECONDS = 10
    _aim(settings, "screening", http_server(503))
    failing = http_server.servers[-1]
    for _ in range(2):
        assert client.get("/readyz").json()["outside"]["screening"]["status"] == "down"
    assert failing.requests == 1
    _aim(settings, "screening", http_server(404))
    body = client.get("/readyz").json()
    assert body["outside"]["screening"]["status"] == "ok"
    assert body["status"] == "ready"


def test_a_cache_time_of_zero_asks_at_every_probe(client, settings, one_server_for_all):
    settings.READYZ_OUTSIDE_CACHE_SECONDS = 0
    systems = len(health.outside_systems())
    client.get("/readyz")
    client.get("/readyz")
    assert one_server_for_all.requests == 2 * systems
