"""The machinery of scripts/demo.py: the wallet app's calls, each request followed as it
moves, the chaos thread that kills the worker, and the summary and counters printed at
the end. The scenarios themselves (cards, customers, expected outcomes) are in demo.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack import Stack, http
from devstack.layout import REPO, Layout
from devstack.sandbox import SandboxClient

TERMINAL = frozenset({"ineligible", "provisioned", "declined", "failed", "expired", "cancelled"})
DEVICE_OS = {"google_pay": "Android 15", "samsung_pay": "Android 15", "apple_pay": "iOS 18.1"}
ARROW = "→" if (sys.stdout.encoding or "").lower().startswith("utf") else "->"


class DemoError(Exception):
    """The demo cannot go on (exit 2)."""


# --- the run ----------------------------------------------------------------------------


@dataclass
class Tracked:
    scenario: Any  # a demo.Scenario
    request_id: str | None = None
    state: str | None = None
    resource: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    finished_at: float | None = None
    error: str | None = None
    actions_run: set[str] = field(default_factory=set)
    states_seen: list[str] = field(default_factory=list)

    @property
    def token_state(self) -> str | None:
        token = self.resource.get("token") or {}
        return token.get("state")

    @property
    def failure_code(self) -> str | None:
        failure = self.resource.get("failure") or {}
        return failure.get("code")

    @property
    def done(self) -> bool:
        if self.error:
            return True
        wanted_token = self.scenario.expected_token_state
        return self.state in TERMINAL and (wanted_token is None or self.token_state == wanted_token)

    @property
    def ok(self) -> bool:
        s = self.scenario
        return (
            self.error is None
            and self.state == s.expected_state
            and (s.expected_failure is None or self.failure_code == s.expected_failure)
            and (s.expected_token_state is None or self.token_state == s.expected_token_state)
        )


@dataclass
class Customer:
    role: str
    customer_id: str
    msisdn: str
    locale: str
    token: str = ""
    cards: dict[str, str] = field(default_factory=dict)  # card key → sandbox card id


class Demo:
    def __init__(self, api_url: str, sandbox_url: str, token: str, interval: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.sandbox_url = sandbox_url.rstrip("/")
        self.sandbox = SandboxClient(self.sandbox_url)
        self.token = token
        self.interval = interval
        self.customers: dict[str, Customer] = {}
        self.started = time.monotonic()
        self.print_lock = threading.Lock()
        self.throttled_noted = False

    def say(self, message: str) -> None:
        with self.print_lock:
            print(f"{time.monotonic() - self.started:7.2f}s  {message}", flush=True)

    def api(self, method: str, path: str, body: Any = None,
            headers: Mapping[str, str] | None = None, token: str | None = None
            ) -> http.Response:
        """Call the API as the wallet app; waits out a 429 as a well-behaved client would."""
        all_headers = {"Authorization": f"Bearer {token or self.token}", **(headers or {})}
        while True:
            try:
                answer = http.request(method, f"{self.api_url}{path}", body=body,
                                      headers=all_headers)
            except http.Unreachable as error:
                raise DemoError(str(error)) from None
            if answer.status != 429:
                return answer
            wait = float(answer.headers.get("Retry-After") or 1)
            if not self.throttled_noted:
                self.say(f"the API throttles this customer (429); waiting {wait:.0f} s as told")
                self.throttled_noted = True
            time.sleep(min(wait, 5.0))

    def sandbox_get(self, path: str) -> Any:
        try:
            answer = http.request("GET", f"{self.sandbox_url}{path}")
        except http.Unreachable as error:
            raise DemoError(str(error)) from None
        if answer.status != 200:
            raise DemoError(f"sandbox GET {path}: {answer.status} {answer.body}")
        return answer.body

    def create(self, tracked: Tracked, run_id: str) -> None:
        scenario = tracked.scenario
        customer = self.customers[scenario.customer]
        body = {
            "card_id": customer.cards[scenario.card_id],
            "wallet": scenario.wallet,
            # A device id per run: a device that already holds the card could be refused.
            "device": {"id": f"demo-{run_id}-{scenario.name}", "type": "phone",
                       "os": DEVICE_OS[scenario.wallet]},
        }
        tracked.created_at = time.monotonic()
        answer = self.api("POST", "/api/v1/provisioning-requests", body=body,
                          headers={"Idempotency-Key": str(uuid.uuid4())}, token=customer.token)
        if answer.status != 202 or not isinstance(answer.body, dict):
            tracked.error = f"create answered {answer.status}: {short(answer.body)}"
            tracked.finished_at = time.monotonic()
            self.say(f"{scenario.name:<14} create failed: {tracked.error}")
            return
        tracked.request_id = answer.body["id"]
        self.say(f"{scenario.name:<14} created for {scenario.wallet} "
                 f"({tracked.request_id}) {ARROW} {answer.body.get('state')}")
        self.observe(tracked, answer.body)

    def observe(self, tracked: Tracked, resource: dict[str, Any]) -> None:
        tracked.resource = resource
        new_state = resource.get("state")
        if new_state != tracked.state:
            tracked.states_seen.append(new_state)
            if tracked.state is not None:
                extra = ""
                if new_state in TERMINAL and tracked.failure_code:
                    extra = f"  ({tracked.failure_code})"
                card = tracked.scenario.name
                self.say(f"{card:<14} {tracked.state} {ARROW} {new_state}{extra}")
            tracked.state = new_state
            action = tracked.scenario.on_state.get(new_state)
            if action and new_state not in tracked.actions_run:
                tracked.actions_run.add(new_state)
                action(self, tracked)
        if tracked.done and tracked.finished_at is None:
            tracked.finished_at = time.monotonic()

    def poll(self, pending: list[Tracked]) -> None:
        """One tick: one list call for all, detail calls only for what the page missed.

        The API throttles each customer (120/min by default), so polling five
        requests one by one at a short interval would be refused.
        """
        seen: dict[str, dict[str, Any]] = {}
        for role in {tracked.scenario.customer for tracked in pending}:
            answer = self.api("GET", "/api/v1/provisioning-requests?page_size=100",
                              token=self.customers[role].token)
            if answer.status == 200 and isinstance(answer.body, dict):
                seen.update({item["id"]: item for item in answer.body.get("results", [])})
        for tracked in pending:
            resource = seen.get(tracked.request_id)
            if resource is None:
                detail = self.api("GET", f"/api/v1/provisioning-requests/{tracked.request_id}",
                                  token=self.customers[tracked.scenario.customer].token)
                if detail.status != 200:
                    self.say(f"{tracked.scenario.name:<14} read answered {detail.status}")
                    continue
                resource = detail.body
            self.observe(tracked, resource)


class Chaos:
    """Kill -9 the worker at a given second and start it again two seconds later."""

    def __init__(self, demo: Demo, kill_at: float, layout: Layout) -> None:
        self.demo = demo
        self.kill_at = kill_at
        self.ok = True
        self.thread = threading.Thread(target=self.run, name="chaos", daemon=True)
        self.stack = Stack(layout, say=lambda line: demo.say(f"chaos:   [stack] {line}"))

    def run(self) -> None:
        self.sleep_until(self.kill_at)
        self.demo.say("chaos: kill-worker")
        self.ok = self.stack.kill_worker()
        self.sleep_until(self.kill_at + 2.0)
        self.demo.say("chaos: restart-worker")
        self.ok = self.stack.restart_worker() and self.ok

    def sleep_until(self, second: float) -> None:
        # The one deliberate wait of the demo: the scenario is "a worker dies at T".
        delay = self.demo.started + second - time.monotonic()
        if delay > 0:
            time.sleep(delay)


# --- outputs ----------------------------------------------------------------------------


def short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_summary(tracked: list[Tracked]) -> None:
    header = ("card", "wallet", "expected", "final state", "failure code", "token", "seconds", "")
    rows = []
    for item in tracked:
        seconds = (item.finished_at or time.monotonic()) - item.created_at
        expected = item.scenario.expected_state
        if item.scenario.expected_failure:
            expected += f" ({item.scenario.expected_failure})"
        rows.append((
            item.scenario.name,
            item.scenario.wallet,
            expected,
            item.state or ("create failed" if item.error else "-"),
            item.failure_code or "-",
            item.token_state or "-",
            f"{seconds:.1f}" + ("" if item.done else " (timed out)"),
            "ok" if item.ok else "FAIL",
        ))
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    print()
    for row in (header, *rows):
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    print()


def token_service_calls(stats: Mapping[str, Any]) -> int:
    return sum((stats.get("calls", {}).get("token_service") or {}).values())


def counter_delta(after: int, before: int) -> int:
    # A sandbox restarted (or reset) mid-run starts from zero again.
    return after - before if after >= before else after


def print_sandbox_stats(before: Mapping[str, Any], after: Mapping[str, Any],
                        tracked: list[Tracked]) -> int:
    """Print this run's share of the sandbox counters; return duplicate effects."""
    idem_before, idem_after = before.get("idempotency", {}), after.get("idempotency", {})
    duplicates = counter_delta(idem_after.get("duplicate_effects", 0),
                               idem_before.get("duplicate_effects", 0))
    # Our keys are the request ids (and "<id>:..." for follow-up calls).
    ours = [request.request_id for request in tracked if request.request_id]
    keys = {
        key: entry for key, entry in (idem_after.get("by_key") or {}).items()
        if any(key == rid or key.startswith(f"{rid}:") for rid in ours)
    }
    calls = counter_delta(token_service_calls(after), token_service_calls(before))
    replays = counter_delta(idem_after.get("replays", 0), idem_before.get("replays", 0))
    print("sandbox (this run):")
    print(f"  token service calls   {calls}")
    print(f"  idempotency keys      {len(keys)} "
          f"(calls {sum(e.get('calls', 0) for e in keys.values())}, "
          f"replays {sum(e.get('replays', 0) for e in keys.values())})")
    print(f"  replays, all keys     {replays}")
    print(f"  duplicate effects     {duplicates}")
    print()
    return duplicates


