"""The redaction filter: properties over generated text (any Luhn-valid PAN is masked, text
without one is unchanged), and the proof that every configured log handler applies it,
tracebacks and extra fields included."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.conf import settings
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.observability.redaction import MASK, MASK_PAN, redact, redact_text
from tests.security.support import configured_console_handler

DIGITS = "0123456789"
# Words that make the filter mask a code or a secret pair; clean text avoids them so that
# "unchanged" is about digits only.
_KEYWORDS = re.compile(r"otp|code|pin|nambari|passcode|cvv|cvc|password|passwd|secret|api_key|"
                       r"pan|card_number|private_key|is\s+your|ni\s", re.IGNORECASE)


def luhn_check_digit(body: str) -> str:
    """The digit that makes body + digit pass Luhn (computed independently of the filter)."""
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:  # these get doubled once the check digit is appended
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return str((10 - total % 10) % 10)


@st.composite
def pans(draw) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(DIGITS, min_size=length - 1, max_size=length - 1))
    return body + luhn_check_digit(body)


@st.composite
def formatted(draw, digits: str) -> str:
    """digits with an optional single space or dash between any two of them."""
    out = [digits[0]]
    for char in digits[1:]:
        out.append(draw(st.sampled_from(["", "", "", " ", "-"])))
        out.append(char)
    return "".join(out)


# What the filter may take as joining two digit groups: spaces of every kind, dots,
# slashes, underscores, pluses, dashes and their full-width forms; "%" stands for a URL
# escape ("%20"). Clean text treats all of them as joiners, at any length.
JOINERS = frozenset(" -./_+%\t\u00a0\u202f\u2007\u2009\u3000\u2010\u2011\u2012\u2013\u2014\u2015"
                    "\u2212\ufe58\ufe63\uff0b\uff0d\uff0e\uff0f\uff3f")


def break_long_digit_runs(text: str) -> str:
    """Insert a letter so that no run of digits (of any script, joined by any of JOINERS)
    holds more than 12 digits: such text has no PAN-length run at all."""
    out: list[str] = []
    count = 0
    for char in text:
        if char.isdecimal():
            if count == 12:
                out.append("x")
                count = 0
            count += 1
        elif char in JOINERS or char.isspace() and char not in "\r\n":
            pass  # joins the digits on either side
        else:
            count = 0
        out.append(char)
    return "".join(out)


clean_text = st.text().map(break_long_digit_runs).filter(lambda t: not _KEYWORDS.search(t))
# Before a PAN: anything not ending in a digit, sometimes other numbers a separator away
# ("qty 2 4111 ..."), which must not hide it.
def _ends_clear_of_digits(text: str) -> bool:
    """Not ending in a digit (of any script), nor in "<digit>." (which would make the PAN
    a fraction), nor in a "%" or "%X" that would swallow its first digits as an escape."""
    return not text or (not text[-1].isdecimal() and not re.search(r"\d\.$", text)
                        and not re.search(r"%[0-9A-Fa-f]?$", text))


before = st.one_of(
    st.text().filter(_ends_clear_of_digits),
    st.tuples(st.text().filter(_ends_clear_of_digits),
              st.text(DIGITS, min_size=1, max_size=6), st.sampled_from([" ", "-"]))
    .map("".join),
)
after = st.one_of(
    st.text().filter(lambda t: not t or not t[0].isdecimal()),
    st.tuples(st.sampled_from([" ", "-"]), st.text(DIGITS, min_size=1, max_size=6),
              st.text().filter(lambda t: not t or not t[0].isdecimal())).map("".join),
)


@hsettings(max_examples=400, deadline=None)
@given(data=st.data(), pan=pans(), prefix=before, suffix=after)
@example(data=None, pan="4111111111111111", prefix="qty 2 ", suffix=" 7 items")
def test_any_luhn_valid_pan_embedded_in_any_text_is_masked(data, pan, prefix, suffix):
    shown = data.draw(formatted(pan)) if data is not None else "4111 1111 1111 1111"
    redacted = redact_text(prefix + shown + suffix)
    assert MASK_PAN in redacted
    assert shown not in redacted
    assert pan not in re.sub(r"[ -]", "", redacted)


# Separators a careless writer (or a URL) puts between the printed groups of a card.
SEPARATORS = [".", "/", "_", "+", "-", " ", "  ", "   ", "\u00a0", "\u202f", "\u2007", "\u3000",
              "\t", " - ", " / ", "\uff0e", "\uff0f", "\uff3f", "\uff0d", "\u2013", "%20", "%2F",
              "%C2%A0", "+%2B"]
DIGIT_SCRIPTS = {"ascii": "0123456789", "full-width": "０１２３４５６７８９",
                 "arabic-indic": "٠١٢٣٤٥٦٧٨٩", "devanagari": "०१२३४५६७८९"}


def printed_groups(pan: str) -> list[str]:
    """The PAN as card faces print it: 4-6-5 (15 digits), 4-6-4 (14), else fours."""
    cuts = {15: [4, 6, 5], 14: [4, 6, 4]}.get(len(pan)) or \
        [4] * (len(pan) // 4) + ([len(pan) % 4] if len(pan) % 4 else [])
    groups, at = [], 0
    for size in cuts:
        groups.append(pan[at:at + size])
        at += size
    return groups


@st.composite
def split_and_mixed(draw, pan: str) -> str:
    """pan in printed groups, each separator drawn on its own, each digit in any script."""
    digits = "".join(DIGIT_SCRIPTS[draw(st.sampled_from(sorted(DIGIT_SCRIPTS)))][int(c)]
                     for c in pan)
    out, at = [], 0
    for index, group in enumerate(printed_groups(pan)):
        if index:
            out.append(draw(st.sampled_from(SEPARATORS)))
        out.append(digits[at:at + len(group)])
        at += len(group)
    return "".join(out)


def _ascii_digits(text: str) -> str:
    return "".join(str(int(c)) if c.isdecimal() else c for c in text)


@hsettings(max_examples=400, deadline=None)
@given(data=st.data(), pan=pans(), prefix=before, suffix=after)
@example(data=None, pan="4111111111111111", prefix="card ", suffix="")
def test_a_pan_split_by_any_separators_in_any_digits_is_masked(data, pan, prefix, suffix):
    shown = data.draw(split_and_mixed(pan)) if data is not None else "4111.1111_1111\u00a01111"
    redacted = redact_text(prefix + shown + suffix)
    assert MASK_PAN in redacted
    assert shown not in redacted
    assert pan not in re.sub(r"\D", "", _ascii_digits(redacted))


@pytest.mark.parametrize("shown", [
    "4111.1111.1111.1111", "4111/1111/1111/1111", "4111_1111_1111_1111",
    "4111\u00a01111\u00a01111\u00a01111", "4111  1111  1111  1111", "4111 - 1111 - 1111 - 1111",
    "４１１１１１１１１１１１１１１１", "４１１１ １１１１ １１１１ １１１１", "٤١١١ ١١١١ ١١١١ ١١١١",
    "41１１.1111_１１11/1111", "3782.822463.10005", "4111+1111+1111+1111", "4111%201111%201111%201111",
])
def test_a_pan_split_or_written_in_other_digits_is_masked(shown):
    redacted = redact_text(f"card {shown} added")
    assert redacted == f"card {MASK_PAN} added"


@pytest.mark.parametrize("text", [
    "request 7f3e0c1e-0b7a-4e59-9a43-1d2c3b4a5f60 moved",
    "request 12345678-1234-4234-8234-123456789012 moved",  # a UUID of digits only
    "task 00000000-0000-0000-0000-000000000000 ran",
    "at 1733120000.123456 took 1234 ms", "at 2026-12-02T06:51:25.697123Z",
    "2026-12-02 06:51:25,697 INFO", "2026/12/02 06:51:25.697", "02.12.2026 06:51",
    "amount KES 1,500.00", "amount 150000 minor units", "total 12345.67 KES", "1 500 000,00",
    "sms to +254700000100", "sms to +254 700 000 100", "call 0700 000 100", "+254-700-000-100",
    "from 192.168.100.200:8000 to 10.0.0.1:5432", "version 5.2.19 of 2026.12.02",
    "path /api/v1/provisioning-requests/7f3e0c1e-0b7a-4e59-9a43-1d2c3b4a5f60/verify",
])
def test_uuids_times_amounts_and_phone_numbers_stay_readable(text):
    assert redact_text(text) == text


@hsettings(max_examples=300, deadline=None)
@given(value=st.one_of(
    st.uuids().map(str),
    st.floats(min_value=1.5e9, max_value=2.1e9).map(lambda t: f"{t:.6f}"),
    st.integers(min_value=700_000_000, max_value=799_999_999).map(lambda n: f"+254{n}"),
    st.integers(min_value=700_000_000, max_value=799_999_999)
    .map(lambda n: f"+254 {str(n)[:3]} {str(n)[3:6]} {str(n)[6:]}"),
    st.integers(min_value=0, max_value=10**11).map(lambda n: f"KES {n / 100:,.2f}"),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
))
def test_generated_uuids_times_amounts_and_phone_numbers_stay_readable(value):
    assert redact_text(f"x {value} y") == f"x {value} y"


@hsettings(max_examples=400, deadline=None)
@given(text=clean_text)
def test_text_without_a_pan_length_digit_run_is_unchanged(text):
    assert redact_text(text) == text


@hsettings(max_examples=200, deadline=None)
@given(pan=pans(), last=st.integers(min_value=1, max_value=9), prefix=clean_text,
       suffix=clean_text)
def test_an_unbroken_digit_run_that_fails_luhn_is_unchanged(pan, last, prefix, suffix):
    wrong = pan[:-1] + str((int(pan[-1]) + last) % 10)
    text = f"{prefix} | {wrong} | {suffix}"  # no digit a single separator away
    assert redact_text(text) == text


@hsettings(max_examples=200, deadline=None)
@given(pan=pans(), key=st.sampled_from(["pan", "card_number", "cardNumber", "token_pan"]))
def test_any_pan_in_structured_data_is_masked_by_key_and_by_content(pan, key):
    event = {key: pan, "nested": [{"note": f"card {pan}"}], "number": int(pan) or 1}
    flat = json.dumps(redact(event))
    assert pan not in flat


@pytest.mark.parametrize("text", [
    "Your code is 123456", "code: 123456", "otp=123456", '{"otp": "123456"}',
    "123456 is your code to add your M-Pesa Visa card to Google Pay",
    "123456 ni nambari yako ya kuthibitisha",
])
def test_one_time_codes_named_as_such_are_masked(text):
    assert "123456" not in redact_text(text)
    assert MASK in redact_text(text)


@pytest.mark.parametrize("text", ["failure code issuer_timeout", "HTTP 503 after 2000 ms",
                                  "task succeeded in 0.0150380000012345s",
                                  "request 7f3e0c1e-0b7a-4e59-9a43-1d2c3b4a5f60 moved"])
def test_ordinary_operational_text_is_left_alone(text):
    assert redact_text(text) == text


def test_secret_keys_are_masked_but_harmless_facts_about_them_are_kept():
    masked = redact({"otp": "123456", "code": "654321", "password": "hunter2hunter2",
                     "wallet_payload": {"opaque_payment_card": "abc"},
                     "Authorization": "Bearer abc", "card_last4": "1111",
                     "pan_fingerprint": "ab" * 32, "otp_attempts_left": 2,
                     "failure_code": "otp_invalid"})
    assert masked == {"otp": MASK, "code": MASK, "password": MASK, "wallet_payload": MASK,
                      "Authorization": MASK, "card_last4": "1111",
                      "pan_fingerprint": "ab" * 32, "otp_attempts_left": 2,
                      "failure_code": "otp_invalid"}


# --- the filter on the configured handlers ----------------------------------------------

def test_every_handler_in_the_logging_settings_has_the_redaction_filter():
    handlers = settings.LOGGING["handlers"]
    assert handlers, "logging has no handlers"
    redact_filters = {name for name, spec in settings.LOGGING["filters"].items()
                      if spec.get("()") == "core.observability.redaction.RedactionFilter"}
    for name, spec in handlers.items():
        assert redact_filters & set(spec.get("filters", [])), f"handler {name} is unfiltered"


_WALK_LOGGERS = """
import django, logging
django.setup()
import config.celery, config.urls, sentry_sdk  # what a web or worker process loads
from core.observability.redaction import RedactionFilter
loggers = [logging.getLogger()] + [l for l in logging.Logger.manager.loggerDict.values()
                                   if isinstance(l, logging.Logger)]
