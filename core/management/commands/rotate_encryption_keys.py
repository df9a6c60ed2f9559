"""Re-seal every encrypted column under the active key, in batches that commit one by one.

Finds every EncryptedJSONField of every installed model. Each batch locks its rows with
SKIP LOCKED (a row a worker holds is left for the next run, never waited on), re-seals
them and commits, so the command can be stopped at any point and run again: it picks up
whatever is still under an older key. A row that does not open (tampered, or under a key
no longer in the ring) is reported with the key id and left as it is; the command then
exits non-zero. Remove an old key from ENCRYPTION_KEYS only after a run reports 0 left.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.crypto import vault
from core.crypto.fields import EncryptedJSONField, SealedValue


@dataclass
class FieldReport:
    label: str
    resealed: Counter = field(default_factory=Counter)  # by old key id
    failures: list[str] = field(default_factory=list)
    batches: int = 0
    left: int = 0


def encrypted_fields() -> list[tuple[type, EncryptedJSONField]]:
    """Every (model, field) pair that stores sealed values, concrete models only."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedJSONField) and model_field.model is model:
                found.append((model, model_field))
    return found


class Command(BaseCommand):
    help = ("Re-seal every EncryptedJSONField value that is not under ENCRYPTION_ACTIVE_KEY_ID. "
            "Batches commit one by one; safe to stop and run again.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500,
                            help="rows locked, re-sealed and committed together (default 500)")
        parser.add_argument("--limit", type=int, default=None,
                            help="stop after re-sealing this many rows in all (default: all)")
        parser.add_argument("--dry-run", action="store_true",
                            help="only count the rows per field and key id; change nothing")

    def handle(self, *args, batch_size: int, limit: int | None, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if limit is not None and limit < 0:
            raise CommandError("--limit must not be negative")
        active = vault.active_key_id()
        try:
            vault.seal_bytes(b"", "rotate_encryption_keys:probe", active)
        except vault.VaultError as exc:
            raise CommandError(str(exc)) from None

        targets = encrypted_fields()
        if not targets:
            self.stdout.write("No encrypted fields found.")
            return
        budget = limit
        reports = []
        for model, model_field in targets:
            if dry_run:
                self._census(model, model_field, active)
                continue
            report = self._rotate(model, model_field, active, batch_size, budget)
            reports.append(report)
            if budget is not None:
                budget -= sum(report.resealed.values())
        if dry_run:
            self.stdout.write("Dry run: nothing changed.")
            return
        self._summary(reports, active)

    # --- dry run ----------------------------------------------------------------------

    def _census(self, model, model_field, active: str) -> None:
        by_key: Counter = Counter()
        values = (model._base_manager.filter(**{f"{model_field.attname}__isnull": False})
                  .values_list(model_field.attname, flat=True))
        for sealed in values.iterator(chunk_size=2000):
            try:
                by_key[vault.key_id_of(sealed)] += 1
            except vault.VaultError:
                by_key["(not a sealed value)"] += 1
        stale = sum(n for key_id, n in by_key.items() if key_id != active)
        detail = ", ".join(f"{key_id}: {n}" for key_id, n in sorted(by_key.items())) or "none"
        self.stdout.write(f"{_label(model, model_field)}: {stale} would be re-sealed under "
                          f"{active!r} (rows by key: {detail})")

    # --- rotation ---------------------------------------------------------------------

    def _stale(self, model, model_field, active: str):
        # Pattern lookups pass the text through untouched; the key id is a plain token
        # (vault.KEY_ID_PATTERN), so the prefix names exactly one key.
        return (model._base_manager
                .filter(**{f"{model_field.attname}__isnull": False})
                .exclude(**{f"{model_field.attname}__startswith": f"{vault.VERSION}.{active}."}))

    def _rotate(self, model, model_field, active: str, batch_size: int,
                budget: int | None) -> FieldReport:
        report = FieldReport(_label(model, model_field))
        label = model._meta.concrete_model._meta.label_lower
        failed_pks: set = set()
        while budget is None or sum(report.resealed.values()) < budget:
            size = batch_size if budget is None else min(batch_size,
                                                          budget - sum(report.resealed.values()))
            with transaction.atomic():
                rows = list(self._stale(model, model_field, active)
                            .exclude(pk__in=failed_pks)
                            .select_for_update(skip_locked=True)
                            .order_by("pk")
                            .values_list("pk", model_field.attname)[:size])
                if not rows:
                    break
                for pk, sealed in rows:
                    context = vault.context(label, pk, model_field.name)
                    try:
                        old_key = vault.key_id_of(sealed)
                        fresh = vault.reseal(sealed, context)
                    except vault.VaultError as exc:
                        failed_pks.add(pk)
                        report.failures.append(f"{pk}: {exc}")
                        continue
                    # update(), not save(): no auto_now, no state check, no signals; the
                    # row is locked, so nobody changed it since we read it.
                    model._base_manager.filter(pk=pk).update(
                        **{model_field.attname: SealedValue(fresh)})
                    report.resealed[old_key] += 1
            report.batches += 1
            self.stdout.write(f"{report.label}: batch {report.batches} committed "
                              f"({len(rows)} rows)")
        report.left = self._stale(model, model_field, active).count()
        return report

    def _summary(self, reports: list[FieldReport], active: str) -> None:
        failures = []
        for report in reports:
            done = sum(report.resealed.values())
            detail = ", ".join(f"{key_id}: {n}" for key_id, n in sorted(report.resealed.items()))
            self.stdout.write(
                f"{report.label}: {done} re-sealed under {active!r}"
                f"{f' (from {detail})' if detail else ''}, {len(report.failures)} failed, "
                f"{report.left} left")
            failures.extend(f"{report.label} {line}" for line in report.failures)
        total = sum(sum(r.resealed.values()) for r in reports)
        left = sum(r.left for r in reports)
        hint = " (locked by others, failed, or over --limit: run again)" if left else ""
        self.stdout.write(f"Done: {total} re-sealed, {len(failures)} failed, {left} left{hint}.")
        if failures:
            for line in failures[:20]:
                self.stderr.write(f"  {line}")
            raise CommandError(f"{len(failures)} value(s) could not be opened; they were left "
                               f"as they are (see above for the key ids)")


def _label(model, model_field) -> str:
    return f"{model._meta.label}.{model_field.name}"
