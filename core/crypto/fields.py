"""The one model field for secrets at rest: a JSON value sealed by core.crypto.vault.

The column is text holding `v1.<key id>.<data>` (or NULL); the model attribute holds the
plain Python value (dict, list, str, number). The field seals in `pre_save`, when the
instance and its primary key are known, with the model label, the primary key and the
field name as associated data, so a ciphertext copied to another row or field does not
open. Reading opens lazily, on first attribute access (a descriptor, because
`from_db_value` has no instance), and raises a `VaultError` naming the key rather than
ever returning garbage.

Queries see only ciphertext: `.values()` returns the sealed text, `filter()` supports
only `isnull`, and `update()` / `bulk_update()` refuse plain values (they would have no
row to bind to). `rotate_encryption_keys` re-seals rows under the active key.
"""

from __future__ import annotations

import json
from typing import Any

from django.core import checks
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from . import vault


class SealedValue(str):
    """Ciphertext as read from the database, not opened yet (or meant to be stored as is)."""

    __slots__ = ()


class _OpeningDescriptor(DeferredAttribute):
    """Opens the sealed value on first access and keeps the plain value on the instance.

    A data descriptor (it defines __set__), so every read comes through here even though
    the value lives in the instance's __dict__ like any other field.
    """

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)  # loads a deferred field if needed
        if isinstance(value, SealedValue):
            value = self.field.open(instance, value)
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedJSONField(models.TextField):
    """A JSON value stored sealed (AES-256-GCM, key id in the value, bound to row and field).

    The model's primary key must be known before insert (a UUID default), because the
    associated data names the row. Not editable in forms or admin by default.
    """

    descriptor_class = _OpeningDescriptor
    description = "JSON sealed with AES-256-GCM under the encryption key ring"

    # Unlike a plain Field: nullable (no value is NULL, not an empty ciphertext), and
    # kept out of forms and admin.
    _OUR_DEFAULTS = {"null": True, "blank": True, "default": None, "editable": False}

    def __init__(self, *args, **kwargs):
        for key, value in self._OUR_DEFAULTS.items():
            kwargs.setdefault(key, value)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for key, ours in self._OUR_DEFAULTS.items():
            actual = getattr(self, key)
            if actual == ours:
                kwargs.pop(key, None)
            else:
                kwargs[key] = actual
        return name, path, args, kwargs

    # --- binding ----------------------------------------------------------------------

    def context(self, instance) -> str:
        # The label of the model that declares the field, so proxies share ciphertexts.
        label = self.model._meta.concrete_model._meta.label_lower
        return vault.context(label, instance.pk, self.name)

    def open(self, instance, sealed: str) -> Any:
        return json.loads(vault.open_bytes(sealed, self.context(instance)))

    def seal(self, instance, value: Any) -> SealedValue:
        if instance.pk is None:
            raise vault.VaultError(
                f"{self.model._meta.label}.{self.name} cannot be sealed before the row has a "
                f"primary key (give the model a UUID primary key with a default)")
        plaintext = json.dumps(value, separators=(",", ":")).encode()
        return SealedValue(vault.seal_bytes(plaintext, self.context(instance)))

    # --- database round trip ------------------------------------------------------------

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, SealedValue):
            return value  # nothing stored, or never opened: write back unchanged
        return self.seal(model_instance, value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        return SealedValue(value)

    def to_python(self, value):
        # Deserialisation (loaddata) hands over the sealed text: keep it sealed.
        if isinstance(value, str) and not isinstance(value, SealedValue) and \
                vault.looks_sealed(value):
            return SealedValue(value)
        return value

    def get_prep_value(self, value):
        if value is None or isinstance(value, SealedValue):
            return value
        raise TypeError(
            f"{self.model._meta.label}.{self.name} is sealed per row: assign the plain value on "
            f"the instance and save() it (queries support only isnull, updates only None or a "
            f"SealedValue)")

    def value_to_string(self, obj):
        # dumpdata writes the ciphertext, never the plain value.
        value = obj.__dict__.get(self.attname)
        if value is None or isinstance(value, SealedValue):
            return value
        return self.seal(obj, value)

    def value_from_object(self, obj):
        return obj.__dict__.get(self.attname)

    def formfield(self, **kwargs):
        return None  # never rendered in a form: admin shows masked facts, not secrets

    # --- checks -----------------------------------------------------------------------

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._check_primary_key(), *self._check_key_ring()]

    def _check_primary_key(self):
        pk = self.model._meta.pk
        if pk is not None and isinstance(pk, models.AutoField | models.BigAutoField
                                         | models.SmallAutoField):
            return [checks.Error(
                "EncryptedJSONField binds each value to its row's primary key, which an "
                "auto-increment key only gets after insert.",
                hint="Use a UUIDField primary key with default=uuid.uuid4.",
                obj=self, id="tokens.E001",
            )]
        return []

    def _check_key_ring(self):
        return [checks.Error(problem, obj=self, id="tokens.E002",
                             hint="See docs/security.md, 'Keys'.")
                for problem in vault.configuration_problems()]
