"""Client of the M-Pesa core ledger: hold amount + fee on the customer's balance, then
capture the hold (the card was paid) or release it (it was not).

Every call carries an idempotency key derived from the transfer (`<id>:hold`,
`<id>:capture`, `<id>:release`): a retry is a replay, never a second move of money.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


from core.outside.client import OutsideClient
from core.outside.errors import PermanentError
from core.outside.transport import Response

SYSTEM = "mpesa"


class InsufficientFunds(PermanentError):
    """The balance cannot cover amount + fee; nothing was held."""


class HoldAlreadySettled(PermanentError):
    """The opposite settlement already happened (a capture of a released hold...)."""


@dataclass(frozen=True)
class Hold:
    hold_id: str
    status: str  # held | captured | released
    total: int
    reference: str


def hold_key(transfer_id, move: str) -> str:
    return f"{transfer_id}:{move}"


class LedgerClient(OutsideClient):
    """Base URL, session, timeouts and bearer key (MPESA_API_KEY) from the registry entry."""

    system = SYSTEM

    def hold(self, *, transfer_id: str, customer_id: str, amount: int, fee: int,
             currency: str) -> Hold:
        body = {"customer_id": customer_id, "amount": amount, "fee": fee, "currency": currency,
                "reference": str(transfer_id)}
        try:
            reply = self._call("hold", "POST", "/v1/holds", body,
                               key=hold_key(transfer_id, "hold"))
        except PermanentError as exc:
            if exc.code == "insufficient_funds":
                raise InsufficientFunds(exc.code, "the balance cannot cover amount and fee",
                                        system=SYSTEM, status=exc.status) from None
            raise
        return self._hold(reply.body)

    def capture(self, *, transfer_id: str, hold_id: str) -> Hold:
        return self._settle(transfer_id, hold_id, "capture")

    def release(self, *, transfer_id: str, hold_id: str) -> Hold:
        return self._settle(transfer_id, hold_id, "release")

    def holds_for(self, transfer_id: str) -> list[Hold]:
        """Every hold placed for this transfer (a crash between a hold and its record)."""
        reply = self._call("holds_for", "GET", f"/v1/holds?reference={transfer_id}")
        return [self._hold(item) for item in reply.body.get("holds") or []
                if isinstance(item, dict)]

    def _settle(self, transfer_id: str, hold_id: str, move: str) -> Hold:
        try:
            reply = self._call(move, "POST", f"/v1/holds/{hold_id}/{move}", {},
                               key=hold_key(transfer_id, move))
        except PermanentError as exc:
            if exc.code in {"hold_released", "hold_captured"}:
                raise HoldAlreadySettled(exc.code, f"cannot {move}: {exc.code}", system=SYSTEM,
                                         status=exc.status) from None
            raise
        return self._hold(reply.body)

    def _hold(self, body: dict) -> Hold:
        try:
            return Hold(hold_id=str(body["hold_id"]), status=str(body["status"]),
                        total=int(body["total"]), reference=str(body.get("reference") or ""))
        except (KeyError, TypeError, ValueError):
            raise PermanentError("mpesa_bad_response", "hold answer incomplete",
                                 system=SYSTEM) from None

    def _call(self, operation: str, method: str, path: str, body: dict | None = None, *,
              key: str | None = None) -> Response:
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        return self.call(operation, method, path, headers={"Idempotency-Key": key} if key else None,
                         body=raw)