for logger in loggers:
    for handler in logger.handlers:
        if isinstance(handler, logging.NullHandler):
            continue  # a library's "no output" default writes nothing
        filtered = any(isinstance(f, RedactionFilter) for f in handler.filters)
        print(("ok" if filtered else "UNFILTERED"), logger.name, type(handler).__name__)
"""


def test_every_handler_of_every_logger_in_a_fresh_process_carries_a_redaction_filter():
    """Run in a process of its own, as the service starts, because tests in this process
    start in-process servers (uvicorn) that install handlers of their own. Also catches
    handlers that never went through settings.LOGGING (Django's DEFAULT_LOGGING gives
    "django" and "django.server" some; sentry-sdk one)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", _WALK_LOGGERS],
                            cwd=Path(__file__).resolve().parents[2], capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(("ok ", "UNFILTERED"))]
    assert any(line.startswith("ok root ") for line in lines)
    assert [line for line in lines if line.startswith("UNFILTERED")] == []


@pytest.fixture
def console_output():
    """What the configured console handler writes, in text and in JSON format."""
    handler = configured_console_handler()
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    try:
        yield handler, buffer
    finally:
        handler.setStream(old_stream)


PAN = "4000 0000 0000 0010"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_traceback_quoting_a_pan_is_masked_by_the_configured_handler(console_output, fmt):
    handler, buffer = console_output
    old_formatter = handler.formatter
    config = settings.LOGGING["formatters"][fmt]
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(config["fmt"], rename_fields=config["rename_fields"]))
    try:
        try:
            raise ValueError(f"issuer sent card {PAN} with otp=123456")
        except ValueError:
            logging.getLogger("provisioning.test").exception("card data call failed")
    finally:
        handler.setFormatter(old_formatter)
    written = buffer.getvalue()
    assert "card data call failed" in written and "ValueError" in written
    assert PAN not in written and PAN.replace(" ", "") not in written
    assert "123456" not in written
    assert MASK_PAN in written


def test_message_args_and_extra_fields_are_masked_by_the_configured_handler(console_output):
    handler, buffer = console_output
    old_formatter = handler.formatter
    from pythonjsonlogger.json import JsonFormatter

    handler.setFormatter(JsonFormatter("%(message)s"))
    try:
        logging.getLogger("provisioning.test").warning(
            "card %s", PAN, extra={"card": PAN.replace(" ", "-"), "otp": 123456,
                                   "body": {"pan": "4111111111111111", "code": "654321"},
                                   "request_id": "r-1"})
    finally:
        handler.setFormatter(old_formatter)
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert line["message"] == f"card {MASK_PAN}"
    assert line["card"] == MASK_PAN and line["otp"] == MASK
    assert line["body"] == {"pan": MASK, "code": MASK}
    assert line["request_id"] == "r-1"