def manage(stack: Stack, *args: str, extra_env: Mapping[str, str] | None = None,
           ) -> subprocess.CompletedProcess:
    """`manage.py ARGS` with the running stack's settings (its database, its keys)."""
    env = stack.child_env(stack.env() or {})
    # The stack's env names its settings; without one, the only settings that can mint
    # a token at all are the dev ones (production has no signing key), so say so.
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    env.update(extra_env or {})
    return subprocess.run([stack.python, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def failure_detail(result: subprocess.CompletedProcess) -> str:
    return (result.stderr.strip().splitlines() or ["no output"])[-1]


def mint_tokens(stack: Stack, customer_ids: list[str]) -> dict[str, str]:
    """A bearer token for each customer id, minted with the running stack's settings in
    one `manage.py mint_token` (each run of manage.py costs a Django start-up)."""
    result = manage(stack, "mint_token", *customer_ids)
    tokens = result.stdout.strip().splitlines()[-len(customer_ids):] if result.stdout else []
    if (result.returncode != 0 or len(tokens) != len(customer_ids)
            or any(token.count(".") != 2 for token in tokens)):
        raise DemoError(f"manage.py mint_token {' '.join(customer_ids)} failed: "
                        f"{failure_detail(result)}")
    return dict(zip(customer_ids, tokens, strict=True))


def mint_token(stack: Stack, customer_id: str) -> str:
    """A bearer token for `customer_id`, minted with the running stack's settings."""
    return mint_tokens(stack, [customer_id])[customer_id]
