"""CyberSource-style HTTP Signature for calls to the token service.

Headers: v-c-merchant-id, Date (RFC 7231 GMT), Host, Digest (POST/PUT/PATCH only:
`SHA-256=` + base64 of the SHA-256 of the body) and Signature. The signed string is one
`name: value` line per listed header, lowercase names, joined by "\\n" with no trailing
newline; `request-target` is the lowercase method, a space and the path. The key is the
base64-decoded shared secret; the MAC is HMAC-SHA256, base64-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate
from urllib.parse import urlsplit

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def http_date(timestamp: float | None = None) -> str:
    return formatdate(timeval=timestamp, usegmt=True)


def signed_header_names(method: str) -> list[str]:
    if method.upper() in _BODY_METHODS:
        return ["host", "date", "request-target", "digest", "v-c-merchant-id"]
    return ["host", "date", "request-target", "v-c-merchant-id"]


def signing_string(values: dict[str, str], names: list[str]) -> str:
    return "\n".join(f"{name}: {values[name]}" for name in names)


def sign_request(
    *,
    method: str,
    url: str,
    body: bytes | None,
    merchant_id: str,
    key_id: str,
    shared_secret_b64: str,
    date: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate one request (add them to whatever else it carries)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    method = method.upper()
    values = {
        "host": parts.netloc,
        "date": date or http_date(),
        "request-target": f"{method.lower()} {path}",
        "v-c-merchant-id": merchant_id,
    }
    headers = {"v-c-merchant-id": merchant_id, "Date": values["date"], "Host": parts.netloc}
    if method in _BODY_METHODS:
        values["digest"] = digest(body or b"")
        headers["Digest"] = values["digest"]
    names = signed_header_names(method)
    key = base64.b64decode(shared_secret_b64)
    mac = hmac.new(key, signing_string(values, names).encode(), hashlib.sha256).digest()
    headers["Signature"] = (
        f'keyid="{key_id}", algorithm="HmacSHA256", headers="{" ".join(names)}", '
        f'signature="{base64.b64encode(mac).decode()}"'
    )
    return headers
