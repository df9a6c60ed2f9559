"""A one-time code's delivery budget must make sense, in every environment: above zero
(else every code would fail at its first hiccup) and within the code's lifetime (a code
delivered after it expired is worthless)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
                               **env})


@pytest.mark.parametrize("budget,ttl", [("0", "600"), ("-5", "600"), ("601", "600")])
def test_a_delivery_budget_outside_the_codes_life_is_refused_at_start(budget, ttl):
    result = _check(NOTIFICATION_OTP_DELIVERY_SECONDS=budget, OTP_TTL_SECONDS=ttl)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "NOTIFICATION_OTP_DELIVERY_SECONDS" in result.stderr


def test_a_budget_within_the_codes_life_starts():
    result = _check(NOTIFICATION_OTP_DELIVERY_SECONDS="60", OTP_TTL_SECONDS="600")
    assert result.returncode == 0, result.stderr
