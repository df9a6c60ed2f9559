"""Production requires the base URL of every outside system in the registry, a system
added later included (tests/core/test_adding_an_outside_system.py adds the same toy)."""

from __future__ import annotations

import subprocess
import sys

from core.outside import registry
from tests.live import ROOT

LOAD_WITH_TOY = (
    "from core.outside import registry;"
    "from tests.core.toy_system.entry import TOY;"
    "registry.SYSTEMS.append(TOY);"
    "import config.settings.production"
)


def _load(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LOAD_WITH_TOY], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_new_systems_base_url_is_required_in_production(production_env):
    env = {**production_env, "TOY_API_KEY": "toy_" + "0123456789abcdefghijklmn"}

    missing = _load(env)
    plain = _load({**env, "TOY_BASE_URL": "http://toy.example/api"})
    present = _load({**env, "TOY_BASE_URL": "https://toy.example/api"})

    assert "TOY_BASE_URL must be set in production" in missing.stderr
    assert "TOY_BASE_URL must be an https:// URL" in plain.stderr
    assert present.returncode == 0, present.stderr[-2000:]


def test_the_deployment_example_sets_every_called_systems_base_url(production_env):
    assert {system.base_url_setting for system in registry.called()} <= set(production_env)
