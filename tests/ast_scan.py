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
