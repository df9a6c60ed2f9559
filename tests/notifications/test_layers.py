"""Notifications sit below the flows: they import nothing from provisioning (a flow that
must react to a notification connects to a signal notifications define; which state
changes notify is the flow's own receivers' business). The import contracts
(tests/test_layers.py) say the same for every app; this one reads the files itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_notifications_import_nothing_from_provisioning():
    offenders = []
    for path in sorted((ROOT / "notifications").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names
                          if name == "provisioning" or name.startswith("provisioning.")]
    assert offenders == []
