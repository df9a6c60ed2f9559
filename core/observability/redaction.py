"""Masks card numbers, one-time codes and secret fields wherever text leaves the process.

Used by the logging filter on every handler and by Sentry's before_send / before_breadcrumb.

- A PAN is 13 to 19 digits that pass the Luhn check; it becomes `[PAN]`. The digits may
  be any Unicode decimal digits (full-width, Arabic-Indic, mixed) and may be split:
  by single spaces or dashes anywhere, or, grouped as cards are printed (fours, or
  4-6-5 / 4-6-4), by up to three of: any horizontal space (non-breaking, double, tab,
  ideographic), dots, slashes, underscores, pluses, dashes, their full-width forms and
  their URL escapes (`%20`, `%2F`, ...). Digits next to a PAN across a separator
  ("qty 2 4111 1111 1111 1111") do not hide it: every stretch of whole digit groups is
  checked, not only the full run. The digits of a decimal fraction are not a PAN, nor
  is a canonical UUID. `contains_pan` is the same detector for input validation.
- A one-time code is 4 to 8 digits named as one ("code: 123456", "otp=123456",
  "123456 is your code", Swahili "123456 ni nambari yako"); it becomes `[REDACTED]`.
- In structured data, the value of a key that names a secret (pan, otp, password,
  wallet_payload, authorization, ...) becomes `[REDACTED]` whatever it holds.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK_PAN = "[PAN]"
MASK = "[REDACTED]"
PAN_MIN_DIGITS, PAN_MAX_DIGITS = 13, 19

# Digit groups and what may join them. Linear to match: a separator never holds a
# digit (the hex digits of a URL escape are not digits), so a run splits one way only.
# A run never starts inside a number or a URL escape, nor right after "<digit>." (the
# digits of a decimal fraction, "succeeded in 0.0150380000012345s", are not a card number).
_ESCAPE = r"%[0-9A-Fa-f]{2}"
_SEPARATOR_UNIT = (r"(?:[^\S\r\n]|[./_+\-\u2010-\u2015\u2212\uFE58\uFE63\uFF0B\uFF0D\uFF0E"
                   r"\uFF0F\uFF3F]|%(?:20|2[BbDdEeFf]|5[Ff]|[Cc]2%[Aa]0))")
_DIGIT_RUN = re.compile(
    r"(?:(?<![\d%])(?<!%[0-9A-Fa-f])|(?<=%[0-9A-Fa-f]{2}))(?<!\d\.)"
    rf"\d+(?:{_SEPARATOR_UNIT}{{1,3}}\d+)*"
)
_RUN_PART = re.compile(rf"{_ESCAPE}|\d+")
_STRONG_SEPARATORS = frozenset({" ", "-"})
# Any grouping is a card number when single spaces or dashes join it (people type them
# anywhere); other separators only when the digits are grouped as cards are printed, so
# that "1733120000.123456" (a time) or "2026/12/02 10:15" stay readable.
_PRINTED_GROUPINGS = ((4, 6, 5), (4, 6, 4))
# A canonical UUID is never a card number, whatever digits its groups happen to hold.
_UUID = re.compile(r"(?<![0-9A-Za-z-])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}"
                   r"(?![0-9A-Za-z-])")

# One-time codes named in text, forwards ("code is 123456") and backwards ("123456 is your
# code", the SMS templates' word order).
_OTP_NAME = (r"(?:otp|one[-_ ]?time[-_ ]?(?:pass)?code|passcode|verification[-_ ]?code|"
             r"security[-_ ]?code|code|pin|nambari)")
_OTP_FORWARD = re.compile(
    rf"(?P<key>\b{_OTP_NAME}\b(?:[\s\"':=]|\bis\b|\bni\b){{0,12}})"
    r"(?P<value>(?<![0-9])[0-9]{4,8})(?![0-9])",
    re.IGNORECASE,
)
_OTP_BACKWARD = re.compile(
    r"(?<![0-9])(?P<value>[0-9]{4,8})(?![0-9])"
    r"(?P<rest>\s+(?:is\s+your|ni\s+nambari)\b)",
    re.IGNORECASE,
)
# key=value / "key": "value" pairs in text whose key names a secret ("client_secret=" too,
# but not "span=" or "company=").
_SECRET_PAIR = re.compile(
    r"""(?P<key>["']?(?<![A-Za-z0-9])(?:otp|one_time_code|cvv|cvc|password|passwd|secret|"""
    r"""api_key|pan|"""
    r"""card_number|shared_secret|private_key)["']?\s*[:=]\s*)"""
    r"""(?P<q>["']?)(?P<value>[^"',\s}]+)(?P=q)""",
    re.IGNORECASE,
)
# Keys (normalised to snake_case) whose values are secrets as a whole.
_SECRET_KEY = re.compile(
    r"(?:^|_)(?:pan|card_?number|otp|one_time_code|otp_code|cvv2?|cvc|password|passwd|"
    r"secret|api_?key|authorization|cookie|token_pan|encrypted_card|wallet_payload|"
    r"activation_data|encrypted_pass_data|opaque_payment_card|signature|private_key|"
    r"sessionid|csrftoken|context_sealed|secret_context)(?:_|$)"
)
# ...unless the key names a harmless fact about the secret (its last four, its keyed
# fingerprint, a count or a time), which operations need in logs.
_HARMLESS_KEY_SUFFIX = re.compile(
    r"_(?:last4|fingerprint|attempts|attempts_left|sends|sent_at|expires_at|status|reason|"
    r"erased_reason|count|id|hash_version|header_names)$"
)
_CODE_KEYS = frozenset({"code", "otp", "pin"})
_ONLY_DIGITS_4_TO_8 = re.compile(r"^\s*[0-9]{4,8}\s*$")


def luhn_valid(digits: str) -> bool:
    """Luhn check of a string of ASCII digits."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _printed_like(lengths: list[int]) -> bool:
    if tuple(lengths) in _PRINTED_GROUPINGS:
        return True
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _ascii_digits(text: str) -> str:
    """text with every decimal digit of another script as its ASCII digit (same length)."""
    if text.isascii():
        return text
    return text.translate({ord(c): 48 + int(c) for c in set(text) if c.isdecimal()})


def _pan_spans(run: str) -> list[tuple[int, int]]:
    """Spans of `run` to mask: every stretch of whole groups holding a Luhn-valid PAN."""
    run = _ascii_digits(run)
    groups = [(m.start(), m.end()) for m in _RUN_PART.finditer(run) if m.group()[0] != "%"]
    separators = [run[groups[i - 1][1]:groups[i][0]] for i in range(1, len(groups))]
    spans: list[tuple[int, int]] = []
    for first in range(len(groups)):
        if first and separators[first - 1] == ".":
            continue  # the digits after "<digit>." are a decimal fraction
        digits, lengths, strong = "", [], True
        for last in range(first, len(groups)):
            start, end = groups[last]
            if last > first:
                strong = strong and separators[last - 1] in _STRONG_SEPARATORS
            digits += run[start:end]
            lengths.append(end - start)
            if len(digits) > PAN_MAX_DIGITS:
                break
            if (len(digits) >= PAN_MIN_DIGITS and (strong or _printed_like(lengths))
                    and luhn_valid(digits)):
                spans.append((groups[first][0], end))
    merged: list[tuple[int, int]] = []
    for span in sorted(spans):
        if merged and span[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span[1]))
        else:
            merged.append(span)
    return merged


def find_pans(text: str, *, standalone: bool = False) -> list[tuple[int, int]]:
    """(start, end) of every card number in text, in order, outside canonical UUIDs.

    `standalone` leaves out digits glued to a letter: part of a word or of a hex token
    (an APNs device token holds a Luhn-valid run of 13 to 19 digits about once in 250).
    Masking log text takes those too; refusing an app's input does not.
    """
    found: list[tuple[int, int]] = []
    uuids = [m.span() for m in _UUID.finditer(text)] if "-" in text else []
    for run in _DIGIT_RUN.finditer(text):
        if len(run.group()) < PAN_MIN_DIGITS:
            continue
        if standalone and ((run.start() and text[run.start() - 1].isalpha())
                           or (run.end() < len(text) and text[run.end()].isalpha())):
            continue
        if any(start <= run.start() and run.end() <= end for start, end in uuids):
            continue
        found.extend((run.start() + a, run.start() + b) for a, b in _pan_spans(run.group()))
    if uuids:
        # A run can reach into a UUID's digits from outside it ("4111 ...-<uuid>"):
        # whatever overlaps a UUID is that UUID's, not a card number.
        found = [(a, b) for a, b in found
                 if not any(a < end and start < b for start, end in uuids)]
    return found


def contains_pan(text: str) -> bool:
    """True when a value from outside (an id, a header) holds a card number: the masking's
    rules, for numbers standing alone."""
    return bool(text) and bool(find_pans(text, standalone=True))


def mask_pans(text: str) -> str:
    spans = find_pans(text)
    if not spans:
        return text
    out, position = [], 0
    for start, end in spans:
        out.append(text[position:start])
        out.append(MASK_PAN)
        position = end
    out.append(text[position:])
    return "".join(out)


def redact_text(text: str) -> str:
    if not text:
        return text
    # PANs first: a code pattern must never split a PAN and leave part of it behind.
    text = mask_pans(text)
    text = _OTP_FORWARD.sub(lambda m: m.group("key") + MASK, text)
    text = _OTP_BACKWARD.sub(lambda m: MASK + m.group("rest"), text)
    return _SECRET_PAIR.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}{m.group('q')}", text)


def _normalise_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower())


def is_secret_key(key: str) -> bool:
    name = _normalise_key(key)
    return bool(_SECRET_KEY.search(name)) and not _HARMLESS_KEY_SUFFIX.search(name)


def redact(value: Any, _depth: int = 0) -> Any:
    """Deep copy of a JSON-like value with secrets masked (by key and in every string)."""
    if _depth > 30:
        return MASK  # deeper than any event we build: refuse rather than walk forever
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {(redact_text(key) if isinstance(key, str) else key):
                _redact_item(key if isinstance(key, str) else str(key), item, _depth)
                for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        # A card number held as a number ({"pan": ...} aside, e.g. in a list).
        digits = str(value)
        if PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS and luhn_valid(digits):
            return MASK_PAN
    return value


def _redact_item(name: str, item: Any, depth: int) -> Any:
    """One value of a mapping, judged by its key as well as by its content."""
    if item in (None, "", [], {}) or isinstance(item, bool):
        return item
    if is_secret_key(name):
        return MASK
    if (name.lower() in _CODE_KEYS and isinstance(item, (str, int))
            and _ONLY_DIGITS_4_TO_8.match(str(item))):
        return MASK  # {"code": "123456"}: a one-time code under a plain name
    return redact(item, depth + 1)


class RedactionFilter(logging.Filter):
    """Renders the message once, masks it, and drops args so nothing unmasked remains.

    Attached to every handler (settings.LOGGING), because a logger-level filter does not
    see records propagated from child loggers. Extra fields and the formatted traceback
    are masked too; the traceback is rendered here and exc_info dropped, so no formatter
    can render the unmasked one again.
    """

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
            record.__dict__[name] = _redact_extra(name, item)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters use exc_text when exc_info is gone, so only the masked text is
            # ever written (a traceback can quote a local variable holding a PAN).
            record.exc_text = redact_text(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def _redact_extra(name: str, item: Any) -> Any:
    if item is not None and not isinstance(item, (bool, int, float, str, bytes, dict, list,
                                                  tuple, set, frozenset)):
        # Formatters would str() it; a repr can quote a card number, so mask that text.
        item = str(item)
    return _redact_item(name, item, 0)


_LOG_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", 0, "x", 0, "x", None, None).__dict__.keys()
) | {"message", "asctime", "correlation_id"}
