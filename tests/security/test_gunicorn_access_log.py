"""gunicorn's own logs go through the redaction filter: the access log line quotes the
request's path, query string and referer, so a card number in a URL must be masked
there. Proven on a real gunicorn started with the project's config/gunicorn.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from config.redaction import MASK_PAN
from tests.live import _free_port, _log_tail, _stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "test-logs"
PAN = "4111111111111111"
AMEX = "378282246310005"


@pytest.fixture(scope="module")
def gunicorn():
    """gunicorn on a free port, one worker, the test settings; stdout (the access log) and
    stderr (the error log) each to a file of their own."""
    LOGS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    access, errors = LOGS / f"gunicorn-access-{port}.log", LOGS / f"gunicorn-error-{port}.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1"}
    with open(access, "w") as out, open(errors, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py",
             # Its own port, and no control socket: the default path is one per user,
             # shared with any other gunicorn on this machine.
             "--bind", f"127.0.0.1:{port}", "--no-control-socket", "config.wsgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def answers():
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited {process.returncode}:\n{_log_tail(errors)}")
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.RequestException:  # not listening yet, or the worker still booting
            return False

    try:
        wait_until(answers, timeout=60, message="gunicorn to answer /healthz")
        yield base, access, errors
    finally:
        _stop(process)


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
        lambda: next((row for row in access.read_text().splitlines() if marker in row), None),
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
        lambda: next((row for row in access.read_text().splitlines() if "path-probe" in row),
                     None),
        timeout=15, message="the request's access log line")
    assert f"GET /cards/{MASK_PAN}/path-probe" in line
    assert PAN not in _digits(line)
