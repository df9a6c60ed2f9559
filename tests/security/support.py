"""Shared by the security tests: the secrets they plant and then look for everywhere, and
the configured log handler whose output they read."""

from __future__ import annotations

import logging

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
