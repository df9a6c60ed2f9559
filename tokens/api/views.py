"""Wallet-app endpoints for tokens: read own tokens, ask to suspend, resume or delete."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import errors
from core.pagination import NewestFirstCursorPagination
from core.models import Trigger
from tokens import services, wallets
from tokens.models import Token, TokenState

from .serializers import TokenSerializer


class TokenFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=TokenState.choices)
    wallet = django_filters.ChoiceFilter(choices=wallets.choices())

    class Meta:
        model = Token
        fields = ["state", "wallet"]


class TokenListView(APIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(responses={200: TokenSerializer(many=True)},
                   parameters=[OpenApiParameter("state", str, enum=TokenState.values),
                               OpenApiParameter("wallet", str, enum=list(wallets.WALLETS))],
                   summary="List my tokens")
    def get(self, request):
        filtered = TokenFilter(request.query_params,
                               queryset=Token.objects.filter(customer_id=request.user.customer_id))
        if not filtered.is_valid():
            raise ValidationError(filtered.errors)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filtered.qs, request, view=self)
        return paginator.get_paginated_response(TokenSerializer(page, many=True).data)


class TokenDetailView(APIView):
    @extend_schema(responses={200: TokenSerializer}, summary="One of my tokens")
    def get(self, request, token_id):
        return Response(TokenSerializer(
            services.get_customer_token(request.user.customer_id, token_id)).data)


class TokenChangeView(APIView):
    operation = ""

    @extend_schema(request=None, responses={202: TokenSerializer, **errors(
        described={409: "`invalid_token_state`, `resume_not_allowed`."})})
    def post(self, request, token_id):
        token = services.get_customer_token(request.user.customer_id, token_id)
        token = services.request_token_change(token.pk, self.operation, by=Trigger.API,
                                              customer_id=request.user.customer_id)
        return Response(TokenSerializer(token).data, status=status.HTTP_202_ACCEPTED)


class TokenSuspendView(TokenChangeView):
    operation = "suspend"


class TokenResumeView(TokenChangeView):
    operation = "resume"


class TokenDeleteView(TokenChangeView):
    operation = "delete"
