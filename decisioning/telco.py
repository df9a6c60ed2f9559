"""Client of the telco's SIM-swap lookup: when the customer's SIM last changed.

A failed lookup is never a silent green: the caller applies the rule's fallback. One
quick retry for a blip; a circuit breaker shared by all workers stops waiting on a
telco that is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

from core.outside.breaker import CircuitBreakerError
from core.outside.client import OutsideClient
from core.outside.errors import OutsideError, PermanentError, TransientError

SYSTEM = "telco"


class TelcoUnavailable(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SimSwap:
    msisdn: str
    last_swap_at: datetime | None


class TelcoClient(OutsideClient):
    system = SYSTEM

    def last_sim_swap(self, msisdn: str) -> SimSwap:
        """The last swap (None: never). Raises TelcoUnavailable when it cannot tell."""
        breaker = self.breaker
        last_error: OutsideError | None = None
        for _ in range(2):
            try:
                # The read timeout is TELCO_READ_TIMEOUT (its registry entry has one).
                reply = breaker.call(self.call, "sim_swap", "GET",
                                     f"/v1/subscribers/{msisdn}/sim-swap")
            except TransientError as exc:
                last_error = exc
                continue
            except PermanentError as exc:
                raise TelcoUnavailable(exc.code) from None
            except CircuitBreakerError:
                raise TelcoUnavailable("telco_circuit_open") from None
            raw = reply.body.get("last_swap_at")
            swapped = parse_datetime(raw) if isinstance(raw, str) else None
            if raw is not None and swapped is None:
                raise TelcoUnavailable("telco_bad_response")
            return SimSwap(msisdn=msisdn, last_swap_at=swapped)
        raise TelcoUnavailable(last_error.code if last_error else "telco_unavailable")
