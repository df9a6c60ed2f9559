#!/usr/bin/env python3
"""Audit the production lock for known vulnerabilities with pip-audit; CI runs this.

Exit 1 when any locked package has a known vulnerability. A package the vulnerability
service could not look up is not a pass: the audited and unaudited counts are printed,
and when nothing at all could be audited (no service reachable from this network) the
run says so in capitals instead of pretending to be clean. `--strict-network` turns
that case into a failure too, for a CI that does reach PyPI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", default=str(REPO / "requirements-prod.lock"))
    parser.add_argument("--pip-audit", default=str(REPO / ".venv" / "bin" / "pip-audit"))
    parser.add_argument("--strict-network", action="store_true",
                        help="fail when a package could not be audited")
    args = parser.parse_args(argv)

    result = subprocess.run(
        [args.pip_audit, "--disable-pip", "--require-hashes", "-r", args.lock,
         "--progress-spinner", "off", "--format", "json"],
        capture_output=True, text=True, timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(f"[audit] pip-audit gave no report (exit {result.returncode}):\n{result.stderr}")
        return 1
    dependencies = report.get("dependencies", [])
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    skipped = [dep for dep in dependencies if "skip_reason" in dep]
    audited = len(dependencies) - len(skipped)
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"[audit] VULNERABLE {dep['name']} {dep['version']}: {ids}")
    print(f"[audit] {args.lock}: {len(dependencies)} packages, {audited} audited, "
          f"{len(skipped)} could not be looked up, {len(vulnerable)} vulnerable")
    if vulnerable:
        return 1
    if skipped and audited == 0:
        print("[audit] NOT AUDITED: no vulnerability service answered for any package "
              "(this network reaches no advisory database); the lock is unchecked")
        return 1 if args.strict_network else 0
    if skipped and args.strict_network:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
