"""Conditional GET for the objects the wallet app polls (RFC 9110 sections 8.8.3, 13.1.2).

A detail answer carries a strong `ETag`: a digest of every column its body is computed
from (the body's own fields and those of the rows it embeds), so the tag moves whenever
any byte of the body can move, including a change made by a bulk UPDATE that leaves
`updated_at` alone. A poll sending the last tag back in `If-None-Match` is answered
`304 Not Modified` without a body after one narrow query of those columns: no model
instance, no serializer, no decryption.

Authentication, throttling and ownership run before any of this (the view's lookup is
scoped to the customer), so another customer's tag, or `*`, gets the same 404 as any
unknown id. `If-None-Match` is read as RFC 9110 says: `*` matches any current
representation, a list matches if any member does, comparison is weak (`W/"x"` matches
`"x"`), and a member that is not an entity-tag is ignored (Django's `parse_etags`), so a
malformed header is answered as if it were absent, never with an error.

`Cache-Control: private, no-cache`: the answer belongs to one customer (no shared cache
may keep it) and must be revalidated on every use, which is what a poll wants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponseNotModified
from django.utils.http import parse_etags

CACHE_CONTROL = "private, no-cache"


def etag_of(shape: str, values: Iterable[Any]) -> str:
    """The strong, quoted entity-tag of a body computed from `values`. `shape` names the
    representation (bump it when the body's fields change, so old tags stop matching)."""
    text = repr((shape, *values)).encode()
    return f'"{hashlib.blake2b(text, digest_size=16).hexdigest()}"'


def sealed_digest(sealed: str | None) -> str | None:
    """A short stand-in for a sealed column's ciphertext in a validator (re-sealing gives
    a new nonce, so the digest moves whenever the sealed value is written)."""
    if sealed is None:
        return None
    return hashlib.blake2b(str(sealed).encode(), digest_size=16).hexdigest()


def none_match(request, etag: str) -> bool:
    """True when the request's `If-None-Match` matches `etag` (weak comparison)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = parse_etags(header)
    if tags == ["*"]:
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == opaque for tag in tags)


def not_modified(etag: str) -> HttpResponseNotModified:
    response = HttpResponseNotModified()
    return with_validator(response, etag)


def with_validator(response, etag: str):
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    return response
