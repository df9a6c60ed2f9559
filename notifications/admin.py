"""Admin for the notification outbox, devices and customer preferences.

Support reads (masked numbers and push tokens, never a sealed secret); operations with
`notifications.resend_notification` may resend a failed notification. The outbox is an
audit trail too, so nobody adds, edits or deletes its rows here.
"""

from __future__ import annotations

from django.contrib import admin, messages

from config.errors import ApplicationError
from provisioning.admin_views import ServiceModelAdmin

from . import services
from .models import CustomerProfile, Device, Notification, Status


def _mask(value: str, keep: int = 3) -> str:
    if not value:
        return "—"
    return "•" * max(len(value) - keep, 0) + value[-keep:]


@admin.register(Notification)
class NotificationAdmin(ServiceModelAdmin):
    list_display = ["created_at", "customer_id", "template_key", "channel", "status",
                    "attempts", "last_error", "fallback_reason", "sent_at"]
    list_filter = ["status", "channel", "template_key", "locale", "last_error"]
    search_fields = ["=customer_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    # secret_context is left out on purpose: it may hold a one-time code.
    fields = ["id", "customer_id", "object_id", "event", "template_key", "channel", "locale",
              "masked_msisdn", "context", "holds_secret", "status", "attempts",
              "next_attempt_at", "provider_message_id", "last_error", "fallback_reason",
              "sent_at", "created_at", "updated_at"]
    readonly_fields = fields
    actions = ["resend"]

    @admin.display(description="SMS number")
    def masked_msisdn(self, obj: Notification) -> str:
        return _mask(obj.msisdn)

    @admin.display(description="Holds a sealed secret", boolean=True)
    def holds_secret(self, obj: Notification) -> bool:
        # Whether a sealed value is stored, without opening it.
        return obj.__dict__.get("secret_context") is not None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("notifications.resend_notification")

    @admin.action(description="Resend the selected failed notifications", permissions=["resend"])
    def resend(self, request, queryset):
        resent, refused = 0, 0
        for pk in queryset.filter(status=Status.FAILED).values_list("pk", flat=True):
            try:
                notification = services.resend_notification(pk, actor=request.user)
            except ApplicationError:
                refused += 1  # a one-time code: the customer asks for a new one instead
                continue
            self.log_change(request, notification, "Resent (failed → pending).")
            resent += 1
        skipped = queryset.exclude(status=Status.FAILED).count()
        if resent:
            self.message_user(request, f"{resent} notification(s) queued to send again.",
                              messages.SUCCESS)
        if refused or skipped:
            self.message_user(
                request,
                f"{refused + skipped} left alone: only failed notifications can be resent, "
                f"and never a one-time code.",
                messages.WARNING,
            )


@admin.register(Device)
class DeviceAdmin(ServiceModelAdmin):
    list_display = ["customer_id", "device_id", "platform", "masked_push_token", "updated_at"]
    list_filter = ["platform"]
    search_fields = ["=customer_id", "=device_id"]
    fields = ["customer_id", "device_id", "platform", "masked_push_token", "created_at",
              "updated_at"]
    readonly_fields = fields

    @admin.display(description="Push token")
    def masked_push_token(self, obj: Device) -> str:
        return _mask(obj.push_token, keep=6)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
    # Delete stays (with its permission): removing a device stops pushes to it.


@admin.register(CustomerProfile)
class CustomerProfileAdmin(ServiceModelAdmin):
    list_display = ["customer_id", "locale", "preferred_channel", "masked_msisdn", "updated_at"]
    list_filter = ["locale", "preferred_channel"]
    search_fields = ["=customer_id"]

    @admin.display(description="SMS number")
    def masked_msisdn(self, obj: CustomerProfile) -> str:
        return _mask(obj.msisdn)

    def get_fields(self, request, obj=None):
        # Who may change a profile sees the number to correct it; who may only look
        # sees it masked.
        number = "msisdn" if self.has_change_permission(request, obj) else "masked_msisdn"
        return ["customer_id", "locale", "preferred_channel", number, "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["created_at", "updated_at", "masked_msisdn"]
        return [*fixed, "customer_id"] if obj is not None else fixed

    def has_delete_permission(self, request, obj=None):
        return False
