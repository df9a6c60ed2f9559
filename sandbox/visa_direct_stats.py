"""The Visa Direct sections of /sandbox/stats: the ledger replayed from its operation
log, the payouts, and the money rule across both (each payout's hold captured if and
only if it was paid). Read under `state.lock`, as the world they read."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .visa_direct_state import Hold, VisaDirectWorld


def ledger_stats(world: VisaDirectWorld) -> dict[str, Any]:
    holds = list(world.holds.values())
    by_status = Counter(hold.status for hold in holds)
    amounts = Counter()
    for hold in holds:
        amounts[hold.status] += hold.total
    references = Counter(hold.reference for hold in holds)
    out_of_balance = []
    for account in world.accounts.values():
        # Replay the operation log independently of the running totals.
        balance = held = 0
        for op in account.operations:
            if op["type"] == "set_balance":
                balance = op["amount"]
            elif op["type"] == "hold":
                held += op["amount"]
            elif op["type"] == "capture":
                held -= op["amount"]
                balance -= op["amount"]
            elif op["type"] == "release":
                held -= op["amount"]
        open_total = sum(
            h.total
            for h in holds
            if h.customer_id == account.customer_id and h.status == "held"
        )
        if (balance, held) != (account.balance, account.held) or held != open_total:
            out_of_balance.append(account.customer_id)
    settled_twice = [h.hold_id for h in holds if h.settlements > 1]
    records = world.ledger_keys.values()
    return {
        "accounts": len(world.accounts),
        "holds": {
            "open": by_status["held"],
            "captured": by_status["captured"],
            "released": by_status["released"],
        },
        "amounts": {
            "held": amounts["held"],
            "captured": amounts["captured"],
            "released": amounts["released"],
        },
        "refusals": dict(world.ledger_refusals),
        "repeated_settlements": dict(world.repeated_settlements),
        "idempotency": {
            "keys": len(world.ledger_keys),
            "replays": sum(r.replays for r in records),
            "by_key": {
                r.key: {"operation": r.operation, "calls": r.calls, "replays": r.replays}
                for r in records
            },
        },
        "duplicate_effects": world.ledger_duplicate_effects,
        "references_with_multiple_holds": {r: n for r, n in references.items() if n > 1},
        "conservation": {
            "ok": not (settled_twice or out_of_balance or world.ledger_duplicate_effects),
            "holds_settled_more_than_once": settled_twice,
            "accounts_out_of_balance": out_of_balance,
            "open_holds": [
                {
                    "hold_id": h.hold_id,
                    "customer_id": h.customer_id,
                    "reference": h.reference,
                    "total": h.total,
                    "created_at": h.created_at,
                }
                for h in holds
                if h.status == "held"
            ],
        },
    }


def payout_stats(world: VisaDirectWorld) -> dict[str, Any]:
    payouts = list(world.payouts.values())
    outcomes = Counter({"ACCEPTED": 0, "DECLINED": 0, "PENDING": 0})
    outcomes.update(p.status for p in payouts)
    records = world.payout_requests.values()
    return {
        "made": len(payouts),
        "outcomes": dict(outcomes),
        "paid_amount": sum(p.amount for p in payouts if p.status == "ACCEPTED"),
        "replays": sum(r.replays for r in records),
        "by_code": {
            r.key: {
                "calls": r.calls,
                "replays": r.replays,
                "status": world.payouts_by_code[r.key].status
                if r.key in world.payouts_by_code
                else None,
            }
            for r in records
        },
        "duplicate_effects": world.payout_duplicate_effects,
        "sent_to_cards_that_cannot_receive": world.sent_to_cards_that_cannot_receive,
    }


def money_rule(world: VisaDirectWorld) -> dict[str, Any]:
    """For each payout the network reports, the hold of the same reference: captured
    if and only if it was paid, released if and only if it was not."""
    holds_by_reference: dict[str, Hold] = {}
    for hold in world.holds.values():
        holds_by_reference.setdefault(hold.reference, hold)
    violations: dict[str, list[str]] = {
        "paid_but_released": [],
        "declined_but_captured": [],
        "paid_without_hold": [],
        "captured_without_payout": [],
        "settled_before_outcome": [],
        "amount_mismatch": [],
    }
    awaiting: dict[str, list[str]] = {"paid_hold_open": [], "declined_hold_open": []}
    for code, payout in sorted(world.payouts_by_code.items()):
        hold = holds_by_reference.get(code)
        if hold is None:
            if payout.status == "ACCEPTED":
                violations["paid_without_hold"].append(code)
            continue
        if hold.amount != payout.amount:
            violations["amount_mismatch"].append(code)
        if payout.status == "PENDING" and hold.status != "held":
            violations["settled_before_outcome"].append(code)
        elif payout.status == "ACCEPTED":
            if hold.status == "released":
                violations["paid_but_released"].append(code)
            elif hold.status == "held":
                awaiting["paid_hold_open"].append(code)
        elif payout.status == "DECLINED":
            if hold.status == "captured":
                violations["declined_but_captured"].append(code)
            elif hold.status == "held":
                awaiting["declined_hold_open"].append(code)
    for reference, hold in sorted(holds_by_reference.items()):
        if hold.status == "captured" and reference not in world.payouts_by_code:
            violations["captured_without_payout"].append(reference)
    clean = (
        not any(violations.values())
        and not world.payout_duplicate_effects
        and not world.ledger_duplicate_effects
        and not any(h.settlements > 1 for h in world.holds.values())
    )
    return {"ok": clean, "violations": violations, "awaiting_settlement": awaiting}


def world_stats(world: VisaDirectWorld, counters: Any) -> dict[str, Any]:
    """The Visa Direct sections of /sandbox/stats; `counters` are the shared ones."""
    payouts = payout_stats(world)
    payouts["signature_failures"] = counters.signature_failures_by_system.get("payouts", 0)
    payouts["jwe_failures"] = counters.jwe_failures_by_system.get("payouts", 0)
    results = Counter({"clear": 0, "review": 0, "hit": 0})
    results.update(s.result for s in world.screenings.values())
    return {
        "ledger": ledger_stats(world),
        "payouts": payouts,
        "paai": {
            "answers": dict(world.attribute_answers),
            "signature_failures": counters.signature_failures_by_system.get("paai", 0),
            "jwe_failures": counters.jwe_failures_by_system.get("paai", 0),
        },
        "screening": {"results": dict(results)},
        "settlement": {
            "unknown_lines": sum(len(lines) for lines in world.unknown_lines.values()),
            "line_changes": len(world.line_changes),
        },
        "money_rule": money_rule(world),
    }
