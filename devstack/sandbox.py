"""The sandbox's side of the contract as its users need it: a client for its control API
(/sandbox/stats, reset, faults, messages, cards; sandbox/README.md) and test PANs."""

from __future__ import annotations

import random
import urllib.parse
from typing import Any

from devstack import http


class SandboxError(RuntimeError):
    """The sandbox answered, but not as its contract says it does."""


class SandboxClient:
    """The /sandbox control endpoints of one sandbox process."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        answer = http.request(method, f"{self.url}/sandbox{path}", body=body,
                              timeout=self.timeout)
        if answer.status != expect:
            raise SandboxError(f"sandbox {method} {path}: {answer.status} {answer.body}")
        return answer.body

    def healthy(self) -> bool:
        try:
            return http.request("GET", f"{self.url}/sandbox/health", timeout=2.0).status == 200
        except http.Unreachable:
            return False

    def stats(self) -> dict[str, Any]:
        """Call counters, idempotency keys, duplicate effects, messages, faults."""
        return self._call("GET", "/stats")

    def reset(self) -> None:
        """Counters, messages, tokens, idempotency keys, webhooks and faults cleared; the
        cards stay."""
        self._call("POST", "/reset")

    def faults(self) -> dict[str, dict[str, Any]]:
        """The faults in force, by system."""
        return self._call("GET", "/faults")["faults"]

    def set_fault(self, system: str, *, error_rate: float = 0.0, timeout_rate: float = 0.0,
                  latency_ms: int = 0, lost_answer_rate: float | None = None,
                  ) -> dict[str, dict[str, Any]]:
        """Replace `system`'s fault; the faults in force. `lost_answer_rate` (the call takes
        effect, its answer is dropped) exists only for the systems that move money."""
        fault = {"system": system, "error_rate": error_rate, "timeout_rate": timeout_rate,
                 "latency_ms": latency_ms}
        if lost_answer_rate is not None:
            fault["lost_answer_rate"] = lost_answer_rate
        return self._call("POST", "/faults", fault)["faults"]

    def clear_faults(self, system: str | None = None) -> dict[str, dict[str, Any]]:
        """Clear one system's fault, or all; the faults left."""
        query = f"?system={urllib.parse.quote(system)}" if system else ""
        return self._call("DELETE", f"/faults{query}")["faults"]

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """What the push and SMS gateways delivered (to one number, or all)."""
        query = f"?to={urllib.parse.quote(to)}" if to else ""
        return self._call("GET", f"/messages{query}").get("messages", [])

    def add_card(self, **card: Any) -> str:
        """A card at the issuer (customer_id, pan, expiry, status, msisdn, ...); its id."""
        return self._call("POST", "/cards", card, expect=201)["card_id"]

    def cards(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        query = f"?customer_id={urllib.parse.quote(customer_id)}" if customer_id else ""
        return self._call("GET", f"/cards{query}").get("cards", [])


def luhn_pan(last4: str, prefix: str = "4", rng: random.Random | None = None,
             length: int = 16) -> str:
    """A Luhn-valid PAN of `length` digits starting with `prefix` and ending in `last4`.

    The sandbox decides by the last four digits; the digit before them is the free one
    that makes the Luhn sum come out right, and there is always exactly one such digit.
    """
    rng = rng or random.Random()
    head = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 5))
    for free in "0123456789":
        candidate = head + free + last4
        if luhn_valid(candidate):
            return candidate
    raise AssertionError("unreachable: one free digit always fixes the Luhn sum")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
