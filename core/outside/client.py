"""The base of every client of an outside system.

A subclass names its registry entry (`system = "issuer"`) and gets what every client
needs, read from that entry and the settings built from it: the base URL
(`<PREFIX>_BASE_URL`), the process's hardened session, the timeouts, the bearer key
header (when the entry names one) and the shared circuit breaker (when it has one). The
subclass keeps what is its own: the calls, their typed results and errors.
"""

from __future__ import annotations

import pybreaker
from django.conf import settings

from . import breaker, registry, transport


class OutsideClient:
    system: str = ""  # the registry entry's name

    def __init__(self):
        self.entry = registry.get(self.system)
        self.base_url = getattr(settings, self.entry.base_url_setting).rstrip("/")
        self.session = transport.build_session()
        self.headers: dict[str, str] = {}
        if self.entry.api_key:
            self.headers["Authorization"] = f"Bearer {getattr(settings, self.entry.api_key)}"

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds: the system's own setting where its entry has one, else
        the shared OUTSIDE_CONNECT_TIMEOUT / OUTSIDE_READ_TIMEOUT (read per call, as
        every client always did)."""
        prefix = self.entry.prefix
        connect = (getattr(settings, f"{prefix}_CONNECT_TIMEOUT")
                   if self.entry.connect_timeout is not None
                   else settings.OUTSIDE_CONNECT_TIMEOUT)
        read = (getattr(settings, f"{prefix}_READ_TIMEOUT")
                if self.entry.read_timeout is not None else settings.OUTSIDE_READ_TIMEOUT)
        return connect, read

    @property
    def breaker(self) -> pybreaker.CircuitBreaker:
        if self.entry.breaker_fail_max is None:
            raise LookupError(f"{self.system} has no circuit breaker in its registry entry")
        return breaker.shared_breaker(self.system)

    def call(self, operation: str, method: str, path: str, *,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             ok: tuple[int, ...] = (200, 201, 202), url: str | None = None) -> transport.Response:
        """One exchange with this system (`path` under the base URL, or a full `url`)."""
        return transport.send(
            self.session, system=self.system, operation=operation, method=method,
            url=url or self.base_url + path, headers={**self.headers, **(headers or {})},
            body=body, ok=ok, timeout=self.timeout,
        )
