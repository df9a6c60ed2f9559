"""JSON from outside the process, parsed one way: the API's bodies (DRF's parser class),
the token-service webhook, and the answers of outside systems.

The standard library's parser recurses once per nesting level, so a body of a few
kilobytes of `[[[[...` raises RecursionError, which nothing upstream catches (a 500, or a
crashed task). Here it is a malformed document like any other, and so is anything nested
deeper than MAX_DEPTH: none of our documents comes near it, and code that walks a parsed
body (fingerprints, redaction, serializers) must never meet one that would exhaust the
stack.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


class MalformedJSON(ValueError):
    """Not a JSON document we accept: invalid, not UTF-8, NaN/Infinity, or too deep."""


def _refuse_constant(name: str):
    raise MalformedJSON(f"{name} is not JSON.")


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON document; MalformedJSON for anything we do not accept."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise MalformedJSON(f"JSON is nested deeper than {max_depth} levels.") from None
    except MalformedJSON:
        raise
    except (ValueError, TypeError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedJSON("Body is not valid JSON.") from None
    if depth_exceeds(value, max_depth):
        raise MalformedJSON(f"JSON is nested deeper than {max_depth} levels.")
    return value


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when containers nest deeper than max_depth (iterative: no recursion to exhaust)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser with `loads` underneath: a deep or invalid body is a 400 ParseError
    (the API answers `malformed_json`), never a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError:
            raise ParseError(f"JSON parse error - Body is not valid {encoding}.") from None
        try:
            return loads(text)
        except MalformedJSON as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
