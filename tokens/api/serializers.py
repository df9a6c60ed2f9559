"""Wallet-app view of a token: state and last four, never anything secret."""

from rest_framework import serializers

from tokens.models import Token


class TokenSerializer(serializers.ModelSerializer):
    provisioning_request_id = serializers.UUIDField(read_only=True)
    last4 = serializers.CharField(source="token_last4", read_only=True)
    expiry = serializers.CharField(source="token_expiry", read_only=True)

    class Meta:
        model = Token
        fields = ["id", "state", "wallet", "card_id", "device_id", "last4", "expiry",
                  "provisioning_request_id", "created_at", "updated_at"]
