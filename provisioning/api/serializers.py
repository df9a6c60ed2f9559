"""Translation between the wallet app's JSON and the provisioning services."""

from __future__ import annotations

import base64
import binascii
import logging

from rest_framework import serializers

from core.validators import refuse_card_number
from provisioning import customer_codes
from provisioning.models import ProvisioningRequest, State, Wallet

logger = logging.getLogger(__name__)

# Every free-form string the app sends is stored: none may hold a card number.
_ID_FIELD = {"max_length": 64, "regex": r"^[A-Za-z0-9_.:-]+$",
             "validators": [refuse_card_number]}


def _base64(value: str, field: str, max_bytes: int) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise serializers.ValidationError(f"{field} must be base64.") from None
    if not raw or len(raw) > max_bytes:
        raise serializers.ValidationError(f"{field} must be 1 to {max_bytes} bytes.")
    return value


class DeviceSerializer(serializers.Serializer):
    id = serializers.RegexField(max_length=128, regex=r"^[A-Za-z0-9_.:-]+$",
                                validators=[refuse_card_number])
    type = serializers.ChoiceField(choices=["phone", "watch", "tablet", "wearable"])
    os = serializers.RegexField(max_length=32, regex=r"^[A-Za-z0-9_. -]+$",
                                validators=[refuse_card_number])


class AppleDataSerializer(serializers.Serializer):
    certificates = serializers.ListField(
        child=serializers.CharField(max_length=8192, validators=[refuse_card_number]),
        min_length=1, max_length=4
    )
    nonce = serializers.CharField(max_length=64, validators=[refuse_card_number])
    nonce_signature = serializers.CharField(max_length=1024, validators=[refuse_card_number])

    def validate_certificates(self, value):
        return [_base64(item, "certificates[]", 6144) for item in value]

    def validate_nonce(self, value):
        return _base64(value, "nonce", 32)

    def validate_nonce_signature(self, value):
        return _base64(value, "nonce_signature", 768)


class CreateProvisioningRequestSerializer(serializers.Serializer):
    card_id = serializers.RegexField(**_ID_FIELD)
    wallet = serializers.ChoiceField(choices=Wallet.choices)
    device = DeviceSerializer()
    wallet_account_id = serializers.RegexField(max_length=128, regex=r"^[A-Za-z0-9_.@:-]+$",
                                               required=False, allow_blank=True,
                                               validators=[refuse_card_number])
    apple = AppleDataSerializer(required=False, allow_null=True)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "Unknown field." for name in sorted(unknown)})
        if attrs["wallet"] == Wallet.APPLE_PAY and not attrs.get("apple"):
            raise serializers.ValidationError({"apple": "Required for apple_pay."})
        if attrs["wallet"] != Wallet.APPLE_PAY and attrs.get("apple"):
            raise serializers.ValidationError({"apple": "Only for apple_pay."})
        return attrs


class ProvisioningRequestSerializer(serializers.ModelSerializer):
    card_last4 = serializers.SerializerMethodField()
    device = serializers.SerializerMethodField()
    step_up = serializers.SerializerMethodField()
    token = serializers.SerializerMethodField()
    wallet_payload = serializers.SerializerMethodField()
    wallet_payload_status = serializers.SerializerMethodField()
    failure = serializers.SerializerMethodField()

    class Meta:
        model = ProvisioningRequest
        # No decision or reason codes: which control fired, and its inputs, stay for
        # admin and the logs (a fraudster must not learn what stopped them).
        fields = [
            "id", "state", "wallet", "card_id", "card_last4", "device", "wallet_account_id",
            "step_up", "token", "wallet_payload", "wallet_payload_status", "failure",
            "created_at", "updated_at",
        ]

    def get_card_last4(self, obj) -> str | None:
        return obj.card_last4 or None

    def get_device(self, obj) -> dict:
        return {"id": obj.device_id, "type": obj.device_type, "os": obj.device_os}

    def get_step_up(self, obj) -> dict | None:
        if obj.state != State.STEP_UP_REQUIRED:
            return None
        return {"method": "otp_sms", "expires_at": obj.otp_expires_at,
                "attempts_left": obj.otp_attempts_left}

    def get_token(self, obj) -> dict | None:
        if obj.state in (State.RECEIVED, State.ELIGIBLE, State.INELIGIBLE):
            return None  # no token exists before the provision call: skip the lookup
        token = getattr(obj, "token", None)  # reverse one-to-one: None when absent
        if token is None:
            return None
        return {"id": str(token.id), "state": token.state, "last4": token.token_last4 or None}

    def get_wallet_payload(self, obj) -> dict | None:
        from core.crypto.vault import VaultError

        if obj.state != State.PROVISIONED:
            return None
        try:
            return obj.wallet_payload  # opened by the field; the error names the key
        except VaultError as exc:
            # Loud for operations (an error event naming the key and row), and the
            # customer sees `wallet_payload_status: unreadable` instead of a 500.
            logger.error("wallet payload could not be opened: %s", exc,
                         extra={"request_id": str(obj.id)})
            return None

    def get_wallet_payload_status(self, obj) -> str | None:
        """Why `wallet_payload` is what it is: available, erased (expired), or not yet."""
        from core.crypto.vault import VaultError

        if obj.state == State.PROVISIONED:
            try:
                if obj.wallet_payload is not None:
                    return "available"
            except VaultError:
                return "unreadable"
        if obj.wallet_payload_erased_reason:
            return obj.wallet_payload_erased_reason
        return None

    def get_failure(self, obj) -> dict | None:
        """A customer-facing code and message (provisioning/customer_codes.py); the precise
        internal code stays on the row."""
        return customer_codes.customer_failure(obj.failure_code)


class VerifyOtpSerializer(serializers.Serializer):
    otp = serializers.RegexField(regex=r"^[0-9]{6}$", max_length=6,
                                 error_messages={"invalid": "Six digits."})
