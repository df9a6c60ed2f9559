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


def test_a_stop_does_not_sit_out_a_call_held_back_on_purpose(keys_file, wait):
    """An injected hang (or 0044's payout) holds its answer for SANDBOX_SLOW_SECONDS; its
    caller gave up long ago, so SIGTERM must not wait that long for it."""
    import threading
    import time

    port = free_port()
    env = {**os.environ, "DEV_KEYS_FILE": str(keys_file), "SANDBOX_PORT": str(port),
           "SANDBOX_SLOW_SECONDS": "60"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            try:
                return httpx.get(f"{base}/sandbox/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait(healthy, timeout=20)
        httpx.post(f"{base}/sandbox/faults", json={"system": "telco", "timeout_rate": 1.0})

        def held_call():
            try:
                httpx.get(f"{base}/telco/v1/subscribers/254700000010/sim-swap", timeout=90)
            except httpx.TransportError:
                pass  # the sandbox going away is the point

        threading.Thread(target=held_call, daemon=True).start()
        wait(lambda: httpx.get(f"{base}/sandbox/stats").json()["faults"]["injected_timeouts"]
             .get("telco") == 1, timeout=10)
        started = time.monotonic()
        process.terminate()
        process.wait(timeout=20)
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
