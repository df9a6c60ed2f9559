"""The token service's signed webhook: verify, de-duplicate, hand to a service.

Signature: `X-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`
with `X-Webhook-Timestamp` (ASCII unix seconds) within WEBHOOK_TOLERANCE_SECONDS of now.
Several secrets are accepted while one is rotated out; comparison is constant-time. A
malformed header or body is a coded 400. Every event id acts exactly once: its WebhookEvent
row and its effect commit together, so an event whose effect failed is applied when the
token service delivers it again, and one that was applied is a duplicate from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.errors import error_body
from core.models import Trigger
from core.parsers import MalformedJSON, loads

from .models import WebhookEvent

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_X_WEBHOOK_SIGNATURE"
TIMESTAMP_HEADER = "HTTP_X_WEBHOOK_TIMESTAMP"
_DECISION_FIELDS = ("request_id", "decision", "token_ref", "token_last4", "token_expiry", "reason")
# ASCII digits only: str.isdigit() and int() also take Arabic-Indic, full-width or
# superscript digits (the last make int() raise), none of which a sender means.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}", re.ASCII)
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}", re.ASCII)
# `v1=<hex>[,v1=<hex>...]`, printable ASCII; other schemes are ignored, not refused.
_SIGNATURE_HEADER = re.compile(r"[\x20-\x7e]+", re.ASCII)
SIGNATURE_HEADER_MAX_LENGTH = 512
EVENT_RETRY_AFTER_SECONDS = 30
_LATEST_EVENT_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime holds


class UnknownRequest(Exception):
    """A decision names a request its flow does not know (acknowledged, kept, not retried)."""


# A decision event is applied by the flow that asked for the token (provisioning), which
# registers its handler at start (its AppConfig.ready): tokens never imports the flows
# above it. handler(request_id, decision, *, by) -> True if it moved the request, False
# if it was already past that step; raises UnknownRequest for a request it has not got.
DecisionHandler = Callable[..., bool]
_decision_handlers: list[DecisionHandler] = []


def register_decision_handler(handler: DecisionHandler) -> None:
    if handler not in _decision_handlers:
        _decision_handlers.append(handler)


def _decision_handler() -> DecisionHandler:
    if len(_decision_handlers) != 1:
        # Not wired (or wired twice): fail the event, so the token service delivers it again.
        raise RuntimeError(f"{len(_decision_handlers)} decision handlers registered, want 1")
    return _decision_handlers[0]


class EventNotApplied(Exception):
    """A verified event whose effect failed; nothing of it was recorded."""

    def __init__(self, event_id: str):
        super().__init__(event_id)
        self.event_id = event_id


class WebhookRejected(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(headers, body: bytes, *, now: float | None = None) -> None:
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise WebhookRejected(401, "signature_missing", "Signature headers are missing.")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise WebhookRejected(400, "timestamp_invalid", "Timestamp is not unix seconds.")
    if len(signature) > SIGNATURE_HEADER_MAX_LENGTH or not _SIGNATURE_HEADER.fullmatch(signature):
        raise WebhookRejected(400, "signature_malformed",
                              "Signature header is not v1=<hex>[,v1=<hex>].")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > settings.WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookRejected(401, "timestamp_out_of_tolerance", "Timestamp is too old or new.")
    offered = [part.strip() for part in signature.split(",") if part.strip().startswith("v1=")]
    expected = [sign(secret, timestamp, body) for secret in settings.TOKEN_SERVICE_WEBHOOK_SECRETS]
    # Compare every pair, constant-time, without stopping early.
    matched = False
    for candidate in offered:
        for good in expected:
            matched |= hmac.compare_digest(candidate.encode(), good.encode())
    if not matched:
        raise WebhookRejected(401, "signature_invalid", "Signature does not match.")


def parse_event(body: bytes) -> dict:
    try:
        event = loads(body)
    except MalformedJSON as exc:
        raise WebhookRejected(400, "malformed_json", str(exc)) from None
    if not isinstance(event, dict):
        raise WebhookRejected(400, "malformed_event", "Event must be an object.")
    event_id, event_type = event.get("id"), event.get("type")
    created, data = event.get("created"), event.get("data")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 64):
        raise WebhookRejected(400, "malformed_event", "Event id is missing.")
    if not (isinstance(event_type, str) and event_type):
        raise WebhookRejected(400, "malformed_event", "Event type is missing.")
    if not isinstance(created, int) or isinstance(created, bool):
        raise WebhookRejected(400, "malformed_event", "Event time is missing.")
    if not 0 <= created <= _LATEST_EVENT_TIME:
        raise WebhookRejected(400, "malformed_event", "Event time is out of range.")
    if not isinstance(data, dict):
        raise WebhookRejected(400, "malformed_event", "Event data is missing.")
    return event


def _stored_payload(event: dict) -> dict:
    """What we keep of an event: never the wallet payload (it is stored sealed elsewhere)."""
    data = {k: v for k, v in event["data"].items() if k != "wallet_payload"}
    return {"id": event["id"], "type": event["type"], "created": event["created"], "data": data}


def handle_event(event: dict) -> str:
    """Apply one verified event exactly once; returns the outcome recorded."""
    from .token_service import Decision

    created_at = datetime.fromtimestamp(event["created"], tz=dt_timezone.utc)
    data = event["data"]
    decision = None
    if event["type"] == "provisioning.decision":
        # Validated before the event id is recorded: a malformed event must not burn it.
        try:
            decision = Decision.from_body({k: data.get(k) for k in _DECISION_FIELDS}
                                          | {"wallet_payload": data.get("wallet_payload")})
        except Exception:
            raise WebhookRejected(400, "malformed_event", "Decision is not valid.") from None
    object_ref = str(data.get("request_id") or data.get("token_ref") or "")[:64]
    try:
        return _record_and_apply(event, decision, object_ref, created_at)
    except Exception as exc:
        raise EventNotApplied(event["id"]) from exc


def _record_and_apply(event: dict, decision, object_ref: str, created_at) -> str:
    """Record the event id and apply its effect in one transaction.

    Recorded first and committed alone, an effect that then failed left the id behind:
    the token service's retry was a "duplicate" and the event was lost. Together, a failed
    effect takes its record with it, and a concurrent copy of the same event waits on the
    unique index, then finds the committed row and stops there.
    """
    from . import services as token_services

    data = event["data"]
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint, so a duplicate leaves the outer block clean
                record = WebhookEvent.objects.create(
                    event_id=event["id"], event_type=event["type"], object_ref=object_ref,
                    event_created_at=created_at, payload=_stored_payload(event),
                    outcome=WebhookEvent.Outcome.IGNORED,
                )
        except IntegrityError:
            logger.info("webhook event replayed; ignored", extra={"event_id": event["id"]})
            return "duplicate"

        outcome = WebhookEvent.Outcome.IGNORED
        if decision is not None:
            try:
                moved = _decision_handler()(data.get("request_id"), decision, by=Trigger.WEBHOOK)
                outcome = WebhookEvent.Outcome.APPLIED if moved else WebhookEvent.Outcome.IGNORED
            except UnknownRequest:
                # Acknowledged and kept for reconciliation; the sender must not retry forever.
                outcome = WebhookEvent.Outcome.UNKNOWN_OBJECT
        elif event["type"].startswith("token."):
            outcome = token_services.apply_lifecycle_event(event, created_at)
        WebhookEvent.objects.filter(pk=record.pk).update(outcome=outcome)
    return outcome


@csrf_exempt
@require_POST
def token_service_webhook(request: HttpRequest) -> JsonResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not _CONTENT_LENGTH.fullmatch(declared):
        return JsonResponse(error_body("bad_request", "Content-Length is not a number."),
                            status=400)
    if int(declared) > settings.WEBHOOK_MAX_BYTES:
        return JsonResponse(error_body("payload_too_large", "Body too large."), status=413)
    body = request.body
    try:
        verify(request.META, body)
        event = parse_event(body)
        outcome = handle_event(event)
    except WebhookRejected as exc:
        logger.warning("webhook rejected", extra={"code": exc.code})
        return JsonResponse(error_body(exc.code, exc.message), status=exc.status)
    except EventNotApplied as exc:
        # Nothing of the event was kept (its record and effect rolled back together), so
        # the token service must deliver it again. Logged with the cause's traceback
        # (Sentry has it); the sender sees a coded 503.
        logger.error("webhook event not applied; the token service will retry",
                     exc_info=exc.__cause__, extra={"event_id": exc.event_id})
        response = JsonResponse(error_body("event_not_applied",
                                           "The event could not be applied; deliver it again."),
                                status=503)
        response["Retry-After"] = str(EVENT_RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"received": True, "outcome": outcome})
