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

from config.redaction import MASK, MASK_PAN, redact, redact_text
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


def break_long_digit_runs(text: str) -> str:
    """Insert a letter so that no run of digits (joined by single spaces or dashes) holds
    more than 12 digits: such text has no PAN-length run at all."""
    out: list[str] = []
    count = 0
    for index, char in enumerate(text):
        if char in DIGITS:
            if count == 12:
                out.append("x")
                count = 0
            count += 1
        elif char in " -":
            joins = bool(out) and out[-1] in DIGITS and index + 1 < len(text) \
                and text[index + 1] in DIGITS
            if not joins:
                count = 0
        else:
            count = 0
        out.append(char)
    return "".join(out)


clean_text = st.text().map(break_long_digit_runs).filter(lambda t: not _KEYWORDS.search(t))
# Before a PAN: anything not ending in a digit, sometimes other numbers a separator away
# ("qty 2 4111 ..."), which must not hide it.
def _ends_clear_of_digits(text: str) -> bool:
    """Not ending in a digit, nor in "<digit>." (which would make the PAN a fraction)."""
    return not text or (text[-1] not in DIGITS and not re.search(r"[0-9]\.$", text))


before = st.one_of(
    st.text().filter(_ends_clear_of_digits),
    st.tuples(st.text().filter(_ends_clear_of_digits),
              st.text(DIGITS, min_size=1, max_size=6), st.sampled_from([" ", "-"]))
    .map("".join),
)
after = st.one_of(
    st.text().filter(lambda t: not t or t[0] not in DIGITS),
    st.tuples(st.sampled_from([" ", "-"]), st.text(DIGITS, min_size=1, max_size=6),
              st.text().filter(lambda t: not t or t[0] not in DIGITS)).map("".join),
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
                      if spec.get("()") == "config.redaction.RedactionFilter"}
    for name, spec in handlers.items():
        assert redact_filters & set(spec.get("filters", [])), f"handler {name} is unfiltered"


_WALK_LOGGERS = """
import django, logging
django.setup()
import config.celery, config.urls, sentry_sdk  # what a web or worker process loads
from config.redaction import RedactionFilter
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
