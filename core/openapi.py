"""The OpenAPI schema says what each operation can answer, errors included.

drf-spectacular documents the success answer a view declares; this AutoSchema adds the
coded error envelope of core/errors.py for every status the operation can really give:

- 400 on every operation (a malformed Content-Length or query, an invalid body);
- 401 where a bearer token is required; 429 where a rate limit applies;
- 404 on routes with an id in the path (unknown ids and other customers' objects);
- 413 where a body may be sent (the body limit), 415 where a JSON body is read;
- 409, 422 and further statuses only where a view declares them with `errors(...)`,
  because only the view knows that its service can answer a state conflict.

List views name their paginator (`pagination_class`); drf-spectacular then documents
the cursor-paginated shape (`next`, `previous`, `results`) and its query parameters.
A postprocessing hook closes every request body (`additionalProperties: false`): the
API refuses fields it does not know, and the schema must say so.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import permissions, serializers

# Statuses the API gives for its own reasons, and what each means.
ERROR_STATUSES = {
    400: "Bad request: malformed JSON or header, or a body or query that is not valid "
         "(`malformed_json`, `validation_error`, `pan_not_allowed`, ...).",
    401: "No valid bearer token (`not_authenticated`, `authentication_failed`).",
    404: "No such object, or not the caller's (`not_found`).",
    409: "The object's current state does not allow this.",
    413: "The request body is over the size limit (`payload_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    422: "The request is well formed but cannot be processed as sent.",
    429: "Too many requests (`rate_limited`); `Retry-After` says when to try again.",
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case code (docs/runbook.md).")
    message = serializers.CharField()
    details = serializers.DictField(help_text="Code-specific facts, e.g. `fields`, "
                                              "`attempts_left`, `retry_after_seconds`.")


class ErrorSerializer(serializers.Serializer):
    """Every error answer: `{"error": {"code", "message", "details"}}` (core/errors.py)."""

    error = ErrorDetailSerializer()


def error_response(status: int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description or ERROR_STATUSES[status])


def errors(*statuses: int, described: dict[int, str] | None = None
           ) -> dict[int, OpenApiResponse]:
    """Error answers a view declares beside its success, each with the codes it can carry:
    `responses={200: X, **errors(described={409: "`cancel_not_allowed`"})}`."""
    declared = {status: error_response(status) for status in statuses}
    for status, codes in (described or {}).items():
        declared[status] = error_response(status, f"{ERROR_STATUSES[status]} {codes}")
    return declared


# Conditional GET (core/conditional.py) on the detail views the wallet app polls.
NOT_MODIFIED = OpenApiResponse(
    None, description="Not modified: the `If-None-Match` sent holds the current `ETag`. No "
                      "body; keep the representation you have and poll again later.")


def conditional_get_parameters() -> list[OpenApiParameter]:
    """The request's `If-None-Match` and the `ETag` and `Cache-Control` of the 200 and 304."""
    return [
        OpenApiParameter(
            "If-None-Match", str, OpenApiParameter.HEADER, required=False,
            description="The `ETag` of the last answer you kept (or a comma-separated list "
                        "of them): while it is still current the answer is 304 with no body. "
                        "Weak comparison (`W/\"x\"` matches `\"x\"`); `*` matches any "
                        "request of yours; a malformed value is ignored."),
        OpenApiParameter(
            "ETag", str, OpenApiParameter.HEADER, response=[200, 304],
            description="Strong validator of the representation: it changes whenever any "
                        "field of the body changes. Send it back in `If-None-Match`."),
        OpenApiParameter(
            "Cache-Control", str, OpenApiParameter.HEADER, response=[200, 304],
            description="`private, no-cache`: yours only, revalidate on every use."),
    ]


def _variants(proxy: PolymorphicProxySerializer) -> list:
    variants = proxy.serializers
    return list(variants.values()) if isinstance(variants, dict) else list(variants)


_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"},
                                "description": "Seconds to wait before trying again."}}


class AutoSchema(openapi.AutoSchema):
    def _needs_authentication(self) -> bool:
        if not self.view.get_authenticators():
            return False
        return not all(isinstance(permission, permissions.AllowAny)
                       for permission in self.view.get_permissions())

    def _takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")

    def _parses_body(self) -> bool:
        return self._takes_body() and self.get_request_serializer() is not None

    def implied_error_statuses(self) -> list[int]:
        statuses = [400]
        if self._needs_authentication():
            statuses.append(401)
        if "{" in self.path:
            statuses.append(404)
        if self._takes_body():
            statuses.append(413)  # core.security.RequestBodyLimitMiddleware, before any view
        if self._parses_body():
            statuses.append(415)
        if self.view.get_throttles():
            statuses.append(429)
        return statuses

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if isinstance(serializer, PolymorphicProxySerializer):
            # Required when every variant has a required field (drf-spectacular only looks
            # at a plain serializer's own component).
            required = all(any(field.required for field in force_instance(variant).fields.values())
                           for variant in _variants(serializer))
        return schema, required

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self.implied_error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_response(status), str(status), direction=direction)
        if "429" in responses:
            responses["429"].setdefault("headers", {}).update(_RETRY_AFTER)
        return responses


def close_request_bodies(result, generator, request, public):
    """Postprocessing hook: request components refuse unknown properties, as the API does."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    return result


# Where an id the API answers with can be used next (OpenAPI links): clients and the
# schema-driven tests (tests/integration/test_api_schema.py) follow them.
_LINKS = {
    ("/api/v1/provisioning-requests", "post", "202"): (
        "request_id", "$response.body#/id",
        [("get", "/api/v1/provisioning-requests/{request_id}"),
         ("post", "/api/v1/provisioning-requests/{request_id}/cancel"),
         ("post", "/api/v1/provisioning-requests/{request_id}/verify"),
         ("post", "/api/v1/provisioning-requests/{request_id}/resend-otp")]),
}


def link_operations(result, generator, request, public):
    """Postprocessing hook: the links of `_LINKS`, for the operations the schema has."""
    paths = result.get("paths", {})
    for (path, method, status), (parameter, expression, targets) in _LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for target_method, target_path in targets:
            target = paths.get(target_path, {}).get(target_method)
            if target is not None:
                links[target["operationId"]] = {"operationId": target["operationId"],
                                                "parameters": {parameter: expression}}
    return result
