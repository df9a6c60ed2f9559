"""The alert rules are valid Prometheus rules, behave as their unit tests say, link to real
runbook sections, use only metrics the service exports, and cover every failure mode
the runbook names."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# Codes a request or notification can carry (the brief's list plus what the code emits).
FAILURE_CODES = (
    "issuer_timeout", "issuer_unavailable", "issuer_bad_response", "issuer_ineligible",
    "card_not_found", "card_blocked", "card_expired",
    "token_service_timeout", "token_service_unavailable", "token_service_circuit_open",
    "token_service_declined", "token_service_bad_response", "token_activation_failed",
    "invalid_jwe", "card_mismatch", "redrive_limit_reached", "step_up_expired",
    "otp_attempts_exhausted", "cancelled_by_customer", "already_provisioned",
    "provisioning_in_progress", "gateway_unavailable", "push_unregistered", "no_push_token",
    "no_contact", "render_failed", "dispatch_interrupted",
)
# Series that come from Prometheus itself, not from our /metrics.
PROMETHEUS_OWN = {"up"}


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def runbook_anchors() -> set[str]:
    return set(re.findall(r'<a id="([^"]+)"></a>', RUNBOOK.read_text()))


def require_promtool() -> None:
    """.ci/run installs it; a machine without it fails here rather than skipping the check."""
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is not installed: apt-get install prometheus (as .ci/run does)")


def test_promtool_accepts_the_rules():
    require_promtool()
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass():
    require_promtool()
    result = subprocess.run([PROMTOOL, "test", "rules", str(RULE_TESTS.name)],
                            cwd=RULE_TESTS.parent, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unique_name_an_expression_a_severity_and_a_summary():
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    for rule in alerts():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"]), rule["alert"]
        assert rule["expr"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_every_alert_links_to_its_own_section_of_the_runbook():
    anchors = runbook_anchors()
    for rule in alerts():
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/runbook.md", url
        assert anchor == f"alert-{rule['alert'].lower()}", url
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/runbook.md"


def test_every_alert_section_of_the_runbook_belongs_to_an_alert():
    documented = {a for a in runbook_anchors() if a.startswith("alert-")}
    assert documented == {f"alert-{rule['alert'].lower()}" for rule in alerts()}


@pytest.mark.parametrize("code", FAILURE_CODES)
def test_every_failure_code_has_a_runbook_row_naming_an_alert_or_why_none(code):
    row = next((line for line in RUNBOOK.read_text().splitlines()
                if line.startswith(f'| <a id="code-{code}"></a>')), None)
    assert row, f"docs/runbook.md has no failure-code row for {code}"
    alert_cell = row.rstrip(" |").rsplit("|", 1)[-1]
    links = re.findall(r"\(#(alert-[a-z]+)\)", alert_cell)
    assert links or alert_cell.strip().startswith("none ("), row
    for anchor in links:
        assert anchor in runbook_anchors(), f"{code} links to a missing alert {anchor}"


def _metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (selectors, not functions or label names)."""
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_groupings)
    names = set()
    for match in re.finditer(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", without_ranges):
        name = match.group(1)
        if name in {"and", "or", "unless", "bool", "offset"} or "_" not in name and name != "up":
            continue
        names.add(name)
    return names


def _family(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_total"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@pytest.mark.django_db
def test_every_metric_an_alert_uses_is_exported_by_the_service(client):
    client.get("/api/v1/provisioning-requests")  # so the per-view HTTP series exist
    exported = {family.name for family in
                text_string_to_metric_families(client.get("/metrics").content.decode())}
    for rule in alerts():
        for name in _metric_names(rule["expr"]) - PROMETHEUS_OWN:
            assert _family(name) in exported or name in exported, \
                f"{rule['alert']} uses {name}, which /metrics does not export"
