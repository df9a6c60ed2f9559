"""Fixtures for the sandbox tests: isolated apps on throwaway keys, an independent request
signer, card JWEs, and a local webhook receiver. Plain pytest: no Django, no database.

Run with `.venv/bin/python -m pytest tests/sandbox -p no:django -q`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwe
from joserfc.jwk import RSAKey

import devstack
from core import dev_keys
from sandbox.app import create_app
from sandbox.config import SandboxConfig

with warnings.catch_warnings():
    # Starlette 1.x nudges towards httpx2, which the lock file does not carry.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

GREEN_PAN = "4111111111111111"
PANS = {
    "green": GREEN_PAN,
    "red": "4000000000000002",
    "yellow": "4000000000000010",
    "flaky": "4000000000000028",
    "late": "4000000000000036",
    "slow": "4000000000000044",
}
DEVICE = {"id": "dev_1", "type": "phone", "os": "android"}


# The sandbox runs in this process here: short deadlines, quick polls.
wait_until = functools.partial(devstack.wait_until, timeout=5.0, interval=0.01)


# keys and signing --------------------------------------------------------------------


@pytest.fixture(scope="session")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "dev-keys.json"
    path.write_text(json.dumps(dev_keys.generate()))
    return path


@pytest.fixture(scope="session")
def keys(keys_file: Path) -> dict[str, Any]:
    return json.loads(keys_file.read_text())


class Signer:
    """Builds the token service's HTTP Signature headers from DESIGN.md, for tests only."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys

    def headers(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        host: str = "testserver",
        date: str | None = None,
        key_id: str | None = None,
        secret: bytes | None = None,
        merchant_id: str | None = None,
        with_digest: bool | None = None,
        digest_body: bytes | None = None,
    ) -> dict[str, str]:
        if with_digest is None:
            with_digest = method.upper() in {"POST", "PUT", "PATCH"}
        values = {
            "host": host,
            "date": date or formatdate(usegmt=True),
            "request-target": f"{method.lower()} {target}",
            "v-c-merchant-id": merchant_id or self.keys["merchant_id"],
        }
        names = ["host", "date", "request-target", "v-c-merchant-id"]
        if with_digest:
            signed_body = body if digest_body is None else digest_body
            values["digest"] = (
                "SHA-256=" + base64.b64encode(hashlib.sha256(signed_body).digest()).decode()
            )
            names.insert(3, "digest")
        text = "\n".join(f"{name}: {values[name]}" for name in names)
        key = (
            secret
            if secret is not None
            else base64.b64decode(self.keys["token_service_shared_secret"])
        )
        signature = base64.b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).decode()
        headers = {
            "Host": host,
            "Date": values["date"],
            "v-c-merchant-id": values["v-c-merchant-id"],
            "Signature": (
                f'keyid="{key_id or self.keys["token_service_key_id"]}", algorithm="HmacSHA256", '
                f'headers="{" ".join(names)}", signature="{signature}"'
            ),
            "Content-Type": "application/json",
        }
        if with_digest:
            headers["Digest"] = values["digest"]
        return headers


@pytest.fixture(scope="session")
def signer(keys: dict[str, Any]) -> Signer:
    return Signer(keys)


def verify_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-Webhook-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    presented = [part.strip()[3:] for part in headers["X-Webhook-Signature"].split(",")]
    return any(hmac.compare_digest(expected, value) for value in presented)


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


