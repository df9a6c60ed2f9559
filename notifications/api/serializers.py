"""Translation between the wallet app's JSON and the notification services."""

from __future__ import annotations

from rest_framework import serializers

from core.serializers import StrictSerializer
from core.validators import refuse_card_number
from notifications.models import Channel, Device, Locale, Platform


class RegisterDeviceSerializer(StrictSerializer):
    device_id = serializers.RegexField(max_length=128, regex=r"^[A-Za-z0-9_.:-]+$",
                                       validators=[refuse_card_number])
    # FCM and APNs tokens are printable ASCII; the gateway decides whether one is alive.
    # Stored, so never a card number (the hex digits of an APNs token are not one).
    push_token = serializers.RegexField(max_length=512, regex=r"^[\x21-\x7e]+$",
                                        validators=[refuse_card_number])
    platform = serializers.ChoiceField(choices=Platform.choices)


class DeviceSerializer(serializers.ModelSerializer):
    """A registered device, without its push token (the app holds it; nobody else needs it)."""

    class Meta:
        model = Device
        fields = ["device_id", "platform", "created_at", "updated_at"]


class PreferencesSerializer(StrictSerializer):
    """Read from a CustomerProfile (stored, or the defaults for a customer who set none)."""

    locale = serializers.ChoiceField(choices=Locale.choices, required=False)
    preferred_channel = serializers.ChoiceField(choices=Channel.choices, required=False)
