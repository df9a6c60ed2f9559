"""Adding an outside system touches three places: its registry entry, its client module
and its sandbox module (docs/architecture.md, "Adding an outside system").

The toy system's entry, client and sandbox module live in tests/core/toy_system/; the
entry is added to the registry's SYSTEMS for the test only. Everything else (settings,
the production checks, the sandbox's mounts, devstack's base URLs and stack keys, the
test helper) must pick it up from the registry: a hard-coded list anywhere fails here
(the production check is tests/security/test_production_outside_systems.py).
"""

from __future__ import annotations

import importlib
import threading

import pytest
import uvicorn

from core.outside import registry
from devstack import free_port, sandbox_base_urls, wait_until
from devstack.environment import stack_keys
from tests.core.toy_system.client import Echo, ToyClient
from tests.core.toy_system.entry import TOY
from tests.live import aim_at_sandbox



def _reload_settings_modules():
    from config.settings import base, outside

    importlib.reload(outside)
    return importlib.reload(base)


@pytest.fixture
def toy_entry(monkeypatch):
    monkeypatch.setattr(registry, "SYSTEMS", [*registry.SYSTEMS, TOY])
    yield TOY
    monkeypatch.undo()
    _reload_settings_modules()  # the settings modules as they were


@pytest.fixture
def toy_sandbox(toy_entry):
    """The real sandbox app, built from the registry now holding the toy entry, over HTTP."""
    from sandbox.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, message="the toy sandbox to listen")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_settings_give_the_new_system_its_base_url_key_and_timeout(toy_entry, monkeypatch):
    monkeypatch.setenv("SANDBOX_URL", "http://sandbox.test:8900")
    base = _reload_settings_modules()

    assert base.TOY_BASE_URL == "http://sandbox.test:8900/toy"
    assert base.TOY_API_KEY == ""
    assert base.TOY_READ_TIMEOUT == 1.5


def test_devstack_and_the_test_helper_aim_the_new_system_at_the_sandbox(toy_entry, settings):
    assert sandbox_base_urls("http://127.0.0.1:18900")["TOY_BASE_URL"] == \
        "http://127.0.0.1:18900/toy"
    assert "TOY_BASE_URL" in stack_keys()

    aim_at_sandbox(settings, "http://127.0.0.1:18900")

    assert settings.TOY_BASE_URL == "http://127.0.0.1:18900/toy"


def test_the_new_client_calls_the_new_sandbox_module_over_http(toy_sandbox, settings):
    aim_at_sandbox(settings, toy_sandbox)
    settings.TOY_API_KEY = "toy-key"
    settings.TOY_READ_TIMEOUT = 1.5

    client = ToyClient()

    assert client.echo("hello") == Echo(said="hello")
    assert client.timeout == (settings.OUTSIDE_CONNECT_TIMEOUT, 1.5)
