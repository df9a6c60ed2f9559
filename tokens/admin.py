"""Admin for wallet tokens: read a token and its history; operations suspend, resume or
delete it through tokens.services.request_token_change, the same service the API uses
(the token service is called by a worker, and the state moves when it has answered).

No secret is shown: not the PAN fingerprint, nothing sealed.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django_fsm import can_proceed

from core.errors import ApplicationError
from core.admin_site import ReadOnlyAdmin, state_badge
from core.models import TransitionLog, Trigger

from .models import Token, WebhookEvent

logger = logging.getLogger(__name__)

# operation → (button label, transition method that the worker will call)
TOKEN_OPERATIONS = {
    "suspend": ("Suspend", "suspend"),
    "resume": ("Resume", "resume"),
    "delete": ("Delete", "delete_token"),
}
PERMISSION = "tokens.act_on_token"


def available_token_operations(token: Token, user) -> list[dict]:
    """Buttons for this user: the act_on_token permission and a state the FSM allows."""
    if not user.has_perm(PERMISSION):
        return []
    return [{"name": name, "label": label}
            for name, (label, method) in TOKEN_OPERATIONS.items()
            if can_proceed(getattr(token, method))]


@admin.register(Token)
class TokenAdmin(ReadOnlyAdmin):
    change_form_template = "admin/tokens/token/change_form.html"
    list_display = ("token_ref", "state_coloured", "wallet", "token_last4", "customer_id",
                    "request_link", "state_changed_at")
    list_filter = ("state", "wallet")
    search_fields = ("=token_ref", "=customer_id", "=token_last4")
    search_help_text = "Token reference, customer id or token last four (exact)."
    show_full_result_count = False
    # `suspended_by`: the app may lift only the customer's own suspension; operations may
    # resume any (the resume button), and the history below names the user.
    fields = ("id", "token_ref", "state_coloured", "suspended_by", "wallet", "token_last4",
              "token_expiry", "customer_id", "card_id", "device_id", "request_link",
              "created_at", "state_changed_at", "last_event_at", "operations_requested")
    readonly_fields = fields

    @admin.display(description="state", ordering="state")
    def state_coloured(self, obj):
        return state_badge(obj.state)

    @admin.display(description="provisioning request")
    def request_link(self, obj):
        url = reverse("admin:provisioning_provisioningrequest_change",
                      args=[obj.provisioning_request_id])
        return format_html('<a href="{}">{}</a>', url, obj.provisioning_request_id)

    def get_urls(self):
        return [
            path("<uuid:object_id>/operation/<str:name>/",
                 self.admin_site.admin_view(self.operation_view),
                 name="tokens_token_operation"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["token_operations"] = available_token_operations(obj, request.user)
            extra_context["transitions"] = list(TransitionLog.objects.filter(
                machine=Token.TRANSITION_LOG_MACHINE, object_id=obj.pk).order_by("created_at", "id"))
        return super().change_view(request, object_id, form_url, extra_context)

    def operation_view(self, request, object_id, name):
        """POST only: ask for a lifecycle change through the service, then back."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        token = get_object_or_404(self.get_queryset(request), pk=object_id)
        change_url = reverse("admin:tokens_token_change", args=[token.pk])
        if name not in {item["name"] for item in available_token_operations(token, request.user)}:
            self.message_user(request, f"'{name}' is not possible for this token now "
                                       f"(state {token.state}).", messages.ERROR)
            return HttpResponseRedirect(change_url)
        from .services import request_token_change

        try:
            request_token_change(token.pk, name, by=Trigger.ADMIN, actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, f"{TOKEN_OPERATIONS[name][0]} refused: {exc}",
                              messages.ERROR)
            return HttpResponseRedirect(change_url)
        logger.info("admin token operation", extra={"token_id": str(token.pk), "operation": name,
                                                      "actor": request.user.get_username()})
        self.message_user(request, f"{TOKEN_OPERATIONS[name][0]} requested; the token service "
                                   "is being asked and the state follows its answer.",
                          messages.SUCCESS)
        return HttpResponseRedirect(change_url)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event_type", "object_ref", "outcome", "event_id")
    list_filter = ("outcome", "event_type")
    search_fields = ("=object_ref", "=event_id")
    show_full_result_count = False
    # The stored payload never holds the wallet payload (webhooks.py strips it).
    fields = ("event_id", "event_type", "object_ref", "event_created_at", "received_at",
              "outcome", "payload")
    readonly_fields = fields
