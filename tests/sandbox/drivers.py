"""Drivers of the sandbox tests, handed to tests by the fixtures in conftest.py: an
independent HTTP Signature signer, signed token-service calls with card JWEs, and a
local webhook receiver."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import threading
import warnings
from collections import deque
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from joserfc import jwe
from joserfc.jwk import RSAKey

import devstack

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


class Signer:
    """Builds the token service's HTTP Signature headers from docs/wire-contract.md, for tests only."""

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


def verify_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-Webhook-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    presented = [part.strip()[3:] for part in headers["X-Webhook-Signature"].split(",")]
    return any(hmac.compare_digest(expected, value) for value in presented)


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
