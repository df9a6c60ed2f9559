"""Verifier for the CyberSource-style HTTP Signature the token service demands.

Written from the signature rules of docs/wire-contract.md, independently of the service's signer, so that a
bug in the signer shows up here as a 401 instead of being agreed with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

MAX_SKEW_SECONDS = 300
ALGORITHM = "HmacSHA256"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

_HEADERS_WITH_DIGEST = ("host", "date", "request-target", "digest", "v-c-merchant-id")
_HEADERS_WITHOUT_DIGEST = ("host", "date", "request-target", "v-c-merchant-id")
_SIGNATURE_PARAM = re.compile(r'\s*([A-Za-z]+)="([^"]*)"\s*(?:,|$)')
# RFC 7231 section 7.1.1.1: IMF-fixdate, always GMT.
_IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$"
)


class SignatureError(Exception):
    """The request is not signed as required; `reason` is a stable snake_case word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def body_digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def expected_header_names(method: str) -> tuple[str, ...]:
    return _HEADERS_WITH_DIGEST if method.upper() in BODY_METHODS else _HEADERS_WITHOUT_DIGEST


def signing_string(names: tuple[str, ...], values: Mapping[str, str]) -> str:
    return "\n".join(f"{name}: {values[name]}" for name in names)


def parse_signature_header(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _SIGNATURE_PARAM.match(value, position)
        if not match:
            raise SignatureError("malformed_signature", 'Signature header is not key="value" pairs')
        params[match.group(1).lower()] = match.group(2)
        position = match.end()
    return params


def _parse_date(value: str) -> float:
    if not _IMF_FIXDATE.match(value):
        raise SignatureError("bad_date", "Date must be an RFC 7231 IMF-fixdate in GMT")
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        raise SignatureError("bad_date", "Date does not parse") from None


def verify_request(
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    key_id: str,
    secret: bytes,
    merchant_id: str,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless the request carries a valid signature.

    `target` is the path as sent, query string included; `headers` must look names up
    case-insensitively (Starlette's Headers does).
    """
    signature_header = headers.get("signature")
    if not signature_header:
        raise SignatureError("missing_signature", "Signature header is missing")
    params = parse_signature_header(signature_header)
    for name in ("keyid", "algorithm", "headers", "signature"):
        if name not in params:
            raise SignatureError("malformed_signature", f"Signature lacks {name}")
    if not hmac.compare_digest(params["keyid"].encode(), key_id.encode()):
        raise SignatureError("unknown_key", "keyid is not the shared key's serial")
    if params["algorithm"] != ALGORITHM:
        raise SignatureError("unsupported_algorithm", f"algorithm must be {ALGORITHM}")
    names = expected_header_names(method)
    if tuple(params["headers"].split()) != names:
        raise SignatureError("unexpected_headers", f'headers must be "{" ".join(names)}"')

    merchant = headers.get("v-c-merchant-id")
    if merchant != merchant_id:
        raise SignatureError("unknown_merchant", "v-c-merchant-id is missing or unknown")
    host = headers.get("host")
    if not host:
        raise SignatureError("missing_host", "Host header is missing")
    date = headers.get("date")
    if not date:
        raise SignatureError("missing_date", "Date header is missing")
    now = time.time() if now is None else now
    if abs(now - _parse_date(date)) > MAX_SKEW_SECONDS:
        raise SignatureError("stale_date", "Date is more than five minutes from now")

    values = {
        "host": host,
        "date": date,
        "request-target": f"{method.lower()} {target}",
        "v-c-merchant-id": merchant,
    }
    if "digest" in names:
        digest = headers.get("digest")
        if not digest:
            raise SignatureError("missing_digest", "Digest header is missing")
        if not hmac.compare_digest(digest.encode(), body_digest(body).encode()):
            raise SignatureError("digest_mismatch", "Digest does not match the body")
        values["digest"] = digest

    try:
        presented = base64.b64decode(params["signature"], validate=True)
    except binascii.Error:
        raise SignatureError("malformed_signature", "signature is not base64") from None
    expected = hmac.new(secret, signing_string(names, values).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(presented, expected):
        raise SignatureError("signature_mismatch", "signature does not match")
