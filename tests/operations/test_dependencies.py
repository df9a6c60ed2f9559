"""scripts/audit_prod_lock.py: CI's dependency audit fails on a finding and never calls an
unchecked lock clean. pip-audit itself is replaced by a script that prints its report."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fake_pip_audit(tmp_path: Path, dependencies: list[dict]) -> Path:
    script = tmp_path / "pip-audit"
    report = json.dumps({"dependencies": dependencies, "fixes": []})
    script.write_text(f"#!/bin/sh\ncat <<'JSON'\n{report}\nJSON\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _audit(tmp_path, dependencies, *extra) -> subprocess.CompletedProcess:
    fake = _fake_pip_audit(tmp_path, dependencies)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "audit_prod_lock.py"),
                           "--pip-audit", str(fake), *extra],
                          capture_output=True, text=True, timeout=60)


def test_a_vulnerable_package_fails_the_audit(tmp_path):
    result = _audit(tmp_path, [
        {"name": "django", "version": "5.2.0", "vulns": [{"id": "PYSEC-2025-1"}]},
        {"name": "redis", "version": "8.1.0", "vulns": []},
    ])
    assert result.returncode == 1
    assert "VULNERABLE django 5.2.0: PYSEC-2025-1" in result.stdout


def test_a_clean_audited_lock_passes(tmp_path):
    result = _audit(tmp_path, [{"name": "redis", "version": "8.1.0", "vulns": []}])
    assert result.returncode == 0
    assert "1 audited, 0 could not be looked up, 0 vulnerable" in result.stdout


def test_an_unreachable_advisory_service_is_reported_as_not_audited(tmp_path):
    skipped = [{"name": "redis", "skip_reason": "Dependency not found on PyPI"}]
    result = _audit(tmp_path, skipped)
    assert result.returncode == 0
    assert "NOT AUDITED" in result.stdout
    assert _audit(tmp_path, skipped, "--strict-network").returncode == 1


def _locked(lock: str) -> set[str]:
    names = set()
    for line in (ROOT / lock).read_text().splitlines():
        if line and not line.startswith((" ", "#")) and "==" in line:
            names.add(line.split("==")[0].strip().lower())
    return names


def test_the_production_lock_carries_no_sandbox_packages():
    prod = _locked("requirements-prod.lock")
    assert not prod & {"starlette", "uvicorn", "httpx"}
    assert {"prometheus-client", "django-redis", "google-auth"} <= prod
    assert {"starlette", "uvicorn", "httpx"} <= _locked("requirements-sandbox.lock")


def test_prometheus_client_is_a_declared_dependency_not_a_transitive_one():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {item.split(">")[0].split("=")[0].split("[")[0].strip().lower()
                for item in project["dependencies"]}
    assert "prometheus-client" in declared
    assert not {"starlette", "uvicorn", "httpx"} & declared
