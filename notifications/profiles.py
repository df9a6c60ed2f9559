"""The customer's devices and preferences (the wallet app's API, and admin's profile
edits, each change recorded with who made it)."""

from __future__ import annotations

from django.db import transaction

from .models import CustomerProfile, CustomerProfileChange, Device, ProfileChangeSource


def profile_for(customer_id: str) -> CustomerProfile:
    """The stored profile, or the defaults (English, push) for a customer who set none."""
    return (CustomerProfile.objects.filter(customer_id=customer_id).first()
            or CustomerProfile(customer_id=customer_id))


def register_device(*, customer_id: str, device_id: str, push_token: str,
                    platform: str) -> tuple[Device, bool]:
    """Add or update a device's push token; True when the device is new."""
    with transaction.atomic():
        # A push token belongs to one app install. Registered under another customer
        # (another account signed in on that phone), it must stop reaching the first.
        Device.objects.filter(push_token=push_token).exclude(
            customer_id=customer_id, device_id=device_id).delete()
        return Device.objects.update_or_create(
            customer_id=customer_id, device_id=device_id,
            defaults={"push_token": push_token, "platform": platform},
        )


# The profile fields whose every change is recorded (CustomerProfileChange).
PROFILE_FIELDS = [field.value for field in CustomerProfileChange.Field]


def get_preferences(customer_id: str) -> CustomerProfile:
    return profile_for(customer_id)


def update_preferences(customer_id: str, *, locale: str | None = None,
                       preferred_channel: str | None = None) -> CustomerProfile:
    changes = {name: value for name, value in
               (("locale", locale), ("preferred_channel", preferred_channel)) if value}
    with transaction.atomic():
        profile, created = CustomerProfile.objects.select_for_update().get_or_create(
            customer_id=customer_id, defaults=changes)
        # Before: what the customer had, the defaults if they had no profile yet.
        before = _profile_values(CustomerProfile(customer_id=customer_id) if created
                                 else profile)
        if not created and changes:
            for name, value in changes.items():
                setattr(profile, name, value)
            profile.save(update_fields=[*changes, "updated_at"])
        _record_profile_changes(customer_id, before, _profile_values(profile),
                                changed_by=customer_id, source=ProfileChangeSource.APP)
    return profile


def edit_customer_profile(profile: CustomerProfile, *, actor) -> CustomerProfile:
    """Save a profile edited (or added) in admin; each changed field, the SMS number above
    all (one-time codes go there), is recorded with its value before and after and who
    changed it. `profile` carries the edited values, unsaved."""
    changed_by = actor.get_username()
    with transaction.atomic():
        current = (CustomerProfile.objects.select_for_update().filter(pk=profile.pk).first()
                   if profile.pk else None)
        if current is None:
            profile.save()
            defaults = CustomerProfile(customer_id=profile.customer_id)
            _record_profile_changes(profile.customer_id, _profile_values(defaults),
                                    _profile_values(profile), changed_by=changed_by,
                                    source=ProfileChangeSource.ADMIN)
            return profile
        before, edited = _profile_values(current), _profile_values(profile)
        changed = [name for name in PROFILE_FIELDS if edited[name] != before[name]]
        if changed:
            for name in changed:
                setattr(current, name, edited[name])
            current.save(update_fields=[*changed, "updated_at"])
            _record_profile_changes(current.customer_id, before, edited, changed_by=changed_by,
                                    source=ProfileChangeSource.ADMIN)
    return current


def _profile_values(profile: CustomerProfile) -> dict[str, str]:
    return {name: str(getattr(profile, name) or "") for name in PROFILE_FIELDS}


def _record_profile_changes(customer_id: str, before: dict[str, str], after: dict[str, str], *,
                            changed_by: str, source: str) -> None:
    CustomerProfileChange.objects.bulk_create([
        CustomerProfileChange(customer_id=customer_id, field=name, before=before[name],
                              after=after[name], changed_by=changed_by, source=source)
        for name in PROFILE_FIELDS if before[name] != after[name]
    ])

