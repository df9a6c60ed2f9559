"""One error type with a stable code and HTTP status, and the one JSON shape it takes.

Every API error, ours or DRF's, leaves as
`{"error": {"code": "...", "message": "...", "details": {...}}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A domain error the API shows the caller as is."""

    code = "application_error"
    status_code = status.HTTP_400_BAD_REQUEST
    message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status_code: int | None = None, details: dict | None = None,
                 headers: dict | None = None):
        self.message = message or self.message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(ApplicationError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    message = "No such object."


class StateConflict(ApplicationError):
    """The object's current state does not allow what was asked."""

    code = "invalid_state"
    status_code = status.HTTP_409_CONFLICT
    message = "The object's current state does not allow this."


def error_body(code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_json",
    exceptions.ValidationError: "validation_error",
}


class PanNotAllowed(ApplicationError):
    """A card number in an id, a token or a header (core.validators): never stored."""

    code = "pan_not_allowed"
    status_code = status.HTTP_400_BAD_REQUEST
    message = "A card number is not allowed here: send the card's id, never its number."


def _without_card_numbers(detail):
    """Error details with any card number masked: DRF's and django-filter's messages quote
    the value ('"4111..." is not a valid choice.'), and a response must never hold a PAN."""
    from core.observability.redaction import mask_pans

    if isinstance(detail, dict):
        return {key: _without_card_numbers(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_without_card_numbers(value) for value in detail]
    if isinstance(detail, str):
        return exceptions.ErrorDetail(mask_pans(detail), code=getattr(detail, "code", None))
    return detail


def _only_code(detail, codes, wanted: str):
    """The part of `detail` whose error code is `wanted` (same nesting), or None."""
    if isinstance(detail, dict) and isinstance(codes, dict):
        kept = {key: part for key in detail
                if (part := _only_code(detail[key], codes.get(key), wanted)) is not None}
        return kept or None
    if isinstance(detail, list) and isinstance(codes, list):
        if all(isinstance(item, str) for item in detail):
            kept = [item for item, item_code in zip(detail, codes) if item_code == wanted]
            return kept or None
        kept_items = {str(index): part for index, (item, item_code) in enumerate(zip(detail, codes))
                      if (part := _only_code(item, item_code, wanted)) is not None}
        return kept_items or None
    if isinstance(detail, str) and codes == wanted:
        return [detail]
    return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handler and Sentry take it from here
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = _without_card_numbers(exc.detail)
        pans = _only_code(detail, exc.get_codes(), PanNotAllowed.code)
        if pans:
            # Said on its own, naming only the fields that held one: the app must stop
            # sending card numbers there whatever else is wrong with the body.
            code, message, detail = PanNotAllowed.code, PanNotAllowed.message, pans
        else:
            message = "The request body is not valid."
        details = {"fields": detail} if isinstance(detail, dict) else {"errors": detail}
    else:
        details = {}
        message = str(getattr(exc, "detail", exc))
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after_seconds"] = int(exc.wait + 0.999)
    response.data = error_body(code, message, details)
    return response
