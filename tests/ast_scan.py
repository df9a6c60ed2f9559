"""Small helpers for the tests that read the service's own code (which failure codes a
flow can write, which texts a customer can see)."""

from __future__ import annotations

import ast


def call_name(func: ast.AST) -> str:
    """`reject` for both `reject(...)` and `steps.reject(...)`."""
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def string_constant(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return node.value
    return None


def strings_in(node: ast.AST) -> set[str]:
    """Every string literal in an expression (`"a" if x else "b"`, `reason or "c"`)."""
    return {found for inner in ast.walk(node) if (found := string_constant(inner))}


def outside_error_codes(first_argument: ast.AST, systems) -> set[str]:
    """The codes an outside error raised with this first argument can carry: the literal
    itself, or for an f-string like f"{system}_timeout" / f"http_{status}" every system's
    (or a sample status's) code."""
    if string_constant(first_argument):
        return {first_argument.value}
    if not isinstance(first_argument, ast.JoinedStr):
        return set()
    fixed = "".join(part.value for part in first_argument.values
                    if isinstance(part, ast.Constant))
    if fixed.startswith("_"):
        return {f"{system}{fixed}" for system in systems}
    return {f"{fixed}{status}" for status in (400, 401, 404)}
