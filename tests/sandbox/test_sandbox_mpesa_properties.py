"""Money conservation in the M-Pesa stand-in under random sequences of holds, captures,
releases and retries (same key, new key), checked against a model of the ledger."""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core import dev_keys
from sandbox.app import create_app
from sandbox.config import Credentials, SandboxConfig

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

OPENING = 1_000_000


class LedgerMachine(RuleBasedStateMachine):
    """Drives one sandbox; the model says what each answer must be."""

    def __init__(self) -> None:
        super().__init__()
        self.model_balance = OPENING
        self.model_holds: dict[str, dict[str, Any]] = {}  # hold_id -> {total, status}
        self.hold_keys: dict[str, tuple[dict[str, Any], int, str | None]] = {}
        self.settle_keys: dict[str, tuple[str, str]] = {}  # key -> (operation, hold_id)
        self.counter = 0

    @initialize()
    def start(self) -> None:
        keys = _keys()
        self.api_key = keys["mpesa_api_key"]
        config = SandboxConfig(
            credentials=Credentials.from_keys(keys), seed_cards=False, slow_seconds=0.0
        )
        self.client = TestClient(create_app(config)).__enter__()
        response = self.client.post(
            "/sandbox/mpesa/accounts", json={"customer_id": "c1", "balance": OPENING}
        )
        assert response.status_code == 200

    def teardown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.__exit__(None, None, None)

    def _post(self, path: str, body: dict[str, Any], key: str) -> Any:
        return self.client.post(
            f"/mpesa{path}",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": key},
        )

    @property
    def model_held(self) -> int:
        return sum(h["total"] for h in self.model_holds.values() if h["status"] == "held")

    @rule(amount=st.integers(1, 400_000), fee=st.integers(0, 5_000))
    def hold_new(self, amount: int, fee: int) -> None:
        self.counter += 1
        key = f"t{self.counter}:hold"
        body = {"customer_id": "c1", "amount": amount, "fee": fee, "currency": "KES",
                "reference": f"t{self.counter}"}
        response = self._post("/v1/holds", body, key)
        if amount + fee <= self.model_balance - self.model_held:
            assert response.status_code == 201, response.text
            hold_id = response.json()["hold_id"]
            self.model_holds[hold_id] = {"total": amount + fee, "status": "held"}
            self.hold_keys[key] = (body, 201, hold_id)
        else:
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "insufficient_funds"
            self.hold_keys[key] = (body, 422, None)

    @rule(data=st.data())
    def retry_hold(self, data: st.DataObject) -> None:
        if not self.hold_keys:
            return
        key = data.draw(st.sampled_from(sorted(self.hold_keys)))
        body, status, hold_id = self.hold_keys[key]
        response = self._post("/v1/holds", body, key)
        assert response.status_code == status
        assert response.headers.get("Idempotent-Replayed") == "true"
        if hold_id is not None:
            assert response.json()["hold_id"] == hold_id

    @rule(data=st.data(), operation=st.sampled_from(["capture", "release"]), new_key=st.booleans())
    def settle(self, data: st.DataObject, operation: str, new_key: bool) -> None:
        if not self.model_holds:
            return
        hold_id = data.draw(st.sampled_from(sorted(self.model_holds)))
        self.counter += 1
        key = f"{hold_id}:{operation}:{self.counter if new_key else 0}"
        if key in self.settle_keys and self.settle_keys[key] != (operation, hold_id):
            return
        response = self._post(f"/v1/holds/{hold_id}/{operation}", {}, key)
        hold = self.model_holds[hold_id]
        done = {"capture": "captured", "release": "released"}[operation]
        if hold["status"] == "held":
            assert response.status_code == 200, response.text
            hold["status"] = done
            if operation == "capture":
                self.model_balance -= hold["total"]
        elif hold["status"] == done:
            assert response.status_code == 200, response.text
            assert response.headers.get("Idempotent-Replayed") == "true"
        else:
            assert response.status_code == 409, response.text
        self.settle_keys.setdefault(key, (operation, hold_id))

    @invariant()
    def ledger_matches_the_model(self) -> None:
        if not hasattr(self, "client"):
            return
        account = self.client.get("/sandbox/mpesa/accounts/c1").json()
        assert account["balance"] == self.model_balance
        assert account["held"] == self.model_held
        assert account["available"] >= 0
        ledger = self.client.get("/sandbox/stats").json()["ledger"]
        assert ledger["duplicate_effects"] == 0
        assert ledger["conservation"]["holds_settled_more_than_once"] == []
        assert ledger["conservation"]["accounts_out_of_balance"] == []
        statuses = [h["status"] for h in self.model_holds.values()]
        assert ledger["holds"] == {
            "open": statuses.count("held"),
            "captured": statuses.count("captured"),
            "released": statuses.count("released"),
        }


@lru_cache(maxsize=1)
def _keys() -> dict[str, Any]:
    return dev_keys.generate()  # once per run: RSA key generation is slow


LedgerMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerConservesMoney = LedgerMachine.TestCase
