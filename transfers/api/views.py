"""Wallet-app endpoints of Visa Direct: translation only, services do the work."""

from __future__ import annotations

import json

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from core.errors import ApplicationError
from core import conditional
from core.openapi import NOT_MODIFIED, conditional_get_parameters, errors
from core.pagination import NewestFirstCursorPagination
from core.validators import IDEMPOTENCY_KEY_PATTERN
from transfers import idempotency, polling, services

from .serializers import (
    CreatePayeeSerializer,
    CreateQuoteSerializer,
    CreateTransferSerializer,
    PayeeSerializer,
    QuoteSerializer,
    TransferSerializer,
    clean_amount,
    clean_name,
    clean_pan,
)


def _kyc_tier(request) -> str:
    return str(request.user.claims.get("kyc_tier") or settings.TRANSFER_DEFAULT_KYC_TIER)


def _sender_name(request) -> str:
    try:
        return clean_name(request.user.claims.get("name") or "")
    except ApplicationError:
        return "M-PESA CUSTOMER"


def _body(request, serializer_class) -> dict:
    """The JSON object sent, refused (400 `validation_error`) if it carries a field the
    schema does not name (its request serializers are strict, core/serializers.py)."""
    if not isinstance(request.data, dict):
        raise ApplicationError("The request body must be a JSON object.", code="validation_error")
    _refuse_unknown_fields(request.data, serializer_class())
    return request.data


def _refuse_unknown_fields(data: dict, serializer) -> None:
    unknown = {name: ["Unknown field."] for name in data if name not in serializer.fields}
    if unknown:
        raise ValidationError(unknown)
    for name, field in serializer.fields.items():
        if hasattr(field, "fields") and isinstance(data.get(name), dict):
            _refuse_unknown_fields(data[name], field)


class PayeeListCreateView(APIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(request=CreatePayeeSerializer, responses={201: PayeeSerializer, **errors(
        described={400: "Also `invalid_pan` (not 13-19 digits passing Luhn), `invalid_name`.",
                   422: "`card_cannot_receive`: the card cannot take push payments."})},
                   summary="Add a card to send money to (its attributes are asked at once)")
    def post(self, request):
        data = _body(request, CreatePayeeSerializer)
        missing = [name for name in ("pan", "name") if name not in data]
        if missing:
            raise ValidationError({name: ["This field is required."] for name in missing})
        pan = clean_pan(data["pan"])
        name = clean_name(data["name"])
        payee = services.create_payee(services.NewPayee(request.user.customer_id, name, pan))
        return Response(PayeeSerializer(payee).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: PayeeSerializer(many=True)}, summary="My payees")
    def get(self, request):
        paginator = NewestFirstCursorPagination()
        page = paginator.paginate_queryset(services.customer_payees(request.user.customer_id),
                                           request, view=self)
        return paginator.get_paginated_response(PayeeSerializer(page, many=True).data)


class PayeeDetailView(APIView):
    @extend_schema(responses={204: None}, summary="Delete a payee (its card is erased)")
    def delete(self, request, payee_id):
        services.delete_payee(request.user.customer_id, payee_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuoteCreateView(APIView):
    @extend_schema(request=CreateQuoteSerializer, responses={201: QuoteSerializer, **errors(
        404, described={400: "Also `invalid_amount`, `invalid_currency`.",
                        409: "`payee_deleted`.",
                        422: "`limit_exceeded`, naming the limit in `details`."})},
                   summary="Price a transfer: fee, total, delivery, expiry")
    def post(self, request):
        data = _body(request, CreateQuoteSerializer)
        if "payee_id" not in data or "amount" not in data:
            raise ValidationError({name: ["This field is required."]
                                   for name in ("payee_id", "amount") if name not in data})
        amount = clean_amount(data["amount"])
        quote = services.create_quote(customer_id=request.user.customer_id,
                                      payee_id=data["payee_id"], amount=amount,
                                      kyc_tier=_kyc_tier(request))
        return Response(QuoteSerializer(quote).data, status=status.HTTP_201_CREATED)


class TransferListCreateView(APIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        request=CreateTransferSerializer, responses={202: TransferSerializer, **errors(
            404, described={
                400: "Also `idempotency_key_required`, `idempotency_key_invalid`.",
                409: "`quote_expired`, `quote_used`, `payee_deleted`, "
                     "`idempotency_key_in_flight`.",
                422: "`idempotency_key_reused`: the key came with another body; "
                     "`limit_exceeded`."})},
        parameters=[OpenApiParameter(
            "Idempotency-Key", {"type": "string", "minLength": 1,
                                "maxLength": idempotency.MAX_KEY_LENGTH,
                                "pattern": IDEMPOTENCY_KEY_PATTERN},
            OpenApiParameter.HEADER, required=True,
            description="Unique per send (a UUID): a repeat with the same body replays the "
                        "first answer.")],
        summary="Send money against a quote")
    def post(self, request):
        key = idempotency.validate_key(request.headers.get("Idempotency-Key"))
        serializer = CreateTransferSerializer(data=_body(request, CreateTransferSerializer))
        serializer.is_valid(raise_exception=True)
        customer_id = request.user.customer_id
        claim = idempotency.begin(customer_id, key, idempotency.fingerprint(request.data))
        if isinstance(claim, idempotency.Replay):
            response = Response(claim.body, status=claim.status)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            transfer = services.create_transfer(services.NewTransfer(
                customer_id=customer_id, quote_id=str(serializer.validated_data["quote_id"]),
                kyc_tier=_kyc_tier(request), sender_name=_sender_name(request)))
        except Exception:
            idempotency.abandon(claim)
            raise
        body = json.loads(json.dumps(TransferSerializer(transfer).data, cls=JSONEncoder))
        idempotency.complete(claim, status.HTTP_202_ACCEPTED, body, transfer)
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: TransferSerializer(many=True)}, summary="My transfers")
    def get(self, request):
        paginator = NewestFirstCursorPagination()
        page = paginator.paginate_queryset(services.customer_transfers(request.user.customer_id),
                                           request, view=self)
        return paginator.get_paginated_response(TransferSerializer(page, many=True).data)


class TransferDetailView(APIView):
    @extend_schema(responses={200: TransferSerializer, 304: NOT_MODIFIED},
                   parameters=conditional_get_parameters(),
                   summary="One of my transfers (poll it with If-None-Match)")
    def get(self, request, transfer_id):
        customer_id = request.user.customer_id
        if request.headers.get("If-None-Match"):
            # A poll: one narrow query decides; the row is loaded only if it moved.
            etag = polling.current_etag(customer_id, transfer_id, message=polling.NO_SUCH_TRANSFER)
            if conditional.none_match(request, etag):
                return conditional.not_modified(etag)
        transfer = services.get_customer_transfer(customer_id, transfer_id)
        etag = polling.etag_of_row(transfer)  # of the row the body is built from
        return conditional.with_validator(Response(TransferSerializer(transfer).data), etag)


class TransferCancelView(APIView):
    @extend_schema(request=None, responses={200: TransferSerializer, **errors(
        described={409: "`cancel_not_allowed`: funds are held or the transfer is over."})},
                   summary="Withdraw a transfer before funds are held")
    def post(self, request, transfer_id):
        transfer = services.cancel_transfer(request.user.customer_id, transfer_id)
        return Response(TransferSerializer(transfer).data)
