"""Whether an edit of a decisioning rule weakens it: the one definition behind the four-eyes
rule (services.save_rule holds a weakening edit until a second operations user approves).

A rule is compared as a snapshot (`snapshot()`: key, kind, description, enabled, mode,
params). An edit weakens a rule when the rule enforced something before (enabled, mode
`enforce`) and afterwards it enforces less:

- it is disabled, or put in `shadow` mode;
- its kind changes (the old check is gone, whatever the new one does);
- one of its params loosens. A param's order comes from its name (or, for an outcome,
  its value), never from a list of today's rule kinds, so a param added to a rule later
  is judged the same way:

  - an outcome (named `outcome`, `on_*` or `*_outcome`, or valued green, yellow or
    red): weaker when less restrictive, red → yellow → green;
  - `max`, `max_*`, `*_max`: weaker when higher;
  - `min`, `min_*`, `*_min`: weaker when lower;
  - a window (`*_hours`, `*_minutes`, `*_seconds`, `*_days`, `*window*`): weaker when
    shorter; 0 or less turns it off, the weakest;
  - an allow-list (`allowed_*`: a list, or a mapping of scope to list): weaker when it
    allows a value it did not, drops a scope's list, or goes away (no list allows all);
  - anything else: any change (its order is not known).

  A value a rule cannot read as its order says (a max of "ten", NaN, a boolean) counts
  as weaker. A param added or removed falls back on, or replaces, the rule's built-in
  default, which this module does not know: that counts as weaker, unless the value
  added is the strictest there is (a red outcome) or the value removed the weakest (a
  green outcome, a window that was off). An allow-list that is absent allows everything,
  so adding one never weakens.

Key and description are neither: they are recorded, never held for approval. A rule that
enforced nothing (disabled or shadow) cannot be weakened, and a new rule only adds checks
(the most restrictive enforced outcome wins), so both apply at once.
"""

from __future__ import annotations

import copy
import json
import math
from enum import Enum
from typing import Any, Mapping

from .models import SEVERITY, Mode, Outcome

SNAPSHOT_FIELDS = ("key", "kind", "description", "enabled", "mode", "params")
_MISSING = object()


def snapshot(rule) -> dict[str, Any]:
    """What the four-eyes rule compares, and what the change history records."""
    return {"key": rule.key, "kind": str(rule.kind), "description": rule.description,
            "enabled": bool(rule.enabled), "mode": str(rule.mode),
            "params": copy.deepcopy(rule.params)}


class Order(Enum):
    OUTCOME = "a less restrictive outcome is weaker"
    MAXIMUM = "a higher maximum is weaker"
    MINIMUM = "a lower minimum is weaker"
    WINDOW = "a shorter window is weaker"
    ALLOW_LIST = "allowing more is weaker"
    UNKNOWN = "its order is not known"


def param_order(name: str, *values: Any) -> Order:
    """How a param orders strictness, from its name (or an outcome value)."""
    if (name == "outcome" or name.startswith("on_") or name.endswith("_outcome")
            or any(isinstance(value, str) and value in Outcome.values for value in values)):
        return Order.OUTCOME
    if name == "max" or name.startswith("max_") or name.endswith("_max"):
        return Order.MAXIMUM
    if name == "min" or name.startswith("min_") or name.endswith("_min"):
        return Order.MINIMUM
    if name.endswith(("_hours", "_minutes", "_seconds", "_days")) or "window" in name:
        return Order.WINDOW
    if name.startswith("allowed_"):
        return Order.ALLOW_LIST
    return Order.UNKNOWN


