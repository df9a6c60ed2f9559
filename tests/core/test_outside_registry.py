"""The registry of outside systems: well-formed, importable without Django, and what the
settings, the sandbox, the clients and the docs say about each system."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from core.outside import registry
from core.outside.client import OutsideClient
from sandbox.app import create_app, system_mounts

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = registry.systems()


def test_names_prefixes_and_mounts_are_each_one_system():
    for field in ("name", "prefix", "mount"):
        values = [getattr(system, field) for system in SYSTEMS]
        assert len(values) == len(set(values)), field
    for system in SYSTEMS:
        assert re.fullmatch(r"[a-z][a-z_]*", system.name)
        assert system.prefix == system.prefix.upper() and system.mount.startswith("/")


@pytest.mark.parametrize("tool", ["core.outside.registry", "devstack", "sandbox.config"])
def test_the_registry_imports_with_the_standard_library_alone(tool):
    # devstack runs before (and without) the virtualenv; the sandbox must not need Django.
    code = (f"import sys; import {tool}, core.outside.registry; "
            "sys.exit(any(m.split('.')[0] in {'django', 'environ', 'requests'} "
            "for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0


@pytest.mark.parametrize("system", registry.called(), ids=lambda system: system.name)
def test_every_called_system_has_a_client_naming_its_entry(system):
    module = importlib.import_module(system.client)
    clients = [value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, OutsideClient)
               and value.__module__ == module.__name__ and value.system == system.name]
    assert clients, f"{system.client} has no OutsideClient subclass with system={system.name!r}"


@pytest.mark.parametrize("system", registry.called(), ids=lambda system: system.name)
def test_every_called_system_has_its_settings(system):
    assert getattr(settings, system.base_url_setting).startswith("http")
    if system.api_key:
        assert hasattr(settings, system.api_key)
    if system.read_timeout is not None:
        assert hasattr(settings, f"{system.prefix}_READ_TIMEOUT")
    if system.breaker_fail_max is not None:
        assert settings.BREAKER_FAIL_MAX[system.name] == system.breaker_fail_max
        assert settings.BREAKER_RESET_SECONDS[system.name] == system.breaker_reset_seconds


def test_only_the_registry_defines_base_urls():
    defined = {name for name in dir(settings) if name.endswith("_BASE_URL")}
    assert defined == {system.base_url_setting for system in registry.called()}


def test_the_sandbox_mounts_every_system_at_its_mount():
    mounted = {mount.path for mount in create_app().routes}
    assert {system.mount for system in SYSTEMS} | {"/sandbox"} == mounted
    assert all(mount.routes for mount in system_mounts())


# --- docs/dependencies.md ---------------------------------------------------------------

def _sections() -> dict[str, str]:
    text = (ROOT / "docs" / "dependencies.md").read_text()
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return {part.split("\n", 1)[0]: part for part in parts[1:]}


@pytest.mark.parametrize("system", SYSTEMS, ids=lambda system: system.name)
def test_every_system_has_a_dependency_section_matching_its_entry(system):
    sections = _sections()
    heading = f"{system.title} (`{system.name}`)"
    assert heading in sections, f"docs/dependencies.md lacks '## {heading}'"
    section = sections[heading]
    assert f"`{system.base_url_setting}`; sandbox mount `{system.mount}`" in section
    if system.breaker_fail_max is None:
        assert "- breaker: none" in section
    else:
        assert (f"- breaker: {system.breaker_fail_max} failures open it for "
                f"{system.breaker_reset_seconds} s") in section
    if system.read_timeout is not None:
        assert f"/ {system.read_timeout:g} s (`OUTSIDE_CONNECT_TIMEOUT` / " \
               f"`{system.prefix}_READ_TIMEOUT`" in section
    if system.api_key:
        assert f"`{system.api_key}`" in section


def test_every_called_systems_settings_are_in_the_readme_table():
    rows = [line for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("| `")]
    for system in registry.called():
        names = [system.base_url_setting, system.api_key]
        if system.read_timeout is not None:
            names.append(f"{system.prefix}_READ_TIMEOUT")
        if system.breaker_fail_max is not None:
            names += [f"{system.prefix}_BREAKER_FAIL_MAX", f"{system.prefix}_BREAKER_RESET_SECONDS"]
        for name in filter(None, names):
            assert any(f"`{name}`" in row.split(" | ")[0] for row in rows), name
    assert any(row.startswith("| `SANDBOX_URL` |") for row in rows)
