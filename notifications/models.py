"""The notification outbox, the devices that receive pushes, and each customer's preferences.

A Notification row is written in the same transaction as the state change it reports
(by a receiver of the app that owns that state: provisioning/receivers.py), de-duplicated
by (object, event), and sent after commit by services.py.
Its status only moves through the transitions below; they change fields, never call out.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.crypto.fields import EncryptedJSONField
from core.statements import TracksLoadedValues


class Channel(models.TextChoices):
    PUSH = "push", "Push"
    SMS = "sms", "SMS"


class Locale(models.TextChoices):
    ENGLISH = "en", "English"
    SWAHILI = "sw", "Kiswahili"


class TemplateKey(models.TextChoices):
    """One message per event the customer is told about (templates.py has the wording)."""

    PROVISIONED = "provisioned"
    STEP_UP_CODE = "step_up_code"
    DECLINED = "declined"
    INELIGIBLE = "ineligible"
    FAILED = "failed"
    EXPIRED = "expired"
    TOKEN_SUSPENDED = "token_suspended"
    TOKEN_RESUMED = "token_resumed"
    TOKEN_DELETED = "token_deleted"
    # Visa Direct: the sender is told how their transfer ended.
    TRANSFER_COMPLETED = "transfer_completed"
    TRANSFER_DECLINED = "transfer_declined"
    TRANSFER_REJECTED = "transfer_rejected"


class Status(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def _can_be_resent(notification: Notification) -> bool:
    # A one-time code is erased once its row is final, and a stale code is worthless:
    # the customer asks the app for a new one instead.
    return notification.template_key != TemplateKey.STEP_UP_CODE


class Notification(TracksLoadedValues, ConcurrentTransitionMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.CharField(max_length=64)
    # De-duplication key: the object the event happened to (a provisioning request, a
    # token or a transfer) and which occurrence of which event it was.
    object_id = models.UUIDField()
    event = models.CharField(max_length=64)

    channel = models.CharField(max_length=8, choices=Channel.choices)
    template_key = models.CharField(max_length=32, choices=TemplateKey.choices)
    locale = models.CharField(max_length=2, choices=Locale.choices, default=Locale.ENGLISH)
    # Where an SMS goes, as known when the event happened (may be empty: services.py then
    # asks the customer's profile at send time).
    msisdn = models.CharField(max_length=20, blank=True, default="")
    # Values the message names that are not secret: wallet, card's last four.
    context = models.JSONField(default=dict, blank=True)
    # Secret values (a one-time code), sealed at rest by the one field type for secrets
    # (AES-256-GCM bound to this row and field); erased (None) once sent or failed for good.
    secret_context = EncryptedJSONField()

    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True)
    # Sends tried on the current channel; bounds retries even if the broker redelivers.
    attempts = models.PositiveSmallIntegerField(default=0)
    # pending: when it may be sent; sending: when the claim lapses (the dispatcher died).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    provider_message_id = models.CharField(max_length=128, blank=True, default="")
    # A coded reason (push_unregistered, gateway_unavailable, no_contact, ...), never text
    # from the gateway.
    last_error = models.CharField(max_length=64, blank=True, default="")
    # Why a push became an SMS (no_push_token, push_unregistered, ...); empty if it did not.
    fallback_reason = models.CharField(max_length=64, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["object_id", "event"], name="notification_dedup_uniq"),
        ]
        indexes = [
            # Beat's drain: unsent rows by due time; cost grows with unsent rows only.
            models.Index(fields=["next_attempt_at"], name="notification_due_idx",
                         condition=Q(status__in=["pending", "sending"])),
            models.Index(fields=["customer_id", "-created_at"], name="notification_customer_idx"),
        ]
        permissions = [("resend_notification", "Can resend a failed notification")]

    def __str__(self) -> str:
        return f"{self.template_key} to {self.customer_id} by {self.channel} ({self.status})"

    @property
    def reference(self) -> str:
        """What the gateways carry, so a duplicate send shows as one reference seen twice."""
        return str(self.id)

    # --- transitions ---------------------------------------------------------------------

    # The dispatcher makes this move in SQL, in the one UPDATE that claims a due row
    # (lock_objects.claim_due_notification); the method keeps the move in the machine
    # (its diagram, and a claim made in memory, as in tests).
    @transition(field=status, source=Status.PENDING, target=Status.SENDING)
    def claim(self, *, lease: timedelta):
        self.attempts += 1
        self.next_attempt_at = timezone.now() + lease

    @transition(field=status, source=Status.SENDING, target=Status.SENT)
    def mark_sent(self, *, provider_message_id: str):
        self.provider_message_id = provider_message_id[:128]
        self.sent_at = timezone.now()
        self.last_error = ""
        self.secret_context = None

    @transition(field=status, source=Status.SENDING, target=Status.PENDING)
    def schedule_retry(self, *, error_code: str, delay: timedelta):
        self.last_error = error_code
        self.next_attempt_at = timezone.now() + delay

    @transition(field=status, source=Status.SENDING, target=Status.PENDING)
    def fall_back_to_sms(self, *, reason: str):
        self.channel = Channel.SMS
        self.fallback_reason = reason
        self.last_error = reason
        self.attempts = 0
        self.next_attempt_at = timezone.now()

    @transition(field=status, source=[Status.PENDING, Status.SENDING], target=Status.FAILED)
    def fail(self, *, error_code: str):
        self.last_error = error_code
        self.secret_context = None

    @transition(field=status, source=Status.FAILED, target=Status.PENDING,
                conditions=[_can_be_resent], permission="notifications.resend_notification")
    def resend(self):
        self.attempts = 0
        self.last_error = ""
        self.next_attempt_at = timezone.now()


class Platform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"


class Device(models.Model):
    """A wallet-app install that can receive pushes; one push token per customer's device."""

    customer_id = models.CharField(max_length=64)
    device_id = models.CharField(max_length=128)
    push_token = models.CharField(max_length=512, db_index=True)
    platform = models.CharField(max_length=8, choices=Platform.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer_id", "-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer_id", "device_id"],
                                    name="device_customer_device_uniq"),
        ]
        indexes = [models.Index(fields=["customer_id", "-updated_at"], name="device_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}/{self.device_id} ({self.platform})"


class CustomerProfile(models.Model):
    """How a customer wants to be told: language and channel; an SMS number if known."""

    customer_id = models.CharField(max_length=64, unique=True)
    locale = models.CharField(max_length=2, choices=Locale.choices, default=Locale.ENGLISH)
    preferred_channel = models.CharField(max_length=8, choices=Channel.choices,
                                         default=Channel.PUSH)
    msisdn = models.CharField(max_length=20, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.customer_id} ({self.locale}, {self.preferred_channel})"


class ProfileChangeSource(models.TextChoices):
    ADMIN = "admin"  # operations, in admin (changed_by: the admin user)
    APP = "app"  # the customer, in the wallet app (changed_by: the customer id)


class CustomerProfileChange(models.Model):
    """One change of one field of a customer's profile (above all the SMS number, where
    one-time codes go): the value before and after, who changed it, where and when.

    Append-only: the database refuses updates and deletes too. Admin shows the numbers to
    who may change profiles (operations) and masks them for everyone else.
    """

    class Field(models.TextChoices):
        MSISDN = "msisdn", "SMS number"
        LOCALE = "locale"
        PREFERRED_CHANNEL = "preferred_channel"

    customer_id = models.CharField(max_length=64)
    field = models.CharField(max_length=32, choices=Field.choices)
    before = models.CharField(max_length=64, blank=True, default="")
    after = models.CharField(max_length=64, blank=True, default="")
    changed_by = models.CharField(max_length=150)
    source = models.CharField(max_length=8, choices=ProfileChangeSource.choices)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["customer_id", "-changed_at"],
                                name="profilechange_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.field} by {self.changed_by}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("CustomerProfileChange is append-only")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("CustomerProfileChange is append-only")
