"""Masks card numbers, one-time codes and secret fields wherever text leaves the process.

Used by the logging filter on every handler and by Sentry's before_send. A PAN-like
run is 13 to 19 digits, optionally separated by single spaces or dashes, that passes
the Luhn check; it becomes `[PAN]`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_PAN_CANDIDATE = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
_SECRET_KEY_NAMES = re.compile(
    r"(pan|card_?number|otp|code|cvv|cvc|secret|password|token_pan|authorization|"
    r"encrypted_card|wallet_payload|activation_data|encrypted_pass_data|signature|api_key)",
    re.IGNORECASE,
)
# key=value / "key": "value" pairs whose key names a secret.
_SECRET_PAIR = re.compile(
    r"""(?P<key>["']?(?:otp|one_time_code|cvv|password|secret|api_key|pan)["']?\s*[:=]\s*)"""
    r"""(?P<q>["']?)(?P<value>[^"',\s}]+)(?P=q)""",
    re.IGNORECASE,
)
MASK_PAN = "[PAN]"
MASK = "[REDACTED]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_pan_match(match: re.Match) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return MASK_PAN
    return match.group(0)


def redact_text(text: str) -> str:
    if not text:
        return text
    text = _PAN_CANDIDATE.sub(_mask_pan_match, text)
    return _SECRET_PAIR.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}{m.group('q')}", text)


def redact(value: Any, _depth: int = 0) -> Any:
    """Deep copy of a JSON-like value with secrets masked (keys and text)."""
    if _depth > 20:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and _SECRET_KEY_NAMES.search(key) and item not in (None, ""):
                out[key] = MASK if not isinstance(item, (dict, list)) else redact(item, _depth + 1)
                if not isinstance(item, (dict, list)):
                    continue
            out[key] = redact(item, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(item, _depth + 1) for item in value]
    return value


class RedactionFilter(logging.Filter):
    """Renders the message once, masks it, and drops args so nothing unmasked remains."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        for name, item in list(record.__dict__.items()):
            if name in _LOG_RECORD_ATTRS:
                continue
            record.__dict__[name] = redact(item) if isinstance(item, (str, dict, list)) else item
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters use exc_text when exc_info is gone, so only the masked text is
            # ever written (a traceback can quote a local variable holding a PAN).
            record.exc_text = redact_text(record.exc_text)
            record.exc_info = None
        return True


_LOG_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", 0, "x", 0, "x", None, None).__dict__.keys()
) | {"message", "asctime", "correlation_id"}
