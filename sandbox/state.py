"""In-memory world of one sandbox instance: cards, tokens, provisions, idempotency, inbox, counters,
and the Visa Direct systems' world (visa_direct_state.py).

All handlers run on one event loop, but a check and the act it guards must still not
be split by an `await` or another thread (TestClient drives the app from a portal
thread). So every read-modify-write happens under `lock`, a plain threading lock that
is never held across an `await`.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
from collections import Counter, defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .cards import DEFAULT_CARDS, DEFAULT_CUSTOMERS, DEFAULT_KYC_TIER, Card, Customer
from .config import SandboxConfig
from .errors import SandboxError
from .visa_direct_state import VisaDirectWorld

SYSTEMS = (
    "issuer",
    "token_service",
    "push",
    "sms",
    "telco",
    # Visa Direct: M-Pesa ledger, attributes inquiry, payouts, screening, settlement report.
    "mpesa",
    "paai",
    "payouts",
    "screening",
    "reporting",
)


@dataclass
class Token:
    token_ref: str
    status: str  # INACTIVE | ACTIVE | SUSPENDED | DELETED
    token_last4: str
    token_expiry: str  # MM/YY
    request_id: str
    wallet: str

    def public(self) -> dict[str, Any]:
        return {
            "token_ref": self.token_ref,
            "status": self.status,
            "token_last4": self.token_last4,
            "token_expiry": self.token_expiry,
        }


@dataclass
class Provision:
    request_id: str
    decision: str  # pending | green | yellow | red
    wallet: str
    token_ref: str | None = None
    reason: str | None = None
    wallet_payload: dict[str, str] | None = None


@dataclass
class IdempotencyRecord:
    key: str
    operation: str
    target: str
    calls: int = 0
    replays: int = 0
    attempts: int = 0  # calls that reached the decision (the 0028 card counts these)
    answer: tuple[int, dict[str, Any]] | None = None
    in_flight: bool = False
    fingerprint: str | None = None  # of the first body, where a key must not change it


@dataclass
class WebhookEvent:
    event_id: str
    type: str
    created: int
    body: bytes
    headers: dict[str, str]
    delivery: str = "pending"  # pending | sent | failed | not_sent
    attempts: int = 0
    last_status: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "type": self.type,
            "created": self.created,
            "delivery": self.delivery,
            "attempts": self.attempts,
            "last_status": self.last_status,
        }


@dataclass
class Fault:
    error_rate: float = 0.0
    latency_ms: int = 0
    timeout_rate: float = 0.0
    lost_answer_rate: float | None = None  # only for systems with effects (faults.py)

    def public(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "timeout_rate": self.timeout_rate,
        }
        if self.lost_answer_rate is not None:
            shown["lost_answer_rate"] = self.lost_answer_rate
        return shown


@dataclass
class Counters:
    calls: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    signature_failures: int = 0
    signature_failure_reasons: Counter[str] = field(default_factory=Counter)
    jwe_failures: int = 0
    card_mismatches: int = 0
    duplicate_effects: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    webhook_attempts: int = 0
    injected_errors: Counter[str] = field(default_factory=Counter)
    injected_timeouts: Counter[str] = field(default_factory=Counter)
    push_tokens_issued: int = 0
    push_grant_failures: Counter[str] = field(default_factory=Counter)
    push_send_refusals: Counter[str] = field(default_factory=Counter)
    injected_lost_answers: Counter[str] = field(default_factory=Counter)
    signature_failures_by_system: Counter[str] = field(default_factory=Counter)
    jwe_failures_by_system: Counter[str] = field(default_factory=Counter)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.cards: dict[str, Card] = {}
        self.customers: dict[str, Customer] = {}
        if config.seed_cards:
            for customer in DEFAULT_CUSTOMERS:
                self.customers[customer.customer_id] = Customer(**vars(customer))
            for card in DEFAULT_CARDS:
                self.cards[card.card_id] = Card(**vars(card))
        self._tasks: set[asyncio.Task[Any]] = set()
        # Push access tokens issued, by token: when each expires (time.time()). Kept
        # across a reset, as Google keeps them: a client's cached token stays good.
        self.access_tokens: dict[str, float] = {}
        self._clear()

    def _clear(self) -> None:
        self.rng = random.Random(self.config.random_seed)
        self.tokens: dict[str, Token] = {}
        self.provisions: dict[str, Provision] = {}
        self.idempotency: dict[str, IdempotencyRecord] = {}
        self.effects_applied: set[str] = set()
        self.tokens_per_request: Counter[str] = Counter()
        self.messages: list[dict[str, Any]] = []
        self.reference_counts: Counter[str] = Counter()
        self.events: dict[str, WebhookEvent] = {}
        self.faults: dict[str, Fault] = {}
        self.counters = Counters()
        self.visa_direct = VisaDirectWorld(seed_accounts=self.config.seed_cards)

    def reset(self) -> None:
        """Forget everything but the cards; pending late decisions are abandoned, and the
        M-Pesa accounts go back to their seeded balances."""
        with self.lock:
            for task in list(self._tasks):
                task.cancel()
            self._clear()

    # background work ---------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        # Keep a reference: the loop holds tasks weakly, and an unreferenced task can be
        # collected mid-flight.
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_background(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # cards -------------------------------------------------------------------------

    def add_card(self, card: Card, msisdn: str | None, kyc_tier: str | None) -> None:
        with self.lock:
            if card.card_id in self.cards:
                raise SandboxError(409, "card_exists", "a card with this card_id exists")
            customer = self.customers.get(card.customer_id)
            if customer is None:
                customer = Customer(card.customer_id, msisdn, kyc_tier or DEFAULT_KYC_TIER)
                self.customers[card.customer_id] = customer
            else:
                customer.msisdn = msisdn or customer.msisdn
                customer.kyc_tier = kyc_tier or customer.kyc_tier
            self.cards[card.card_id] = card

    def card_of(self, card_id: str, customer_id: str) -> Card | None:
        card = self.cards.get(card_id)
        return card if card is not None and card.customer_id == customer_id else None

    def find_card(self, pan: str, expiry_month: int, expiry_year: int) -> Card | None:
        for card in self.cards.values():
            if (card.pan, card.expiry_month, card.expiry_year) == (pan, expiry_month, expiry_year):
                return card
        return None

    # counters ----------------------------------------------------------------------

    def count_call(self, system: str, operation: str) -> None:
        with self.lock:
            self.counters.calls[system][operation] += 1

    def count_signature_failure(self, reason: str, system: str = "token_service") -> None:
        with self.lock:
            self.counters.signature_failures += 1
            self.counters.signature_failure_reasons[reason] += 1
            self.counters.signature_failures_by_system[system] += 1

    def count_jwe_failure(self, system: str = "token_service") -> None:
        with self.lock:
            self.counters.jwe_failures += 1
            self.counters.jwe_failures_by_system[system] += 1

    def record_effect(self, key: str) -> None:
        """Note that the call under `key` changed the world; a second time is a bug."""
        with self.lock:
            if key in self.effects_applied:
                self.counters.duplicate_effects += 1
            self.effects_applied.add(key)

    # tokens ------------------------------------------------------------------------

    def create_token(self, *, request_id: str, wallet: str, status: str, key: str) -> Token:
        today = datetime.now(UTC)
        with self.lock:
            self.record_effect(key)
            token = Token(
                token_ref="tok_" + secrets.token_hex(12),
                status=status,
                token_last4=f"{secrets.randbelow(10_000):04d}",
                token_expiry=f"{today.month:02d}/{(today.year + 3) % 100:02d}",
                request_id=request_id,
                wallet=wallet,
            )
            self.tokens[token.token_ref] = token
            self.tokens_per_request[request_id] += 1
            return token

    def provision_body(self, provision: Provision) -> dict[str, Any]:
        """The provision answer as it stands now (wire-contract.md, provision and status)."""
        with self.lock:
            if provision.decision == "pending":
                return {"decision": "pending", "token_ref": None}
            if provision.decision == "red":
                return {"decision": "red", "token_ref": None, "reason": provision.reason}
            token = self.tokens[provision.token_ref]  # type: ignore[index]
            return {
                "decision": provision.decision,
                "token_ref": token.token_ref,
                "status": token.status,
                "token_last4": token.token_last4,
                "token_expiry": token.token_expiry,
                "wallet_payload": provision.wallet_payload,
            }

    # messages ----------------------------------------------------------------------

    def store_message(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            message = {"id": "msg_" + secrets.token_hex(8), **fields, "received_at": utc_now_iso()}
            self.messages.append(message)
            if fields.get("reference"):
                self.reference_counts[fields["reference"]] += 1
            return message

    # stats -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self.lock:
            c = self.counters
            records = self.idempotency.values()
            by_operation: dict[str, dict[str, int]] = {}
            for record in records:
                entry = by_operation.setdefault(record.operation, {"calls": 0, "replays": 0})
                entry["calls"] += record.calls
                entry["replays"] += record.replays
            channels = Counter(message["channel"] for message in self.messages)
            duplicates = {ref: n for ref, n in self.reference_counts.items() if n > 1}
            return {
                "calls": {
                    system: dict(sorted(c.calls.get(system, Counter()).items()))
                    for system in SYSTEMS
                },
                "idempotency": {
                    "keys": len(self.idempotency),
                    "replays": sum(record.replays for record in records),
                    "replayed_keys": {r.key: r.replays for r in records if r.replays},
                    "by_operation": by_operation,
                    "by_key": {
                        r.key: {"operation": r.operation, "calls": r.calls, "replays": r.replays}
                        for r in records
                    },
                    "duplicate_effects": c.duplicate_effects,
                    "request_ids_with_multiple_tokens": {
                        rid: n for rid, n in self.tokens_per_request.items() if n > 1
                    },
                },
                "signature_failures": c.signature_failures,
                "signature_failure_reasons": dict(c.signature_failure_reasons),
                "signature_failures_by_system": dict(c.signature_failures_by_system),
                "jwe_failures": c.jwe_failures,
                "jwe_failures_by_system": dict(c.jwe_failures_by_system),
                "card_mismatches": c.card_mismatches,
                "webhooks": {
                    "sent": c.webhooks_sent,
                    "failed": c.webhooks_failed,
                    "attempts": c.webhook_attempts,
                },
                "messages": {
                    "total": len(self.messages),
                    "push": channels.get("push", 0),
                    "sms": channels.get("sms", 0),
                    "duplicate_references": sum(n - 1 for n in duplicates.values()),
                    "duplicated": duplicates,
                },
                "faults": {
                    "injected_errors": dict(c.injected_errors),
                    "injected_timeouts": dict(c.injected_timeouts),
                    "injected_lost_answers": dict(c.injected_lost_answers),
                },
                "push_auth": {
                    "tokens_issued": c.push_tokens_issued,
                    "grant_failures": dict(c.push_grant_failures),
                    "send_refusals": dict(c.push_send_refusals),
                },
                **self.visa_direct.stats(c),
            }
