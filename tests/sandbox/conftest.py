"""Fixtures for the sandbox tests: isolated apps on throwaway keys, an independent request
signer, card JWEs, and a local webhook receiver (the drivers are drivers.py and
visa_direct_driver.py). Plain pytest: no Django, no database.

Run with `.venv/bin/python -m pytest tests/sandbox -p no:django -q`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core import dev_keys
from sandbox.app import create_app
from sandbox.config import SandboxConfig

from .drivers import (
    Signer,
    TestClient,
    TokenServiceDriver,
    WebhookReceiver,
    verify_webhook,
    wait_until,
)
from .visa_direct_driver import RECIPIENT_PANS, VisaDirectDriver, pan_with


# keys and signing --------------------------------------------------------------------


@pytest.fixture(scope="session")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "dev-keys.json"
    path.write_text(json.dumps(dev_keys.generate()))
    return path


@pytest.fixture(scope="session")
def keys(keys_file: Path) -> dict[str, Any]:
    return json.loads(keys_file.read_text())


@pytest.fixture(scope="session")
def signer(keys: dict[str, Any]) -> Signer:
    return Signer(keys)


# the app ------------------------------------------------------------------------------


@pytest.fixture
def make_client(keys_file: Path) -> Iterator[Callable[..., TestClient]]:
    """Build an isolated sandbox; keyword arguments are environment variables."""
    clients: list[TestClient] = []

    def build(webhook_retry_seconds: float = 0.05, **env: str) -> TestClient:
        environ = {
            "DEV_KEYS_FILE": str(keys_file),
            "SANDBOX_LATE_DECISION_SECONDS": "0.05",
            "SANDBOX_SLOW_SECONDS": "0.3",
            # Port 9 (discard) on loopback: nothing listens, deliveries fail fast.
            "SANDBOX_WEBHOOK_URL": "http://127.0.0.1:9/webhooks/token-service",
            **env,
        }
        config = SandboxConfig.from_env(environ, webhook_retry_seconds=webhook_retry_seconds)
        # Entered so one event loop serves the whole test: late decisions run on it.
        client = TestClient(create_app(config)).__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def make_tms(signer: Signer, keys: dict[str, Any]) -> Callable[[TestClient], TokenServiceDriver]:
    return lambda client: TokenServiceDriver(client, signer, keys)


@pytest.fixture
def tms(client: TestClient, make_tms: Callable[[TestClient], TokenServiceDriver]
        ) -> TokenServiceDriver:
    return make_tms(client)


# a webhook receiver -------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def hooked_client(make_client: Callable[..., TestClient], receiver: WebhookReceiver) -> TestClient:
    """A sandbox whose webhooks go to `receiver`."""
    return make_client(SANDBOX_WEBHOOK_URL=receiver.url)


@pytest.fixture
def hooked_tms(
    hooked_client: TestClient, make_tms: Callable[[TestClient], TokenServiceDriver]
) -> TokenServiceDriver:
    return make_tms(hooked_client)


# helpers handed to tests as fixtures (test modules do not import conftest) -------------


@pytest.fixture(scope="session")
def wait() -> Callable[..., Any]:
    return wait_until


@pytest.fixture(scope="session")
def webhook_is_signed(keys: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Check a received delivery the way the service's webhook endpoint must."""
    return lambda delivery: verify_webhook(
        keys["webhook_secret"], delivery["headers"], delivery["body"]
    )


@pytest.fixture
def make_vd(signer: Signer, keys: dict[str, Any]) -> Callable[[TestClient], VisaDirectDriver]:
    return lambda client: VisaDirectDriver(client, signer, keys)


@pytest.fixture
def vd(client: TestClient, make_vd: Callable[[TestClient], VisaDirectDriver]) -> VisaDirectDriver:
    return make_vd(client)


@pytest.fixture(scope="session")
def recipient_pans() -> dict[str, str]:
    return dict(RECIPIENT_PANS)


@pytest.fixture(scope="session")
def make_pan() -> Callable[..., str]:
    return pan_with


@pytest.fixture
def funded(vd: VisaDirectDriver) -> VisaDirectDriver:
    """cust_demo with KES 10,000.00 and nothing held (the M-Pesa tests)."""
    assert vd.set_balance("cust_demo", 1_000_000).status_code == 200
    return vd
