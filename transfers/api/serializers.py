"""Shapes of the Visa Direct API: strict input (an amount is an integer of minor units,
nothing else), output that never carries a PAN (last four and name only)."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from rest_framework import serializers

from core.errors import ApplicationError
from core.serializers import StrictSerializer
from core.validators import refuse_card_number
from transfers import customer_codes
from transfers.models import Payee, Quote, Transfer

NAME_MAX = 60


class InvalidPan(ApplicationError):
    code = "invalid_pan"
    message = "The card number is not valid."


class InvalidName(ApplicationError):
    code = "invalid_name"
    message = "The name must be 1 to 60 printable characters."


class InvalidAmount(ApplicationError):
    code = "invalid_amount"
    message = "The amount must be a whole number of minor units above zero."


class InvalidCurrency(ApplicationError):
    code = "invalid_currency"
    message = "Only KES is supported."


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def clean_pan(value) -> str:
    """13 to 19 digits (spaces allowed between groups) passing the Luhn check."""
    if not isinstance(value, str):
        raise InvalidPan()
    digits = value.replace(" ", "")
    if not (digits.isascii() and digits.isdigit() and 13 <= len(digits) <= 19
            and luhn_valid(digits)):
        raise InvalidPan()
    return digits


def clean_name(value) -> str:
    if not isinstance(value, str):
        raise InvalidName()
    name = " ".join(value.split())
    if not name or len(name) > NAME_MAX or any(
            unicodedata.category(char).startswith("C") for char in value):
        raise InvalidName()
    refuse_name_with_card_number(name)
    return name


def refuse_name_with_card_number(name: str) -> None:
    try:
        refuse_card_number(name)
    except serializers.ValidationError:
        raise InvalidName("A name must not hold a card number.") from None


def clean_amount(amount) -> int:
    """`{"value": int, "currency": "KES"}`; a bool, float, string or huge number is no
    amount (400 invalid_amount), another currency 400 invalid_currency."""
    if not isinstance(amount, dict):
        raise InvalidAmount(details={"field": "amount"})
    value = amount.get("value")
    if isinstance(value, bool) or not isinstance(value, int) or not (
            0 < value <= settings.TRANSFER_MAX_AMOUNT):
        raise InvalidAmount(details={"field": "amount.value",
                                     "max": settings.TRANSFER_MAX_AMOUNT})
    if amount.get("currency") != settings.TRANSFER_CURRENCY:
        raise InvalidCurrency(details={"field": "amount.currency"})
    return value


class CreatePayeeSerializer(StrictSerializer):
    pan = serializers.CharField(min_length=13, max_length=23,
                                help_text="The card number (13-19 digits, spaces allowed); "
                                          "sealed at rest, never shown again")
    name = serializers.CharField(max_length=200)


class PayeeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payee
        fields = ["id", "name", "last4", "push_enabled", "fast_funds", "country", "currency",
                  "created_at"]
        read_only_fields = fields


class MoneySerializer(StrictSerializer):
    value = serializers.IntegerField(min_value=1, max_value=settings.TRANSFER_MAX_AMOUNT,
                                     help_text="minor units (KES cents)")
    currency = serializers.ChoiceField(choices=["KES"])


class CreateQuoteSerializer(StrictSerializer):
    payee_id = serializers.UUIDField()
    amount = MoneySerializer()


def _money(value: int, currency: str) -> dict:
    return {"value": value, "currency": currency}


class QuoteSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    class Meta:
        model = Quote
        fields = ["id", "payee_id", "amount", "fee", "total", "delivery", "expires_at"]
        read_only_fields = fields

    def get_amount(self, obj) -> dict:
        return _money(obj.amount, obj.currency)

    def get_fee(self, obj) -> dict:
        return _money(obj.fee, obj.currency)

    def get_total(self, obj) -> dict:
        return _money(obj.total, obj.currency)


class CreateTransferSerializer(StrictSerializer):
    quote_id = serializers.UUIDField()


class TransferPayeeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    last4 = serializers.CharField()


class TransferSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    payee = TransferPayeeSerializer()
    failure = serializers.SerializerMethodField()

    class Meta:
        model = Transfer
        fields = ["id", "state", "amount", "fee", "total", "delivery", "payee", "quote_id",
                  "failure", "created_at", "updated_at", "state_changed_at"]
        read_only_fields = fields

    def get_amount(self, obj) -> dict:
        return _money(obj.amount, obj.currency)

    def get_fee(self, obj) -> dict:
        return _money(obj.fee, obj.currency)

    def get_total(self, obj) -> dict:
        return _money(obj.total, obj.currency)

    def get_failure(self, obj) -> dict | None:
        """A customer-facing code and message (transfers/customer_codes.py); the precise
        code stays on the row."""
        return customer_codes.customer_failure(obj.failure_code, obj.state)
