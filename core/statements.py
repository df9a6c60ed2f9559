"""Statement-saving helpers for the hot paths: a step's load folded into its attempt
count, and a move that writes only what it changed.

A worker step used to read its row, count an attempt with an UPDATE, and later lock
the row again (SELECT ... FOR UPDATE) before moving it and writing every column back.
The models' ConcurrentTransitionMixin (django-fsm-2) already refuses a save whose row
has left the state it was loaded in, so the step can move the instance it loaded:

- `claim_step` is one `UPDATE ... RETURNING`: count the attempt where the row is still
  in one of the step's states, and hand back the row as it is now (None once it has
  moved on);
- `save_changed` saves the fields the step changed since the load (plus `auto_now`
  fields), under the mixin's state check: a row another process moved meanwhile raises
  `django_fsm.ConcurrentTransition` and the caller's transaction rolls back, its log row
  and outbox row with it.

A model opts in by mixing in `TracksLoadedValues`, which remembers what each row looked
like when it came from the database (Django's documented `from_db` hook).
"""

from __future__ import annotations

import copy

from django.db import connection, models
from django.db.models.sql import InsertQuery


class TracksLoadedValues:
    """Remember the loaded field values, so a save can write only what changed."""

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Lists and dicts (JSON fields) are copied: a change in place must still show.
        instance._loaded_values = {name: _snapshot(value)
                                   for name, value in zip(field_names, values)}
        return instance


def _snapshot(value):
    return copy.copy(value) if isinstance(value, (list, dict)) else value


def changed_fields(instance: models.Model) -> list[str]:
    """Fields whose value differs from the one loaded (all of them for a row not loaded
    through TracksLoadedValues), with every `auto_now` field."""
    loaded = getattr(instance, "_loaded_values", None)
    fields = [field for field in instance._meta.concrete_fields if not field.primary_key]
    if loaded is None:
        return [field.name for field in fields]
    names = []
    for field in fields:
        if getattr(field, "auto_now", False):
            names.append(field.name)
        elif field.attname not in loaded or \
                instance.__dict__.get(field.attname) != loaded[field.attname]:
            names.append(field.name)
    return names


def save_changed(instance: models.Model) -> None:
    """Save what changed since the load; afterwards the row counts as loaded as saved."""
    instance.save(update_fields=changed_fields(instance))
    _now_loaded(instance)


def update_changed(instance: models.Model, **fence) -> bool:
    """One conditional UPDATE of what changed since the load, where the row still matches
    `fence` (field=value as loaded): True when it did and was written.

    For a row whose guard is more than its state (a notification's claim is its status and
    its attempt number). Each changed field's pre_save runs as in Model.save (auto_now, a
    sealed field's sealing), so the values written are those save() would write.
    """
    fields = [instance._meta.get_field(name) for name in changed_fields(instance)]
    values = {field.name: field.pre_save(instance, False) for field in fields}
    written = type(instance)._base_manager.filter(pk=instance.pk, **fence).update(**values) == 1
    if written:
        _now_loaded(instance)
    return written


def _now_loaded(instance: models.Model) -> None:
    """After a write: the row as written counts as the row as loaded."""
    if hasattr(instance, "_loaded_values"):
        instance._loaded_values = {
            field.attname: _snapshot(instance.__dict__.get(field.attname))
            for field in instance._meta.concrete_fields}


def claim_step(model: type[models.Model], pk, states, *, counter: str = "attempts"):
    """`UPDATE ... SET counter = counter + 1 WHERE pk AND state IN (...) RETURNING *`:
    the row as it is after counting the attempt, or None when it is in none of `states`.

    Through `Model.objects.raw` so every column goes through its field's converters (a
    sealed field comes back sealed, a UUID as a UUID) as an ORM read would.
    """
    meta = model._meta
    quote = connection.ops.quote_name
    column = quote(meta.get_field(counter).column)
    state_column = quote(meta.get_field("state").column)
    states = [states] if isinstance(states, str) else list(states)
    sql = (f"UPDATE {quote(meta.db_table)} SET {column} = {column} + 1 "
           f"WHERE {quote(meta.pk.column)} = %s AND {state_column} IN "
           f"({', '.join(['%s'] * len(states))}) RETURNING *")
    params = [meta.pk.get_db_prep_value(meta.pk.to_python(pk), connection), *states]
    rows = list(model.objects.raw(sql, params))
    return rows[0] if rows else None


def insert_unless_dropped(instance: models.Model) -> bool:
    """INSERT the new row in one statement: False when the database dropped it (a BEFORE
    trigger that returns NULL, as the outbox's does for a twin), True when it was written.
    No savepoint is needed, since nothing failed.

    The statement is Django's own INSERT for the instance (the compiler Model.save uses:
    every field's pre_save runs, auto_now_add and a sealed field's sealing), executed
    here so the cursor's row count can say whether the row went in.
    """
    meta = instance._meta
    query = InsertQuery(type(instance))
    query.insert_values([field for field in meta.local_concrete_fields if not field.generated],
                        [instance])
    with connection.cursor() as cursor:
        for sql, params in query.get_compiler(connection=connection).as_sql():
            cursor.execute(sql, params)
        written = cursor.rowcount == 1
    if written:
        instance._state.adding = False
        instance._state.db = connection.alias
    return written
