"""Shared by the security tests: the secrets they plant and then look for everywhere, the
configured log handler whose output they read, and the API routes they walk."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

PAN = "4000000000000010"
OTP = "482913"


def forms_of(pan: str) -> list[str]:
    """How a PAN could be written: raw, grouped by four with spaces or dashes."""
    groups = [pan[i:i + 4] for i in range(0, len(pan), 4)]
    return [pan, " ".join(groups), "-".join(groups)]


def configured_console_handler() -> logging.Handler:
    """The root logger's "console" handler from settings.LOGGING (found on the logger, since
    an in-process uvicorn elsewhere in the suite re-runs dictConfig and empties the registry
    of handler names)."""
    return next(h for h in logging.getLogger().handlers if h.get_name() == "console")


def api_v1_patterns(resolver: URLResolver | None = None,
                    prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """Every API v1 URL pattern with its full route (e.g. "api/v1/tokens/<str:token_id>")."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_v1_patterns(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            yield route, pattern