def weakening_reasons(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Why `after` enforces less than `before` (two snapshots); empty when it does not."""
    if not before or not (before.get("enabled") and before.get("mode") == Mode.ENFORCE):
        return []  # a new rule, or one that enforced nothing
    reasons = []
    if not after.get("enabled"):
        reasons.append("disabled")
    elif after.get("mode") != Mode.ENFORCE:
        reasons.append(f"mode {before.get('mode')} → {after.get('mode')}")
    if after.get("kind") != before.get("kind"):
        reasons.append(f"kind {before.get('kind')} → {after.get('kind')} "
                       "(the old check no longer runs)")
        return reasons
    old_params, new_params = before.get("params"), after.get("params")
    if not isinstance(old_params, dict) or not isinstance(new_params, dict):
        if old_params != new_params:
            reasons.append("params changed and are not a JSON object")
        return reasons
    for name in sorted(old_params.keys() | new_params.keys()):
        reason = _param_weakens(name, old_params.get(name, _MISSING),
                                new_params.get(name, _MISSING))
        if reason:
            reasons.append(f"params.{name} {reason}")
    return reasons


def describe_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Every field and param that differs, as `name: before → after` (for the history)."""
    lines = []
    for name in SNAPSHOT_FIELDS:
        if name == "params":
            continue
        old, new = before.get(name, _MISSING), after.get(name, _MISSING)
        if old != new:
            lines.append(f"{name}: {_show(old)} → {_show(new)}")
    old_params, new_params = before.get("params") or {}, after.get("params") or {}
    if isinstance(old_params, dict) and isinstance(new_params, dict):
        for name in sorted(old_params.keys() | new_params.keys()):
            old, new = old_params.get(name, _MISSING), new_params.get(name, _MISSING)
            if old != new:
                lines.append(f"params.{name}: {_show(old)} → {_show(new)}")
    elif old_params != new_params:
        lines.append(f"params: {_show(old_params)} → {_show(new_params)}")
    return lines


# --- one param ---------------------------------------------------------------------------

def _param_weakens(name: str, old: Any, new: Any) -> str:
    """Why this param's change weakens the rule, or "" when it does not."""
    if old == new:
        return ""
    order = param_order(name, *(v for v in (old, new) if v is not _MISSING))
    if order is Order.ALLOW_LIST:
        return _allow_list_weakens(None if old is _MISSING else old,
                                   None if new is _MISSING else new)
    if order is Order.UNKNOWN:
        if old is _MISSING:
            return f"added ({order.value})"
        if new is _MISSING:
            return f"removed ({order.value})"
        return f"{_show(old)} → {_show(new)} ({order.value})"
    old_rank = None if old is _MISSING else _rank(order, old)
    new_rank = None if new is _MISSING else _rank(order, new)
    weakest, strictest = _BOUNDS[order]
    if old is _MISSING:
        if new_rank is not None and new_rank == strictest:
            return ""
        return f"added as {_show(new)} (the rule's default it replaces is not known here)"
    if new is _MISSING:
        if old_rank is not None and old_rank == weakest:
            return ""
        return f"removed, was {_show(old)} (the rule falls back on a default not known here)"
    if new_rank is None:
        return f"{_show(old)} → {_show(new)} (the rule cannot read it as {order.name.lower()})"
    if old_rank is None or new_rank < old_rank:
        return f"{_show(old)} → {_show(new)} ({order.value})"
    return ""


def _number(value: Any) -> float | None:
    # Rules read "24" as 24 (int() / float()); a boolean or NaN is not a threshold.
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rank(order: Order, value: Any) -> float | None:
    """The value's strictness: higher is stricter; None when it cannot be read."""
    if order is Order.OUTCOME:
        return float(SEVERITY[value]) if value in Outcome.values else None
    number = _number(value)
    if number is None:
        return None
    if order is Order.MAXIMUM:
        return -number
    if order is Order.WINDOW:
        return max(number, 0.0)  # 0 or less turns the window off
    return number  # MINIMUM


# (weakest, strictest) rank where one exists: the edges a missing param is judged by.
_BOUNDS = {
    Order.OUTCOME: (float(SEVERITY[Outcome.GREEN]), float(SEVERITY[Outcome.RED])),
    Order.WINDOW: (0.0, None),
    Order.MAXIMUM: (None, None),
    Order.MINIMUM: (None, None),
}


def _allowed(value: Any) -> dict[str, frozenset] | None:
    """An allow-list as {scope: allowed values}; scopes without a list are left out (they
    allow everything). None: nothing is restricted. Raises ValueError when unreadable."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        scopes = {"*": value}
    elif isinstance(value, dict):
        scopes = {str(scope): items for scope, items in value.items() if items is not None}
    else:
        raise ValueError("not a list or a mapping")
    restricted = {}
    for scope, items in scopes.items():
        if not isinstance(items, (list, tuple)):
            raise ValueError("a scope's allowed values are not a list")
        try:
            restricted[scope] = frozenset(items)
        except TypeError:
            raise ValueError("an allowed value is not a plain value") from None
    return restricted or None


def _allow_list_weakens(old: Any, new: Any) -> str:
    try:
        old_allowed, new_allowed = _allowed(old), _allowed(new)
    except ValueError as exc:
        return f"changed and cannot be read as an allow-list ({exc})"
    if old_allowed is None:
        return ""  # nothing was restricted: any list is stricter or the same
    if new_allowed is None:
        return "no longer restricts anything"
    for scope, values in sorted(old_allowed.items()):
        if scope not in new_allowed:
            return f"no longer restricts {scope}"
        added = new_allowed[scope] - values
        if added:
            return f"allows {', '.join(sorted(map(str, added)))} for {scope} too"
    return ""


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    if isinstance(value, str):
        return value or '""'
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return repr(value)
