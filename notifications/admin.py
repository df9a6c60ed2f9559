"""Admin for the notification outbox, devices, customer preferences and their history.

Support reads (masked numbers and push tokens, never a sealed secret); operations with
`notifications.resend_notification` may resend a failed notification, and correct a
customer's profile: every change of it is kept with before and after (the SMS number is
where one-time codes go). The outbox and the history are audit trails too, so nobody
adds, edits or deletes their rows here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.errors import ApplicationError
from core.admin_site import ReadOnlyAdmin, ServiceModelAdmin

from . import profiles, services
from .models import CustomerProfile, CustomerProfileChange, Device, Notification, Status

# Who may change a customer's profile sees their number (to correct it); anyone else only
# looks, and sees it masked.
SEES_NUMBERS = "notifications.change_customerprofile"


def _mask(value: str, keep: int = 3) -> str:
    if not value:
        return "—"
    return "•" * max(len(value) - keep, 0) + value[-keep:]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
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

    @admin.display(description="history")
    def history(self, obj: CustomerProfile) -> str:
        if obj is None or obj.pk is None:
            return "—"
        url = reverse("admin:notifications_customerprofilechange_changelist")
        return format_html('<a href="{}?q={}">every change of this profile</a>', url,
                           obj.customer_id)

    def get_fields(self, request, obj=None):
        # Who may change a profile sees the number to correct it; who may only look
        # sees it masked.
        number = "msisdn" if self.has_change_permission(request, obj) else "masked_msisdn"
        return ["customer_id", "locale", "preferred_channel", number, "created_at", "updated_at",
                "history"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["created_at", "updated_at", "masked_msisdn", "history"]
        return [*fixed, "customer_id"] if obj is not None else fixed

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, which records each changed field with before and after.
        profiles.edit_customer_profile(obj, actor=request.user)


@admin.register(CustomerProfileChange)
class CustomerProfileChangeAdmin(ReadOnlyAdmin):
    """Every change of every profile. The values of SMS-number rows are shown to who may
    change profiles, masked for everyone else; no list filter or search reads them."""

    list_filter = ["field", "source"]
    search_fields = ["=customer_id", "=changed_by"]
    search_help_text = "Customer id or who changed it (exact)."
    date_hierarchy = "changed_at"
    show_full_result_count = False

    def get_list_display(self, request):
        values = (["before", "after"] if request.user.has_perm(SEES_NUMBERS)
                  else ["before_masked", "after_masked"])
        return ["changed_at", "customer_id", "field", *values, "changed_by", "source"]

    def get_fields(self, request, obj=None):
        values = (["before", "after"] if request.user.has_perm(SEES_NUMBERS)
                  else ["before_masked", "after_masked"])
        return ["customer_id", "field", *values, "changed_by", "source", "changed_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="before")
    def before_masked(self, obj: CustomerProfileChange) -> str:
        return self._masked(obj, obj.before)

    @admin.display(description="after")
    def after_masked(self, obj: CustomerProfileChange) -> str:
        return self._masked(obj, obj.after)

    @staticmethod
    def _masked(obj: CustomerProfileChange, value: str) -> str:
        if obj.field == CustomerProfileChange.Field.MSISDN:
            return _mask(value)
        return value or "—"