class TokenServiceDriver:
    """Signed calls to the token service of one sandbox, with card JWEs."""

    def __init__(self, client: TestClient, signer: Signer, keys: dict[str, Any]) -> None:
        self.client = client
        self.signer = signer
        self.public_key = RSAKey.import_key(keys["token_service_jwe_public_pem"])

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **sign: Any,
    ) -> httpx.Response:
        raw = json.dumps(body).encode() if body is not None else b""
        all_headers = self.signer.headers(method, path, raw, **sign)
        if key is not None:
            all_headers["Idempotency-Key"] = key
        all_headers.update(headers or {})
        return self.client.request(method, path, content=raw, headers=all_headers)

    def card_jwe(
        self,
        pan: str = GREEN_PAN,
        expiry_month: Any = 12,
        expiry_year: Any = 2030,
        *,
        alg: str = "RSA-OAEP-256",
        enc: str = "A256GCM",
        public_key: RSAKey | None = None,
    ) -> str:
        plaintext = json.dumps(
            {
                "pan": pan,
                "expiry_month": expiry_month,
                "expiry_year": expiry_year,
                "cardholder_name": "AMINA WANJIRU",
            }
        )
        registry = jwe.JWERegistry(algorithms=[alg, enc])
        return jwe.encrypt_compact(
            {"alg": alg, "enc": enc}, plaintext, public_key or self.public_key, registry=registry
        )

    def provision_body(
        self, request_id: str, pan: str = GREEN_PAN, wallet: str = "google_pay", **extra: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "request_id": request_id,
            "wallet": wallet,
            "device": DEVICE,
            "wallet_account_id": None,
            "encrypted_card": self.card_jwe(pan),
            "apple": None,
        }
        body.update(extra)
        return body

    def provision(
        self,
        request_id: str,
        pan: str = GREEN_PAN,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> httpx.Response:
        body = self.provision_body(request_id, pan, **extra)
        return self.call("POST", "/tms/v2/tokens", body, key=key or request_id, headers=headers)

    def token(self, token_ref: str) -> httpx.Response:
        return self.call("GET", f"/tms/v2/tokens/{token_ref}")

    def stats(self) -> dict[str, Any]:
        return self.client.get("/sandbox/stats").json()


@pytest.fixture
def tms(client: TestClient, signer: Signer, keys: dict[str, Any]) -> TokenServiceDriver:
    return TokenServiceDriver(client, signer, keys)


@pytest.fixture
def make_tms(signer: Signer, keys: dict[str, Any]) -> Callable[[TestClient], TokenServiceDriver]:
    return lambda client: TokenServiceDriver(client, signer, keys)


# a webhook receiver -------------------------------------------------------------------


class WebhookReceiver:
    """A real HTTP server on loopback that records what the sandbox delivers."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: deque[int] = deque()  # status codes to give, then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.answers.popleft() if receiver.answers else 200
                receiver.received.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "status": status,
                    }
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/token-service"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return wait_until(lambda: self.received if len(self.received) >= count else None,
                          timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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


# Visa Direct systems -------------------------------------------------------------------

# Recipient cards by the outcome their last four pick (sandbox/README.md, "Recipient cards").
RECIPIENT_PANS = {
    "green": "4000000000000093",
    "cannot_receive": "4000000000000051",
    "declined": "4000000000000002",
    "flaky": "4000000000000028",
    "pending": "4000000000000036",
    "slow": "4000000000000044",
    "no_fast_funds": "4000000000000077",
}


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def pan_with(prefix: str, last4: str, length: int = 16) -> str:
    """A Luhn-valid PAN with this prefix and last four: one middle digit is chosen to fit."""
    middle = ["0"] * (length - len(prefix) - len(last4))
    for digit in "0123456789":
        middle[-1] = digit
        pan = prefix + "".join(middle) + last4
        if luhn_ok(pan):
            return pan
    raise AssertionError("no middle digit makes this PAN Luhn-valid")


class VisaDirectDriver:
    """Calls to the Visa Direct stand-ins of one sandbox: signed CyberSource-style calls
    (payouts, transaction search, reporting, attributes) and bearer calls (M-Pesa,
    screening), with recipient-card JWEs."""

    def __init__(self, client: TestClient, signer: Signer, keys: dict[str, Any]) -> None:
        self.client = client
        self.keys = keys
        self.signed = TokenServiceDriver(client, signer, keys)

    # card JWE --------------------------------------------------------------------------

    def recipient_jwe(self, pan: str, **claims: Any) -> str:
        plaintext = json.dumps({"pan": pan, "cardholder_name": "JANE WANJIKU", **claims})
        registry = jwe.JWERegistry(algorithms=["RSA-OAEP-256", "A256GCM"])
        return jwe.encrypt_compact(
            {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
            plaintext,
            self.signed.public_key,
            registry=registry,
        )

    # attributes inquiry ----------------------------------------------------------------

    def attributes(self, pan: str | None = None, **body: Any) -> httpx.Response:
        payload: dict[str, Any] = {
            "systemsTraceAuditNumber": "451018",
            "retrievalReferenceNumber": "412770452025",
        }
        if pan is not None:
            payload["encryptedCard"] = self.recipient_jwe(pan)
        payload.update(body)
        return self.signed.call(
            "POST", "/paai/fundstransferattinq/v5/cardattributes/fundstransferinquiry", payload
        )

    # payouts ---------------------------------------------------------------------------

    def payout_body(
        self, code: str, pan: str = RECIPIENT_PANS["green"], amount: str = "1500.00", **parts: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "clientReferenceInformation": {"code": code},
            "orderInformation": {"amountDetails": {"totalAmount": amount, "currency": "KES"}},
            "senderInformation": {
                "name": "AMINA WANJIRU",
                "referenceNumber": "cust_demo",
                "account": {"fundsSource": "05"},
            },
            "recipientInformation": {"firstName": "JANE", "lastName": "WANJIKU", "country": "KE"},
            "processingInformation": {
                "businessApplicationId": "PP",
                "reconciliationId": "rec" + code[-8:],
                "payoutsOptions": {},
            },
            "paymentInformation": {
                "card": {"type": "001", "encryptedCard": self.recipient_jwe(pan)}
            },
        }
        body.update(parts)
        return body

    def payout(
        self, code: str, pan: str = RECIPIENT_PANS["green"], amount: str = "1500.00", **parts: Any
    ) -> httpx.Response:
        return self.send_payout(self.payout_body(code, pan, amount, **parts))

    def send_payout(self, body: dict[str, Any], **sign: Any) -> httpx.Response:
        return self.signed.call("POST", "/pts/v2/payouts", body, **sign)

    def search(self, code: str, **body: Any) -> httpx.Response:
        payload = {"query": f"clientReferenceInformation.code:{code}", **body}
        return self.signed.call("POST", "/tss/v2/searches", payload)

    def transaction(self, transaction_id: str) -> httpx.Response:
        return self.signed.call("GET", f"/tss/v2/transactions/{transaction_id}")

    def status_of(self, code: str) -> str | None:
        """The network's status for a code, as a service asking after a lost answer sees it."""
        found = self.search(code).json()
        if found["totalCount"] == 0:
            return None
        return found["_embedded"]["transactionSummaries"][0]["applicationInformation"]["status"]

    # settlement report -----------------------------------------------------------------

    def report(self, day: str, name: str = "PayoutSettlementDetailReport") -> httpx.Response:
        return self.signed.call(
            "GET", f"/reporting/v3/report-downloads?reportDate={day}&reportName={name}"
        )

    # M-Pesa ledger ---------------------------------------------------------------------

    def mpesa(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, key: str | None = None,
        api_key: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {api_key or self.keys['mpesa_api_key']}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.request(method, f"/mpesa{path}", json=body, headers=headers)

    def hold(
        self, key: str, *, customer_id: str = "cust_demo", amount: int = 150_000, fee: int = 2_500,
        reference: str | None = None, currency: str = "KES",
    ) -> httpx.Response:
        body = {
            "customer_id": customer_id,
            "amount": amount,
            "fee": fee,
            "currency": currency,
            "reference": reference or key,
        }
        return self.mpesa("POST", "/v1/holds", body, key=key)

    def capture(self, hold_id: str, key: str) -> httpx.Response:
        return self.mpesa("POST", f"/v1/holds/{hold_id}/capture", {}, key=key)

    def release(self, hold_id: str, key: str) -> httpx.Response:
        return self.mpesa("POST", f"/v1/holds/{hold_id}/release", {}, key=key)

    def set_balance(self, customer_id: str, balance: int) -> httpx.Response:
        return self.client.post(
            "/sandbox/mpesa/accounts", json={"customer_id": customer_id, "balance": balance}
        )

    def account(self, customer_id: str) -> dict[str, Any]:
        response = self.client.get(f"/sandbox/mpesa/accounts/{customer_id}")
        assert response.status_code == 200, response.text
        return response.json()

    # screening -------------------------------------------------------------------------

    def screen(self, name: str, country: str = "KE", **body: Any) -> httpx.Response:
        return self.client.post(
            "/screening/v1/screenings",
            json={"name": name, "country": country, **body},
            headers={"Authorization": f"Bearer {self.keys['screening_api_key']}"},
        )

    def stats(self) -> dict[str, Any]:
        return self.client.get("/sandbox/stats").json()


@pytest.fixture
def vd(client: TestClient, signer: Signer, keys: dict[str, Any]) -> VisaDirectDriver:
    return VisaDirectDriver(client, signer, keys)


@pytest.fixture
def make_vd(signer: Signer, keys: dict[str, Any]) -> Callable[[TestClient], VisaDirectDriver]:
    return lambda client: VisaDirectDriver(client, signer, keys)


@pytest.fixture(scope="session")
def recipient_pans() -> dict[str, str]:
    return dict(RECIPIENT_PANS)


@pytest.fixture(scope="session")
def make_pan() -> Callable[..., str]:
    return pan_with
