"""Client of the token service (CyberSource / Visa Token Service shaped).

Every call is HTTP-Signature signed; effectful calls carry an idempotency key; a
circuit breaker shared by all workers (state in Redis when REDIS_URL is set) stops
hammering a token service that is down. Returns typed results, raises typed errors.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pybreaker
from django.conf import settings

from core.outside.breaker import shared_breaker
from core.outside.client import OutsideClient
from core.outside.errors import PermanentError, TransientError
from core.outside.transport import Response

from core.crypto import jwe
from core.outside import http_signature
from tokens import wallets

logger = logging.getLogger(__name__)
SYSTEM = "token_service"


class CircuitOpen(TransientError):
    """The breaker is open: the token service failed too often just now."""


@dataclass(frozen=True)
class Decision:
    """The token service's answer to a provision call, now or later."""

    decision: str  # green | yellow | red | pending
    token_ref: str | None = None
    status: str | None = None
    token_last4: str = ""
    token_expiry: str = ""
    wallet_payload: dict[str, Any] | None = None
    reason: str = ""

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "Decision":
        decision = body.get("decision")
        if decision not in {"green", "yellow", "red", "pending"}:
            raise PermanentError("token_service_bad_response", "no decision in the answer",
                                 system=SYSTEM)
        if decision in {"green", "yellow"} and not body.get("token_ref"):
            raise PermanentError("token_service_bad_response", "decision without token_ref",
                                 system=SYSTEM)
        payload = body.get("wallet_payload")
        return cls(
            decision=decision,
            token_ref=body.get("token_ref"),
            status=body.get("status"),
            token_last4=str(body.get("token_last4") or "")[:4],
            token_expiry=str(body.get("token_expiry") or "")[:5],
            wallet_payload=payload if isinstance(payload, dict) else None,
            reason=str(body.get("reason") or ""),
        )


@dataclass(frozen=True)
class TokenStatus:
    token_ref: str
    status: str  # INACTIVE | ACTIVE | SUSPENDED | DELETED
    token_last4: str = ""
    token_expiry: str = ""


@dataclass(frozen=True)
class ProvisionCall:
    request_id: str
    wallet: str
    device: dict[str, str]
    card: dict[str, str] = field(repr=False)  # holds the PAN: never printed
    wallet_account_id: str = ""
    # The wallet's own block (tokens/wallets.py), put into the body as that wallet says.
    wallet_data: dict[str, Any] | None = None
    # The issuer's own decision, sent as network issuer-decisioning does: the token
    # service answers with the most restrictive of its own and ours.
    issuer_decision: str = "green"


def _breaker() -> pybreaker.CircuitBreaker:
    return shared_breaker(SYSTEM)


def breaker_state() -> str:
    return _breaker().current_state


class TokenServiceClient(OutsideClient):
    system = SYSTEM

    # --- provisioning ------------------------------------------------------------
    def provision(self, call: ProvisionCall) -> Decision:
        encrypted = jwe.encrypt_card(call.card, settings.TOKEN_SERVICE_JWE_PUBLIC_KEY)
        body = {
            "request_id": call.request_id,
            "wallet": call.wallet,
            "device": call.device,
            "wallet_account_id": call.wallet_account_id or None,
            "encrypted_card": encrypted,
            **wallets.get(call.wallet).provision_fields(call.wallet_data),
            "issuer_decision": call.issuer_decision,
        }
        reply = self._call("provision", "POST", "/v2/tokens", body, idempotency_key=call.request_id)
        return Decision.from_body(reply.body)

    def provision_status(self, request_id: str) -> Decision | None:
        """The decision as it stands now; None if the token service never got the call."""
        try:
            reply = self._call("provision_status", "GET", f"/v2/provisions/{request_id}")
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return Decision.from_body(reply.body)

    # --- token lifecycle ---------------------------------------------------------
    def get_token(self, token_ref: str) -> TokenStatus | None:
        try:
            reply = self._call("get_token", "GET", f"/v2/tokens/{token_ref}")
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return self._status(reply.body, token_ref)

    def change_token(self, token_ref: str, operation: str, idempotency_key: str,
                     reason: str = "") -> TokenStatus:
        if operation not in {"activate", "suspend", "resume", "delete"}:
            raise ValueError(operation)
        if operation == "delete":
            reply = self._call("delete", "DELETE", f"/v2/tokens/{token_ref}",
                               idempotency_key=idempotency_key)
        else:
            reply = self._call(operation, "POST", f"/v2/tokens/{token_ref}/{operation}",
                               {"reason": reason} if reason else {},
                               idempotency_key=idempotency_key)
        return self._status(reply.body, token_ref)

    # --- plumbing ----------------------------------------------------------------
    @staticmethod
    def _status(body: dict, token_ref: str) -> TokenStatus:
        status = body.get("status")
        if status not in {"INACTIVE", "ACTIVE", "SUSPENDED", "DELETED"}:
            raise PermanentError("token_service_bad_response", "no token status", system=SYSTEM)
        return TokenStatus(
            token_ref=body.get("token_ref") or token_ref,
            status=status,
            token_last4=str(body.get("token_last4") or "")[:4],
            token_expiry=str(body.get("token_expiry") or "")[:5],
        )

    def _call(self, operation: str, method: str, path: str, body: dict | None = None, *,
              idempotency_key: str | None = None) -> Response:
        url = self.base_url + path
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        headers = http_signature.sign_request(
            method=method,
            url=url,
            body=raw,
            merchant_id=settings.TOKEN_SERVICE_MERCHANT_ID,
            key_id=settings.TOKEN_SERVICE_KEY_ID,
            shared_secret_b64=settings.TOKEN_SERVICE_SHARED_SECRET,
        )
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            return self.breaker.call(self.call, operation, method, path, url=url,
                                     headers=headers, body=raw)
        except pybreaker.CircuitBreakerError:
            raise CircuitOpen("token_service_circuit_open",
                              "token service circuit breaker is open", system=SYSTEM) from None
