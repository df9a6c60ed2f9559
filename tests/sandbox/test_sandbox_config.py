"""Sandbox configuration from the environment and the dev key file."""

from __future__ import annotations

import json

from sandbox.config import SandboxConfig

pytestmark = []


def test_a_key_file_from_before_visa_direct_still_starts_the_sandbox(tmp_path, keys):
    old = {k: v for k, v in keys.items() if k not in ("mpesa_api_key", "screening_api_key")}
    path = tmp_path / "old-dev-keys.json"
    path.write_text(json.dumps(old))

    config = SandboxConfig.from_env({"DEV_KEYS_FILE": str(path)})

    upgraded = json.loads(path.read_text())
    assert config.credentials.mpesa_api_key == upgraded["mpesa_api_key"]
    assert config.credentials.screening_api_key == upgraded["screening_api_key"]
    assert upgraded["token_service_shared_secret"] == keys["token_service_shared_secret"]


def test_the_pending_payout_delay_is_configurable(keys_file):
    config = SandboxConfig.from_env(
        {"DEV_KEYS_FILE": str(keys_file), "SANDBOX_PAYOUT_PENDING_SECONDS": "2.5"}
    )

    assert config.payout_pending_seconds == 2.5
