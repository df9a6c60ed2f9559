"""Sandbox settings from the environment, and the key material it checks callers against.

Keys come from the shared dev key file (core/dev_keys.py) so the service and the
sandbox agree without copying secrets around. Credentials are decoded once at start,
so a broken key file fails the process instead of the first request.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import RSAKey

from core import dev_keys

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/token-service"
DEFAULT_PORT = 8900

_REQUIRED_KEYS = (
    "issuer_api_key",
    "gateway_api_key",
    "merchant_id",
    "token_service_key_id",
    "token_service_shared_secret",
    "token_service_jwe_private_pem",
    "webhook_secret",
    "push_service_account",
    "push_service_account_public_pem",
    "mpesa_api_key",
    "screening_api_key",
)


@dataclass(frozen=True)
class Credentials:
    """What callers must present, and what the sandbox signs and decrypts with."""

    issuer_api_key: str
    gateway_api_key: str
    merchant_id: str
    token_service_key_id: str
    token_service_hmac_key: bytes
    jwe_private_key: RSAKey
    webhook_secret: str
    # The push service account, as Google's token endpoint knows it: its email (the
    # assertion's issuer), the id of its key (the assertion's kid) and that public key.
    push_client_email: str
    push_key_id: str
    push_public_key: RSAKey
    mpesa_api_key: str
    screening_api_key: str

    @classmethod
    def from_keys(cls, keys: Mapping[str, Any]) -> Credentials:
        missing = [name for name in _REQUIRED_KEYS if not keys.get(name)]
        if missing:
            raise ValueError(f"dev key file lacks {', '.join(missing)}")
        try:
            hmac_key = base64.b64decode(keys["token_service_shared_secret"], validate=True)
        except binascii.Error as exc:
            raise ValueError("token_service_shared_secret is not base64") from exc
        return cls(
            issuer_api_key=keys["issuer_api_key"],
            gateway_api_key=keys["gateway_api_key"],
            merchant_id=keys["merchant_id"],
            token_service_key_id=keys["token_service_key_id"],
            token_service_hmac_key=hmac_key,
            jwe_private_key=RSAKey.import_key(keys["token_service_jwe_private_pem"]),
            webhook_secret=keys["webhook_secret"],
            push_client_email=keys["push_service_account"]["client_email"],
            push_key_id=keys["push_service_account"]["private_key_id"],
            push_public_key=RSAKey.import_key(keys["push_service_account_public_pem"]),
            mpesa_api_key=keys["mpesa_api_key"],
            screening_api_key=keys["screening_api_key"],
        )


def _flag(value: str) -> bool:
    return value.strip().lower() not in {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class SandboxConfig:
    credentials: Credentials
    webhook_url: str = DEFAULT_WEBHOOK_URL
    late_decision_seconds: float = 1.0  # the 0036 card's delay before its webhook
    slow_seconds: float = 30.0  # how long 0044 and injected timeouts hang
    seed_cards: bool = True
    random_seed: int = 0  # fault rolls are drawn from random.Random(random_seed)
    # Delivery policy of our webhooks, per wire-contract.md: 3 tries, one second apart.
    webhook_attempts: int = 3
    webhook_retry_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    push_token_seconds: float = 3600.0  # an access token's life, as Google gives them
    payout_pending_seconds: float = 1.0  # the 0036 recipient card's delay before approval

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SandboxConfig:
        env = os.environ if environ is None else environ
        keys = dev_keys.load(env.get("DEV_KEYS_FILE") or None)
        values: dict[str, Any] = {
            "credentials": Credentials.from_keys(keys),
            "webhook_url": env.get("SANDBOX_WEBHOOK_URL", DEFAULT_WEBHOOK_URL),
            "late_decision_seconds": float(env.get("SANDBOX_LATE_DECISION_SECONDS", "1.0")),
            "slow_seconds": float(env.get("SANDBOX_SLOW_SECONDS", "30")),
            "seed_cards": _flag(env.get("SANDBOX_SEED", "1")),
            "random_seed": int(env.get("SANDBOX_RANDOM_SEED", "0")),
            "push_token_seconds": float(env.get("SANDBOX_PUSH_TOKEN_SECONDS", "3600")),
            "payout_pending_seconds": float(env.get("SANDBOX_PAYOUT_PENDING_SECONDS", "1.0")),
        }
        values.update(overrides)
        return cls(**values)
