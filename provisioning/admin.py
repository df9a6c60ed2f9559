"""Admin for support and operations: find a customer's push, read everything that happened
to it (transitions of the request and its token, notifications), and act on it.

Every field is read-only; the only way to change a request is a transition button, and
each button calls the same service the API and workers use (never a transition method),
so the lock, the state check and the transition log row are the same as everywhere.
Buttons appear only where the state allows the move and the user holds its permission.
Nothing secret is shown: no PAN (never stored), no wallet payload, no one-time code hash,
no PAN fingerprint; the customer's phone number is masked.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from core.errors import ApplicationError

from core.admin_site import (
    OverviewPanel, ReadOnlyAdmin, mask_msisdn, register_overview_panel, state_badge,
)
from core.models import TransitionLog, Trigger

from .models import ENDED_STATES, MOVING_STATES, ProvisioningRequest, State

logger = logging.getLogger(__name__)

# Watched states: a request here should move on by its due time.
WATCHED_STATES = (*MOVING_STATES, State.STEP_UP_REQUIRED)


# --- transition buttons -----------------------------------------------------------------

def _retry(request_id, user):
    from . import services

    services.retry_failed_request(request_id, actor=user, by=Trigger.ADMIN)
    return True


def _cancel(request_id, user):
    from . import services

    services.cancel_request(None, request_id, by=Trigger.ADMIN, actor=user)
    return True


def _expire(request_id, user):
    from . import step_up

    # Operations expire a step-up now, whether or not its code is overdue.
    return step_up.expire_step_up(request_id, by=Trigger.ADMIN, actor=user,
                                  only_if_overdue=False)


# transition method name → (button label, service call, help text)
ADMIN_TRANSITIONS = {
    "retry": ("Retry", _retry, "Put a failed request back to received; it runs again."),
    "cancel": ("Cancel", _cancel, "Withdraw the request (as the customer could)."),
    "expire": ("Expire step-up", _expire, "End the step-up now; its unused token is deleted."),
}


def available_admin_transitions(obj: ProvisioningRequest, user) -> list[dict]:
    """Buttons for this user on this request: declared source state and permission both
    come from the FSM (django-fsm-2's get_available_user_state_transitions)."""
    offered = {t.name for t in obj.get_available_user_state_transitions(user)}
    if obj.state == State.STEP_UP_REQUIRED and obj.otp_expires_at is None:
        # The code was accepted and the token is being activated: expiring or cancelling
        # now would throw away a step-up the customer completed (the service refuses).
        offered -= {"expire", "cancel"}
    return [{"name": name, "label": label, "help": help_text}
            for name, (label, _call, help_text) in ADMIN_TRANSITIONS.items() if name in offered]


class StuckFilter(admin.SimpleListFilter):
    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", "Stuck (past due)"), ("no", "Not stuck")]

    def queryset(self, request, queryset):
        stuck = Q(state__in=WATCHED_STATES, due_at__isnull=False, due_at__lt=timezone.now())
        if self.value() == "yes":
            return queryset.filter(stuck)
        if self.value() == "no":
            return queryset.exclude(stuck)
        return queryset


@admin.register(ProvisioningRequest)
class ProvisioningRequestAdmin(ReadOnlyAdmin):
    change_form_template = "admin/provisioning/provisioningrequest/change_form.html"
    list_display = ("id", "state_coloured", "wallet", "card_last_four", "customer_id", "age",
                    "last_failure")
    list_filter = ("state", "wallet", ("created_at", admin.DateFieldListFilter), StuckFilter)
    search_fields = ("=customer_id", "=card_last4", "=token__token_ref")
    search_help_text = "Request id, customer id, card last four or token reference (exact)."
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) of the whole table on every page is waste
    # An explicit list, so a field added to the model later is not shown until someone
    # decides it may be: never otp_hash, wallet_payload, *_sealed or pan_fingerprint.
    fieldsets = (
        ("Request", {"fields": ("id", "customer_id", "state_coloured", "wallet",
                                "card_last_four", "card_product", "customer_msisdn_masked",
                                "created_at", "state_changed_at", "age")}),
        ("Failure and retries", {"fields": ("failure_code", "failure_message", "attempts",
                                            "redrives", "due_at", "stuck")}),
        ("Decision", {"fields": ("issuer_decision", "token_service_decision",
                                 "decision_reasons")}),
        ("Device", {"fields": ("device_id", "device_type", "device_os", "wallet_account_id")}),
        ("Step-up", {"fields": ("otp_expires_at", "otp_attempts_left", "otp_sends",
                                "otp_last_sent_at")}),
        ("Wallet payload", {"fields": ("wallet_payload_held", "wallet_payload_expires_at",
                                       "wallet_payload_erased_reason")}),
    )
    readonly_fields = tuple(field for _name, group in fieldsets for field in group["fields"])

    def get_queryset(self, request):
        # The sealed payload is never loaded (nor decrypted) for admin.
        return super().get_queryset(request).defer("wallet_payload", "otp_hash")

    # --- columns --------------------------------------------------------------------
    @admin.display(description="state", ordering="state")
    def state_coloured(self, obj):
        return state_badge(obj.state)

    @admin.display(description="card", ordering="card_last4")
    def card_last_four(self, obj):
        return f"•••• {obj.card_last4}" if obj.card_last4 else "—"

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at)

    @admin.display(description="last failure", ordering="failure_code")
    def last_failure(self, obj):
        return obj.failure_code or "—"

    @admin.display(description="customer phone")
    def customer_msisdn_masked(self, obj):
        return mask_msisdn(obj.customer_msisdn) or "—"

    @admin.display(description="stuck (past due)", boolean=True)
    def stuck(self, obj):
        return bool(obj.state in WATCHED_STATES and obj.due_at and obj.due_at < timezone.now())

    @admin.display(description="wallet payload held", boolean=True)
    def wallet_payload_held(self, obj):
        # Asked of the database, so the sealed value is never opened here.
        return ProvisioningRequest.objects.filter(pk=obj.pk, wallet_payload__isnull=False).exists()

    # --- search -----------------------------------------------------------------------
    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        try:
            request_id = uuid.UUID(term)
        except ValueError:
            return super().get_search_results(request, queryset, term)
        return queryset.filter(pk=request_id), False

    # --- detail page ------------------------------------------------------------------
    def get_urls(self):
        opts = self.model._meta
        return [
            path("<uuid:object_id>/transition/<str:name>/",
                 self.admin_site.admin_view(self.transition_view),
                 name=f"{opts.app_label}_{opts.model_name}_transition"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context.update(self.history_context(obj))
            extra_context["admin_transitions"] = available_admin_transitions(obj, request.user)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_context(self, obj: ProvisioningRequest) -> dict:
        """Everything that happened to this push, for the detail page."""
        from tokens.models import Token

        token = Token.objects.filter(provisioning_request=obj).first()
        ids = [obj.pk] + ([token.pk] if token else [])
        # (machine, object_id) leads the log's index; object_id alone would scan it all.
        wanted = Q(machine=ProvisioningRequest.TRANSITION_LOG_MACHINE, object_id=obj.pk)
        if token:
            wanted |= Q(machine=Token.TRANSITION_LOG_MACHINE, object_id=token.pk)
        transitions = list(TransitionLog.objects.filter(wanted).order_by("created_at", "id"))
        token_url = (reverse("admin:tokens_token_change", args=[token.pk])
                     if token and admin.site.is_registered(type(token)) else None)
        return {
            "transitions": transitions,
            "token": token,
            "token_url": token_url,
            "notifications": notifications_for(ids),
            # Every issuer rule's verdict, inputs included: support needs the why (the API
            # never shows the inputs).
            "rule_results": list(obj.rule_results.order_by("rule_key")),
        }

    def transition_view(self, request, object_id, name):
        """POST only: run the service behind one button, then back to the detail page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, obj):
            return HttpResponseRedirect(reverse("admin:index"))
        change_url = reverse("admin:provisioning_provisioningrequest_change", args=[obj.pk])
        offered = {item["name"] for item in available_admin_transitions(obj, request.user)}
        if name not in offered:
            # A stale page (the state moved) or no permission: nothing happens.
            self.message_user(request, f"'{name}' is not possible for this request now "
                                       f"(state {obj.state}).", messages.ERROR)
            return HttpResponseRedirect(change_url)
        label, call, _help = ADMIN_TRANSITIONS[name]
        try:
            moved = call(obj.pk, request.user)
        except ApplicationError as exc:
            self.message_user(request, f"{label} refused: {exc}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        if moved:
            logger.info("admin transition", extra={"request_id": str(obj.pk), "transition": name,
                                                    "actor": request.user.get_username()})
            self.message_user(request, f"{label}: done.", messages.SUCCESS)
        else:
            self.message_user(request, f"{label}: nothing to do (the request moved meanwhile).",
                              messages.WARNING)
        return HttpResponseRedirect(change_url)


def notifications_for(object_ids) -> list | None:
    """Notifications about these objects, if the notifications app has its outbox; None
    when it has not (the page then says so instead of failing)."""
    try:
        model = apps.get_model("notifications", "Notification")
    except LookupError:
        return None
    names = {field.name for field in model._meta.get_fields()}
    if "object_id" not in names:
        return None
    wanted = [n for n in ("created_at", "event", "channel", "status", "attempts", "last_error")
              if n in names]
    try:
        with transaction.atomic():  # a savepoint: a missing table must not break the page
            return list(model.objects.filter(object_id__in=object_ids)
                        .order_by("created_at" if "created_at" in names else "pk")
                        .values(*wanted))
    except DatabaseError:
        logger.warning("notifications could not be read for the admin page", exc_info=True)
        return None


# --- the overview page's panel ----------------------------------------------------------------

def overview_numbers(now=None) -> dict:
    """The overview's figures; each is one grouped query on an indexed column."""
    from django.db.models import Count

    now = now or timezone.now()
    window = timedelta(minutes=settings.ADMIN_OVERVIEW_WINDOW_MINUTES)
    requests = ProvisioningRequest.objects.order_by()
    per_state = dict(requests.values_list("state").annotate(n=Count("pk")))
    # "Stuck": a request in a state that should be moving whose due time has passed.
    watched = [*MOVING_STATES, State.STEP_UP_REQUIRED]
    stuck = dict(requests.filter(state__in=watched, due_at__isnull=False, due_at__lt=now)
                 .values_list("state").annotate(n=Count("pk")))
    # Outcomes: requests that reached an end (or failed) within the window, by state and
    # failure code; (state, state_changed_at) is indexed.
    ended = sorted(ENDED_STATES)
    outcomes = (requests.filter(state__in=ended, state_changed_at__gte=now - window)
                .values_list("state", "failure_code").annotate(n=Count("pk"))
                .order_by("state", "-n"))
    return {
        "window_minutes": settings.ADMIN_OVERVIEW_WINDOW_MINUTES,
        "states": [{"state": state, "count": per_state.get(state, 0),
                    "stuck": stuck.get(state, 0) if state in watched else None}
                   for state in State.values],
        "total": sum(per_state.values()),
        "total_stuck": sum(stuck.values()),
        "outcomes": [{"state": state, "failure_code": code, "count": n}
                     for state, code, n in outcomes],
    }


register_overview_panel(OverviewPanel(
    template="admin/provisioning/overview_panel.html",
    permission="provisioning.view_provisioningrequest", context=overview_numbers))
