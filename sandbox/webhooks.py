"""Signed token-service webhooks to the service: building, delivering, replaying.

Signature per wire-contract.md: `v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`,
keyed with the webhook secret's UTF-8 bytes as issued (`whsec_...`, not decoded).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

import httpx

from .state import SandboxState, WebhookEvent

logger = logging.getLogger("sandbox.webhooks")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def build_event(
    state: SandboxState, event_type: str, data: dict[str, Any], correlation_id: str | None = None
) -> WebhookEvent:
    """Create, sign and remember an event (remembered so it can be replayed verbatim)."""
    created = int(time.time())
    event_id = "evt_" + secrets.token_hex(12)
    body = json.dumps(
        {"id": event_id, "type": event_type, "created": created, "data": data},
        separators=(",", ":"),
    ).encode()
    timestamp = str(created)
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": sign(state.config.credentials.webhook_secret, timestamp, body),
        "X-Correlation-Id": correlation_id or event_id,
    }
    event = WebhookEvent(event_id, event_type, created, body, headers)
    with state.lock:
        state.events[event_id] = event
    return event


def resign(state: SandboxState, event: WebhookEvent) -> dict[str, str]:
    """Same body, fresh timestamp and signature: a replay the tolerance window lets in."""
    timestamp = str(int(time.time()))
    return {
        **event.headers,
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": sign(state.config.credentials.webhook_secret, timestamp, event.body),
    }


async def post_once(
    state: SandboxState, event: WebhookEvent, headers: dict[str, str] | None = None
) -> int | None:
    """One delivery attempt; the receiver's status code, or None if it could not be reached."""
    config = state.config
    try:
        async with httpx.AsyncClient(timeout=config.webhook_timeout_seconds) as client:
            response = await client.post(
                config.webhook_url, content=event.body, headers=headers or event.headers
            )
        status: int | None = response.status_code
    except httpx.HTTPError as exc:
        logger.warning(
            "webhook %s to %s: %s", event.event_id, config.webhook_url, type(exc).__name__
        )
        status = None
    with state.lock:
        event.attempts += 1
        event.last_status = status
        state.counters.webhook_attempts += 1
    return status


async def deliver(state: SandboxState, event: WebhookEvent) -> bool:
    """Send with the contract's retry policy; count the outcome once per event."""
    config = state.config
    for attempt in range(1, config.webhook_attempts + 1):
        status = await post_once(state, event)
        if status is not None and 200 <= status < 300:
            with state.lock:
                event.delivery = "sent"
                state.counters.webhooks_sent += 1
            return True
        if attempt < config.webhook_attempts:
            await asyncio.sleep(config.webhook_retry_seconds)
    logger.warning("webhook %s undelivered after %d tries", event.event_id, config.webhook_attempts)
    with state.lock:
        event.delivery = "failed"
        state.counters.webhooks_failed += 1
    return False
