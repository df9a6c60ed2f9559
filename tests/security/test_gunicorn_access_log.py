"""gunicorn's own logs go through the redaction filter: the access log line quotes the
request's path, query string and referer, so a card number in a URL must be masked
there. Proven on a real gunicorn started with the project's config/gunicorn.py."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import requests

from core.observability.redaction import MASK_PAN
from devstack import Process, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "test-logs"
PAN = "4111111111111111"
AMEX = "378282246310005"


@pytest.fixture(scope="module")
def gunicorn():
    """gunicorn on a free port, one worker, the test settings; its access log (stdout) and
    error log (stderr) both land in one file, and neither may hold a card number."""
    port = free_port()
    log = LOGS / f"gunicorn-{port}.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "WEB_CONCURRENCY": "1"}
    base = f"http://127.0.0.1:{port}"
    process = Process("gunicorn", [
        sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py",
        "--bind", f"127.0.0.1:{port}", "config.wsgi:application"],
        log_path=log, env=env, cwd=ROOT)

    def answers(_process) -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.RequestException:  # not listening yet, or the worker still booting
            return False

    process.ready = answers
    process.start(append=False)
    try:
        process.wait_ready(timeout=60)
        yield base, log, log
    finally:
        process.stop(grace=5)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_a_card_number_in_a_url_is_masked_in_gunicorns_access_log(gunicorn):
    base, access, errors = gunicorn
    marker = "access-log-probe"
    url = (f"{base}/healthz?probe={marker}&card={PAN}&spaced=4111+1111+1111+1111"
           f"&escaped=4111%201111%201111%201111&amex={AMEX}")
    response = requests.get(url, headers={"Referer": f"https://app.example/cards/{PAN}"},
                            timeout=5)
    assert response.status_code == 200
    line = wait_until(
        lambda: next((row for row in access.read_text().splitlines()
                      if marker in row and '"GET ' in row), None),
        timeout=15, message="the request's access log line")
    assert "GET /healthz?probe=access-log-probe&card=" in line
    assert line.count(MASK_PAN) == 5, line
    assert PAN not in _digits(line) and AMEX not in _digits(line), line
    assert PAN not in _digits(errors.read_text())


def test_a_card_number_in_the_path_is_masked_in_gunicorns_access_log(gunicorn):
    base, access, _ = gunicorn
    response = requests.get(f"{base}/cards/4111-1111-1111-1111/path-probe", timeout=5)
    assert response.status_code == 404
    line = wait_until(
        lambda: next((row for row in access.read_text().splitlines()
                      if "path-probe" in row and '"GET ' in row), None),
        timeout=15, message="the request's access log line")
    assert f"GET /cards/{MASK_PAN}/path-probe" in line
    assert PAN not in _digits(line)
