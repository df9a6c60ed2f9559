"""Admin of Visa Direct for support and operations: payees and transfers masked (name and
last four only; never the sealed card or its fingerprint), the review queue (approve or
reject, with who and why in the transition log), and needs_attention settled from the
network's own answer. Every action calls the service the workers use.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.db.models import Max
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_site import ReadOnlyAdmin, ServiceModelAdmin, state_badge
from core.errors import ApplicationError
from core.models import TransitionLog

from . import services
from .admin_reconciliation import mismatches_url
from .models import FeeSchedule, Payee, Quote, State, Transfer

logger = logging.getLogger(__name__)


def masked_card(last4: str) -> str:
    return f"···· {last4}" if last4 else "—"


@admin.register(Payee)
class PayeeAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "card_masked", "country", "fast_funds", "customer_id", "created_at",
                    "deleted_at")
    list_filter = ("country", "fast_funds")
    search_fields = ("=customer_id", "=last4")
    search_help_text = "Customer id or card last four (exact)."
    show_full_result_count = False
    # An explicit list: never `card` (the sealed PAN) or `pan_fingerprint`.
    fields = ("id", "customer_id", "name", "card_masked", "push_enabled", "fast_funds", "country",
              "currency", "card_product", "issuer_name", "created_at", "deleted_at")
    readonly_fields = fields

    # Not named `card`: that is the model's sealed field, which admin would show instead.
    @admin.display(description="card")
    def card_masked(self, obj):
        return masked_card(obj.last4)


@admin.register(FeeSchedule)
class FeeScheduleAdmin(ServiceModelAdmin):
    """Editing a fee saves a new version and leaves the old row as it was: quotes name the
    version that priced them. Nobody adds or deletes versions otherwise (the first one
    comes with a migration)."""

    list_display = ("version", "fixed_fee", "percent_bps", "min_fee", "max_fee",
                    "effective_from", "created_by")
    fields = ("version", "fixed_fee", "percent_bps", "min_fee", "max_fee", "effective_from",
              "note", "created_by")
    readonly_fields = ("version", "created_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        latest = FeeSchedule.objects.aggregate(v=Max("version"))["v"] or 0
        obj.pk = None  # a new row: the edited version stays as it was
        obj.version = latest + 1
        obj.created_by = request.user.get_username()
        obj.save()


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("id", "customer_id", "amount", "fee", "total", "delivery", "expires_at",
                    "used")
    search_fields = ("=customer_id",)
    fields = ("id", "customer_id", "payee", "fee_schedule", "amount", "fee", "total",
              "currency", "delivery", "expires_at", "used", "created_at")
    readonly_fields = fields


# transition name → (label, service call, permission, needs a reason)
ACTIONS = {
    "approve": ("Approve review", lambda pk, user, why: services.approve_review(
        pk, actor=user, reason=why), "transfers.review_transfer", True),
    "reject": ("Reject review", lambda pk, user, why: services.reject_review(
        pk, actor=user, reason=why), "transfers.review_transfer", True),
    "resolve": ("Settle from the network's answer", lambda pk, user, why:
                services.resolve_from_network(pk, actor=user), "transfers.resolve_transfer",
                False),
}
ACTION_STATES = {"approve": State.IN_REVIEW, "reject": State.IN_REVIEW,
                 "resolve": State.NEEDS_ATTENTION}


def available_actions(obj: Transfer, user) -> list[dict]:
    return [{"name": name, "label": label, "needs_reason": needs_reason}
            for name, (label, _call, permission, needs_reason) in ACTIONS.items()
            if obj.state == ACTION_STATES[name] and user.has_perm(permission)]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    change_form_template = "admin/transfers/transfer/change_form.html"
    list_display = ("id", "state_coloured", "amount", "fee", "payee_name", "payee_card",
                    "customer_id", "created_at", "failure_code")
    list_filter = ("state", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=customer_id", "=payout_id", "=hold_id")
    search_help_text = "Customer id, payout id or hold id (exact). The review queue: state "\
                       "in_review."
    list_select_related = ("payee",)
    show_full_result_count = False
    fields = ("id", "customer_id", "state_coloured", "amount", "fee", "total", "currency",
              "delivery", "payee_name", "payee_card", "quote", "screening_result",
              "reviewed_by", "review_reason", "hold_id", "hold_settled", "payout_id",
              "network_outcome", "network_response_code", "approval_code", "inquiries",
              "attempts", "redrives", "failure_code", "failure_message", "created_at",
              "state_changed_at", "due_at", "correlation_id", "reconciliation")
    readonly_fields = fields

    @admin.display(description="state", ordering="state")
    def state_coloured(self, obj):
        return state_badge(obj.state)

    @admin.display(description="reconciliation")
    def reconciliation(self, obj):
        found = obj.reconciliation_mismatches.count()
        if not found:
            return "no mismatch found"
        still_open = obj.reconciliation_mismatches.filter(state="open").count()
        return format_html('<a href="{}">{} mismatch(es), {} open</a>', mismatches_url(obj.pk),
                           found, still_open)

    @admin.display(description="payee")
    def payee_name(self, obj):
        return obj.payee.name

    @admin.display(description="card")
    def payee_card(self, obj):
        return masked_card(obj.payee.last4)

    def get_urls(self):
        return [path("<uuid:object_id>/act/<str:name>/",
                     self.admin_site.admin_view(self.action_view),
                     name="transfers_transfer_act"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["transfer_actions"] = available_actions(obj, request.user)
            extra_context["transitions"] = list(TransitionLog.objects.filter(
                machine=Transfer.TRANSITION_LOG_MACHINE, object_id=obj.pk).order_by("id"))
            extra_context["rule_results"] = list(obj.rule_results.order_by("rule_key"))
        return super().change_view(request, object_id, form_url, extra_context)

    def action_view(self, request, object_id, name):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = get_object_or_404(Transfer, pk=object_id)
        change_url = reverse("admin:transfers_transfer_change", args=[obj.pk])
        offered = {item["name"] for item in available_actions(obj, request.user)}
        if name not in offered:
            self.message_user(request, f"'{name}' is not possible for this transfer now "
                                       f"(state {obj.state}).", messages.ERROR)
            return HttpResponseRedirect(change_url)
        label, call, _permission, needs_reason = ACTIONS[name]
        why = (request.POST.get("reason") or "").strip()
        if needs_reason and not why:
            self.message_user(request, f"{label}: say why.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            call(obj.pk, request.user, why)
        except ApplicationError as exc:
            self.message_user(request, f"{label} refused: {exc}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        logger.info("admin transfer action", extra={"transfer_id": str(obj.pk), "action": name,
                                                     "actor": request.user.get_username()})
        self.message_user(request, f"{label}: done.", messages.SUCCESS)
        return HttpResponseRedirect(change_url)
