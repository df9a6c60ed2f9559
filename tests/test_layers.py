"""The layers hold (docs/architecture.md, ADR 0009): the import contracts pass, no model
points a foreign key up a layer except the two the ADR keeps, and no migration runs
today's code (each carries frozen copies of what it installs)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parents[1]
APPS = ("core", "tokens", "decisioning", "notifications", "provisioning")
# Bottom to top; apps on one level are independent of one another.
LEVEL = {"core": 0, "tokens": 1, "decisioning": 1, "notifications": 1, "provisioning": 2}
# Relations ADR 0009 keeps although they point up: the row is born in the flow's
# transaction and belongs to that one request; no code of the lower app follows them.
UPWARD_RELATIONS_KEPT = {
    ("tokens.Token", "provisioning_request", "provisioning.ProvisioningRequest"),
    ("decisioning.RuleResult", "request", "provisioning.ProvisioningRequest"),
}
# What a migration may import from our own code: the field classes Django's autodetector
# writes into it, and the key ring (keys cannot be frozen into a migration).
MIGRATION_IMPORTS_ALLOWED = {"core.crypto.fields", "core.crypto.vault"}


def test_the_import_contracts_are_kept():
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def _relations():
    for model in apps.get_models():
        if model._meta.app_label not in LEVEL:
            continue
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is not None:
                yield model, field


@pytest.mark.parametrize("app", APPS)
def test_no_foreign_key_points_up_a_layer_or_sideways(app):
    unexpected = []
    for model, field in _relations():
        source, target = model._meta.app_label, field.related_model._meta.app_label
        if source != app or target not in LEVEL or target == source:
            continue
        if LEVEL[target] >= LEVEL[source]:
            relation = (model._meta.label, field.name, field.related_model._meta.label)
            if relation not in UPWARD_RELATIONS_KEPT:
                unexpected.append(relation)
    assert unexpected == []


def test_the_kept_upward_relations_still_exist():
    """When one of them is flipped, it leaves the list (and ADR 0009 says so)."""
    found = {(model._meta.label, field.name, field.related_model._meta.label)
             for model, field in _relations()}
    assert UPWARD_RELATIONS_KEPT <= found


def _migration_files():
    for app in APPS:
        yield from sorted((ROOT / app / "migrations").glob("[0-9]*.py"))


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the migrations package itself
                continue
            module = node.module or ""
            yield from (f"{module}.{alias.name}" if f"{module}.{alias.name}" in
                        MIGRATION_IMPORTS_ALLOWED else module for alias in node.names)


@pytest.mark.parametrize("path", list(_migration_files()),
                         ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_a_migration_imports_none_of_our_code(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    ours = [name for name in _imported_modules(tree)
            if name.split(".")[0] in (*APPS, "config") and name not in MIGRATION_IMPORTS_ALLOWED]
    assert ours == [], f"{path.relative_to(ROOT)} imports today's code: {ours}"


def test_the_migration_check_sees_an_import_of_app_code():
    source = "def install(apps, schema_editor):\n    from decisioning.rules import DEFAULT_RULES\n"
    tree = ast.parse(source)
    assert list(_imported_modules(tree)) == ["decisioning.rules"]
