"""Translation between the wallet app's JSON and the provisioning services."""

from __future__ import annotations

import logging

from rest_framework import serializers

from core.serializers import StrictSerializer, untrimmed
from core.validators import refuse_card_number
from provisioning import customer_codes
from provisioning.models import ProvisioningRequest, State
from tokens import wallets

logger = logging.getLogger(__name__)

# Every free-form string the app sends is stored: none may hold a card number.
_ID_FIELD = {"max_length": 64, "regex": r"^[A-Za-z0-9_.:-]+$",
             "validators": [refuse_card_number]}


class DeviceSerializer(StrictSerializer):
    id = serializers.RegexField(max_length=128, regex=r"^[A-Za-z0-9_.:-]+$",
                                validators=[refuse_card_number])
    type = serializers.ChoiceField(choices=["phone", "watch", "tablet", "wearable"])
    # Spaces inside only ("iOS 18.1"): a blank or space-padded name is not one.
    os = serializers.RegexField(max_length=32,
                                regex=r"^[A-Za-z0-9_.-](?:[A-Za-z0-9_. -]*[A-Za-z0-9_.-])?$",
                                validators=[refuse_card_number])


def _common_fields() -> dict[str, serializers.Field]:
    return {
        "card_id": serializers.RegexField(**_ID_FIELD),
        "device": DeviceSerializer(),
        "wallet_account_id": serializers.RegexField(
            max_length=128, regex=r"^[A-Za-z0-9_.@:-]+$", required=False, allow_blank=True,
            validators=[refuse_card_number]),
    }


class CreateProvisioningRequestSerializer(StrictSerializer):
    """The body of a push. Each wallet's own block (tokens/wallets.py: `apple` for Apple Pay)
    is required for that wallet and refused for any other; its validated value comes out as
    `wallet_data`. The schema shows one variant per wallet (`push_request_variants`)."""

    wallet = serializers.ChoiceField(choices=wallets.choices())

    def get_fields(self):
        fields = {**_common_fields(), **super().get_fields()}
        for name, kind in wallets.data_fields().items():
            fields[name] = kind.data_serializer(required=False, allow_null=True)
        return untrimmed(fields)

    def validate(self, attrs):
        chosen = wallets.get(attrs["wallet"])
        errors = {}
        for name, kind in wallets.data_fields().items():
            if kind is chosen and not attrs.get(name):
                errors[name] = f"Required for {kind.code}."
            elif kind is not chosen and attrs.get(name):
                errors[name] = f"Only for {kind.code}."
        if errors:
            raise serializers.ValidationError(errors)
        data = {name: attrs.pop(name, None) for name in wallets.data_fields()}
        attrs["wallet_data"] = dict(data[chosen.data_field]) if chosen.data_field else None
        return attrs


def _push_request_variant(kind: wallets.WalletKind) -> type[serializers.Serializer]:
    """The body for one wallet, for the schema only: `wallet` fixed to its code, its own
    block (if any) required, no other wallet's block."""
    fields = {**_common_fields(), "wallet": serializers.ChoiceField(choices=[kind.code])}
    if kind.data_field:
        fields[kind.data_field] = kind.data_serializer()
    name = "".join(part.title() for part in kind.code.split("_")) + "PushSerializer"
    return type(name, (serializers.Serializer,), {
        **fields, "__doc__": f"A push into {kind.label}.", "__module__": __name__})


def push_request_variants() -> dict[str, type[serializers.Serializer]]:
    return {code: _push_request_variant(kind) for code, kind in wallets.WALLETS.items()}


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


class VerifyOtpSerializer(StrictSerializer):
    otp = serializers.RegexField(regex=r"^[0-9]{6}$", max_length=6,
                                 error_messages={"invalid": "Six digits."})
