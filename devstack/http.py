"""A blocking JSON-over-HTTP call on the standard library, for set-up, checks and the demo
(the bench's load itself is async and uses httpx)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Unreachable(OSError):
    """No HTTP answer at all: refused, reset, timed out."""


@dataclass
class Response:
    status: int
    body: Any  # parsed JSON, else the text, else None when empty
    headers: Mapping[str, str] = field(default_factory=dict)


def request(method: str, url: str, *, body: Any = None,
            headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> Response:
    """Send `body` as JSON; any status is an answer, only no answer raises Unreachable."""
    data = json.dumps(body).encode() if body is not None else None
    outgoing = urllib.request.Request(url, data=data, method=method)
    outgoing.add_header("Accept", "application/json")
    if data is not None:
        outgoing.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        outgoing.add_header(name, value)
    try:
        with urllib.request.urlopen(outgoing, timeout=timeout) as answer:
            status, raw, answer_headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        status, raw, answer_headers = error.code, error.read(), error.headers
    except (urllib.error.URLError, OSError) as error:
        raise Unreachable(f"{method} {url}: {getattr(error, 'reason', error)}") from None
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return Response(status, parsed, dict(answer_headers.items()))


def probe(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    """GET `url` for a health check: (status or None when no answer, the body's start)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(2000).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None, ""
