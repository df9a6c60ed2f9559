"""Wallet-app endpoints for provisioning requests: translation only, services do the work."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import conditional
from core.openapi import NOT_MODIFIED, conditional_get_parameters, errors
from core.pagination import NewestFirstCursorPagination
from core.validators import IDEMPOTENCY_KEY_PATTERN
from provisioning import idempotency, polling, services, step_up
from provisioning.models import ProvisioningRequest, State, Wallet

from .serializers import (
    CreateProvisioningRequestSerializer,
    ProvisioningRequestSerializer,
    VerifyOtpSerializer,
    push_request_variants,
)


class ProvisioningRequestFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices)
    wallet = django_filters.ChoiceFilter(choices=Wallet.choices)

    class Meta:
        model = ProvisioningRequest
        fields = ["state", "wallet"]


class ProvisioningRequestListCreateView(APIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        # One variant per wallet, told apart by `wallet` (tokens/wallets.py).
        request=PolymorphicProxySerializer(
            component_name="CreateProvisioningRequest",
            serializers=push_request_variants(),
            resource_type_field_name="wallet",
        ),
        responses={202: ProvisioningRequestSerializer, **errors(described={
            400: "Also `idempotency_key_required`, `idempotency_key_invalid`.",
            409: "`idempotency_key_in_flight`, `already_provisioned`, "
                 "`provisioning_in_progress`.",
            422: "`idempotency_key_reused`: the key came with another body.",
        })},
        parameters=[OpenApiParameter(
            "Idempotency-Key", {"type": "string", "minLength": 1,
                                "maxLength": idempotency.MAX_KEY_LENGTH,
                                "pattern": IDEMPOTENCY_KEY_PATTERN},
            OpenApiParameter.HEADER, required=True,
            description="Unique per push (a UUID): a repeat with the same body replays the "
                        "first answer.")],
        summary="Push a card into a wallet",
    )
    def post(self, request):
        serializer = CreateProvisioningRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = idempotency.validate_key(request.headers.get("Idempotency-Key"))
        customer_id = request.user.customer_id
        claim = idempotency.begin(customer_id, key, idempotency.fingerprint(request.data))
        if isinstance(claim, idempotency.Replay):
            response = Response(claim.body, status=claim.status)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            data = serializer.validated_data
            created = services.create_provisioning_request(services.NewRequest(
                customer_id=customer_id,
                card_id=data["card_id"],
                wallet=data["wallet"],
                device_id=data["device"]["id"],
                device_type=data["device"]["type"],
                device_os=data["device"]["os"],
                wallet_account_id=data.get("wallet_account_id") or "",
                wallet_data=data["wallet_data"],
            ))
        except Exception:
            idempotency.abandon(claim)
            raise
        body = ProvisioningRequestSerializer(created).data
        body = _plain(body)
        idempotency.complete(claim, status.HTTP_202_ACCEPTED, body, created)
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={200: ProvisioningRequestSerializer(many=True)},
        parameters=[
            OpenApiParameter("state", str, enum=State.values),
            OpenApiParameter("wallet", str, enum=Wallet.values),
        ],
        summary="List my provisioning requests",
    )
    def get(self, request):
        queryset = ProvisioningRequest.objects.filter(
            customer_id=request.user.customer_id
        ).select_related("token")
        filtered = ProvisioningRequestFilter(request.query_params, queryset=queryset)
        if not filtered.is_valid():
            from rest_framework.exceptions import ValidationError

            raise ValidationError(filtered.errors)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filtered.qs, request, view=self)
        return paginator.get_paginated_response(
            ProvisioningRequestSerializer(page, many=True).data
        )


class ProvisioningRequestDetailView(APIView):
    @extend_schema(responses={200: ProvisioningRequestSerializer, 304: NOT_MODIFIED},
                   parameters=conditional_get_parameters(),
                   summary="One of my provisioning requests (poll it with If-None-Match)")
    def get(self, request, request_id):
        customer_id = request.user.customer_id
        if request.headers.get("If-None-Match"):
            # A poll: one narrow query decides; the row is loaded only if it moved.
            etag = polling.current_etag(customer_id, request_id,
                                        message=services.NO_SUCH_REQUEST)
            if conditional.none_match(request, etag):
                return conditional.not_modified(etag)
        found = services.get_customer_request(customer_id, request_id)
        etag = polling.etag_of_row(found)  # of the row the body is built from
        return conditional.with_validator(
            Response(ProvisioningRequestSerializer(found).data), etag)


class ProvisioningRequestCancelView(APIView):
    @extend_schema(request=None, responses={200: ProvisioningRequestSerializer, **errors(
                       described={409: "`cancel_not_allowed`."})},
                   summary="Withdraw a request")
    def post(self, request, request_id):
        cancelled = services.cancel_request(request.user.customer_id, request_id)
        return Response(ProvisioningRequestSerializer(cancelled).data)


def _plain(data):
    """Serializer output as JSON-ready builtins (for storing the replayable response)."""
    import json

    from rest_framework.utils.encoders import JSONEncoder

    return json.loads(json.dumps(data, cls=JSONEncoder))




class ProvisioningRequestVerifyView(APIView):
    @extend_schema(request=VerifyOtpSerializer, responses={
        200: ProvisioningRequestSerializer,
        **errors(described={
            409: "`not_in_step_up`, `otp_already_verified`.",
            422: "A well-formed code that was not accepted: `otp_invalid` with "
                 "`attempts_left`; `otp_attempts_exhausted` (now declined) and `otp_expired` "
                 "(now expired), with the request's new `state`.",
        })}, summary="Enter the one-time code of a step-up")
    def post(self, request, request_id):
        serializer = VerifyOtpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = step_up.verify(request.user.customer_id, request_id,
                                 serializer.validated_data["otp"])
        if not outcome.accepted:
            # The attempt was recorded and committed before this error is raised.
            raise step_up.OtpInvalid(
                {"otp_invalid": "The one-time code is not right.",
                 "otp_expired": "The one-time code has expired; the request is expired.",
                 "otp_attempts_exhausted": "Too many wrong codes; the request is declined.",
                 }[outcome.error_code],
                code=outcome.error_code,
                details={"attempts_left": outcome.attempts_left, "state": outcome.request.state},
            )
        return Response(ProvisioningRequestSerializer(outcome.request).data)


class ProvisioningRequestResendOtpView(APIView):
    @extend_schema(request=None, responses={202: ProvisioningRequestSerializer, **errors(
                       described={409: "`not_in_step_up`.",
                                  429: "Also `otp_resend_too_soon` (with `Retry-After`), "
                                       "`otp_resend_limit_reached`."})},
                   summary="Send a fresh one-time code (the old one stops working)")
    def post(self, request, request_id):
        updated = step_up.resend(request.user.customer_id, request_id)
        return Response(ProvisioningRequestSerializer(updated).data,
                        status=status.HTTP_202_ACCEPTED)
