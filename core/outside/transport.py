"""One HTTP exchange with an outside system: the hardened session (one per process),
the correlation header, timeouts, the latency histogram, and status codes turned into
the typed errors of core/outside/errors.py.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import requests
from django.conf import settings
from prometheus_client import Counter, Histogram

from core.observability import correlation
from core.parsers import MalformedJSON, loads

from .errors import OutsideError, OutsideTimeout, PermanentError, TransientError

logger = logging.getLogger(__name__)

OUTSIDE_CALL_SECONDS = Histogram(
    "outside_call_seconds",
    "Latency of calls to outside systems",
    ["system", "operation", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
OUTSIDE_CALL_ERRORS = Counter(
    "outside_call_errors_total", "Failed outside calls", ["system", "operation", "code"]
)


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    # The answer's bytes as they came, for the few answers that are not JSON (a CSV report);
    # never printed, and not part of what the answer equals.
    content: bytes = field(default=b"", repr=False, compare=False)


def build_session() -> requests.Session:
    """One session per process (a Celery child, a web worker), reused by every client:
    a session per client object meant a new TCP connection for every outside call."""
    return _process_session(os.getpid())


@lru_cache(maxsize=1)
def _process_session(pid: int) -> requests.Session:
    return hardened_session()


def hardened_session() -> requests.Session:
    """A session set up like the shared one, for a library that must own its session
    (google-auth's transport closes the session it was given when it is collected)."""
    session = requests.Session()
    # Our own retries live in Celery with backoff; the transport must not retry behind
    # our back (a retried POST without our knowledge defeats the idempotency bookkeeping).
    adapter = requests.adapters.HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # no proxies or netrc picked up from the environment
    return session


def send(
    session: requests.Session,
    *,
    system: str,
    operation: str,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    ok: tuple[int, ...] = (200, 201, 202),
    timeout: tuple[float, float] | None = None,
) -> Response:
    """One HTTP exchange. Returns the parsed body for `ok` statuses, raises typed errors."""
    all_headers = {"Accept": "application/json", correlation.HEADER: correlation.ensure()}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    timeout = timeout or (settings.OUTSIDE_CONNECT_TIMEOUT, settings.OUTSIDE_READ_TIMEOUT)
    started = time.perf_counter()
    outcome = "error"
    try:
        try:
            reply = session.request(
                method, url, data=body, headers=all_headers, timeout=timeout, allow_redirects=False
            )
        except requests.Timeout:
            outcome = "timeout"
            raise OutsideTimeout(f"{system}_timeout", f"{system} did not answer in time",
                                system=system) from None
        except requests.RequestException as exc:
            outcome = "connection_error"
            raise TransientError(f"{system}_unavailable", f"{system} unreachable: {type(exc).__name__}",
                                 system=system) from None
        payload = _json(reply)
        if reply.status_code in ok:
            outcome = "ok"
            return Response(reply.status_code, payload, reply.content)
        error_code = ((payload.get("error") or {}).get("code") if isinstance(payload.get("error"), dict)
                      else None) or f"http_{reply.status_code}"
        if reply.status_code >= 500 or reply.status_code in (408, 429):
            outcome = "server_error"
            raise TransientError(f"{system}_unavailable", f"{system} answered {reply.status_code}",
                                 system=system, status=reply.status_code)
        outcome = "refused"
        raise PermanentError(error_code, f"{system} refused the call ({reply.status_code})",
                             system=system, status=reply.status_code)
    except OutsideError as exc:
        OUTSIDE_CALL_ERRORS.labels(system, operation, exc.code).inc()
        raise
    finally:
        OUTSIDE_CALL_SECONDS.labels(system, operation, outcome).observe(time.perf_counter() - started)


def _json(reply: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} for anything else: an empty, invalid or too deeply
    nested body (core.parsers; requests' own .json() would let RecursionError through).
    Clients treat {} as an answer missing its fields, with their own typed errors."""
    if not reply.content:
        return {}
    try:
        value = loads(reply.content)
    except MalformedJSON:
        return {}
    return value if isinstance(value, dict) else {}
