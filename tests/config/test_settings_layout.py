"""The settings' shape: topic modules import only env.py (never base, never each other)
and change nothing they did not define; base.py composes them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

SETTINGS = Path(__file__).resolve().parents[2] / "config" / "settings"
TOPICS = ["security", "notifications", "operations", "outside"]


def _tree(name: str) -> ast.Module:
    return ast.parse((SETTINGS / f"{name}.py").read_text())


@pytest.mark.parametrize("topic", [*TOPICS, "env"])
def test_a_topic_imports_no_other_settings_module_but_env(topic):
    relative = [node.module for node in ast.walk(_tree(topic))
                if isinstance(node, ast.ImportFrom) and node.level > 0]
    absolute = [node.module for node in ast.walk(_tree(topic))
                if isinstance(node, ast.ImportFrom) and node.level == 0
                and (node.module or "").startswith("config")]
    assert set(relative) <= ({"env"} if topic != "env" else set())
    assert absolute == []


@pytest.mark.parametrize("topic", TOPICS)
def test_a_topic_changes_nothing_in_place(topic):
    # A subscript or attribute store, or a call of a mutating method, on a name the
    # module did not bind itself would be a change to another module's value.
    tree = _tree(topic)
    bound = {target.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
             for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(target, ast.Name)}
    bound |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    foreign = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript | ast.Attribute):
                    root = target.value
                    while isinstance(root, ast.Subscript | ast.Attribute):
                        root = root.value
                    if isinstance(root, ast.Name) and root.id not in bound:
                        foreign.append(ast.unparse(target))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in {"append", "insert", "extend", "update", "setdefault"} \
                and isinstance(node.func.value, ast.Name) and node.func.value.id not in bound \
                and node.func.value.id != "globals":
            foreign.append(ast.unparse(node))
    assert foreign == []


def test_base_puts_each_topics_additions_in_place():
    assert settings.INSTALLED_APPS[0] == "core.admin_site.ServiceAdminConfig"
    assert settings.INSTALLED_APPS[-1] == "axes"
    middleware = settings.MIDDLEWARE
    assert middleware[0] == "core.listeners.ListenerMiddleware"
    assert middleware.index("core.security.RequestBodyLimitMiddleware") == \
        middleware.index("core.observability.correlation.CorrelationIdMiddleware") + 1
    assert middleware[-1] == "axes.middleware.AxesMiddleware"
    loggers = settings.LOGGING["loggers"]
    assert loggers["google"] == {"level": "WARNING"}
    assert loggers["django"] == {"handlers": [], "propagate": True}
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT


def _readme_setting_names() -> set[str]:
    """Names in the first cell of the README configuration table's rows, with
    `A_{X,Y}_B` spelled out."""
    readme = (SETTINGS.parents[1] / "README.md").read_text()
    names: set[str] = set()
    for line in readme.splitlines():
        if not line.startswith("| `"):
            continue
        for name in re.findall(r"`([A-Z0-9_{},]+)`", line.split(" | ")[0]):
            braces = re.match(r"(.*)\{([A-Z0-9_,]+)\}(.*)", name)
            if braces:
                names.update(f"{braces[1]}{part}{braces[3]}" for part in braces[2].split(","))
            else:
                names.add(name)
    return names


def test_every_transfer_and_readyz_setting_has_a_readme_row():
    # Every environment name read, and every module-level setting defined, under those
    # prefixes anywhere in config/settings.
    defined: set[str] = set()
    for path in SETTINGS.glob("*.py"):
        text = path.read_text()
        defined.update(re.findall(r"\"((?:TRANSFER|READYZ)_[A-Z0-9_]+)\"", text))
        defined.update(re.findall(r"^((?:TRANSFER|READYZ)_[A-Z0-9_]+) *=", text, re.M))
    defined.discard("TRANSFER_STUCK_AFTER")  # built from the four TRANSFER_STUCK_*_SECONDS
    assert "READYZ_OUTSIDE_CACHE_SECONDS" in defined and "TRANSFER_LIMITS" in defined
    assert sorted(defined - _readme_setting_names()) == []
