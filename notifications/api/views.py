"""Wallet-app endpoints: register a device for pushes; read and set notification preferences.

Translation only: serializers validate, services do the work. The customer is always the
bearer token's subject, never a value from the body.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import profiles

from .serializers import DeviceSerializer, PreferencesSerializer, RegisterDeviceSerializer


class DeviceRegisterView(APIView):
    @extend_schema(
        request=RegisterDeviceSerializer,
        responses={201: DeviceSerializer, 200: DeviceSerializer},
        summary="Register this device's push token (201 new device, 200 token updated)",
    )
    def post(self, request):
        serializer = RegisterDeviceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device, created = profiles.register_device(customer_id=request.user.customer_id,
                                                    **serializer.validated_data)
        return Response(DeviceSerializer(device).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PreferencesView(APIView):
    @extend_schema(responses={200: PreferencesSerializer},
                   summary="My notification language and channel")
    def get(self, request):
        profile = profiles.get_preferences(request.user.customer_id)
        return Response(PreferencesSerializer(profile).data)

    @extend_schema(request=PreferencesSerializer, responses={200: PreferencesSerializer},
                   summary="Set my notification language (en, sw) and channel (push, sms)")
    def patch(self, request):
        serializer = PreferencesSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = profiles.update_preferences(request.user.customer_id,
                                              **serializer.validated_data)
        return Response(PreferencesSerializer(profile).data)
