"""`python -m sandbox` serves the app; `sandbox.app:app` is built from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from devstack import free_port

pytestmark = []

ROOT = Path(__file__).resolve().parents[2]


def test_module_entry_point_serves_health_and_seeded_cards(keys_file, wait):
    port = free_port()
    env = {**os.environ, "DEV_KEYS_FILE": str(keys_file), "SANDBOX_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def healthy():
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1).status_code
                    == 200
                )
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                return False

        wait(healthy, timeout=20)
        cards = httpx.get(
            f"http://127.0.0.1:{port}/sandbox/cards", params={"customer_id": "cust_demo"}
        )
        assert len(cards.json()["cards"]) == 8
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_module_attribute_app_is_built_from_the_environment(keys_file, monkeypatch):
    monkeypatch.setenv("DEV_KEYS_FILE", str(keys_file))
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "7")
    import sandbox.app as module

    monkeypatch.delitem(module.__dict__, "app", raising=False)

    assert module.app.state.sandbox.config.slow_seconds == 7.0
