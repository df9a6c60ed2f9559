"""Client of the telco's SIM-swap lookup: when the customer's SIM last changed.

A failed lookup is never a silent green: the caller applies the rule's fallback. One
quick retry for a blip; a circuit breaker shared by all workers stops waiting on a
telco that is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.dateparse import parse_datetime

from core.outside import http as outside
from core.outside.http import OutsideError, PermanentError, TransientError

SYSTEM = "telco"


class TelcoUnavailable(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SimSwap:
    msisdn: str
    last_swap_at: datetime | None


class TelcoClient:
    def __init__(self):
        self.base_url = settings.TELCO_BASE_URL.rstrip("/")
        self.session = outside.build_session()
        self.headers = {"Authorization": f"Bearer {settings.TELCO_API_KEY}"}

    def last_sim_swap(self, msisdn: str) -> SimSwap:
        """The last swap (None: never). Raises TelcoUnavailable when it cannot tell."""
        breaker = outside.shared_breaker(SYSTEM)
        last_error: OutsideError | None = None
        for _ in range(2):
            try:
                reply = breaker.call(
                    outside.send, self.session, system=SYSTEM, operation="sim_swap",
                    method="GET", url=f"{self.base_url}/v1/subscribers/{msisdn}/sim-swap",
                    headers=self.headers,
                    timeout=(settings.OUTSIDE_CONNECT_TIMEOUT, settings.TELCO_READ_TIMEOUT),
                )
            except TransientError as exc:
                last_error = exc
                continue
            except PermanentError as exc:
                raise TelcoUnavailable(exc.code) from None
            except outside.CircuitBreakerError:
                raise TelcoUnavailable("telco_circuit_open") from None
            raw = reply.body.get("last_swap_at")
            swapped = parse_datetime(raw) if isinstance(raw, str) else None
            if raw is not None and swapped is None:
                raise TelcoUnavailable("telco_bad_response")
            return SimSwap(msisdn=msisdn, last_swap_at=swapped)
        raise TelcoUnavailable(last_error.code if last_error else "telco_unavailable")
