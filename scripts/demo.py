#!/usr/bin/env python3
"""Play the wallet app against a running stack and prove each card ends where it should.

Creates one provisioning request per scenario, prints every state change as it
happens, then a summary and the sandbox's idempotency counters. Exit 1 when a request
misses its expected outcome or the token service saw a side effect twice; exit 2 when
the demo cannot run at all (stack down, no token). Standard library only.

    scripts/demo.py                       # the default scenarios against `make up`
    scripts/demo.py --kill-worker-at 3    # kill -9 the worker mid-run; nothing may be lost
    scripts/demo.py --cards card_green,card_slow

Every run makes its own customers and cards in the sandbox (so the issuer's velocity
rules never see yesterday's runs): an English customer, a Swahili one, and one whose
SIM was swapped an hour ago (the sandbox telco: numbers ending 01), whose push is
refused before any one-time code is sent (an SMS code would reach the swapped SIM). At
the end it reads each customer's SMS inbox, as their phones would, and checks every
outcome was told once, and that the swapped customer got no code and no word of why.
The demo plays the app, so it sees only customer-facing failure codes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import stack  # scripts/ is on sys.path when this file is run as a script

TERMINAL = frozenset({"ineligible", "provisioned", "declined", "failed", "expired", "cancelled"})
# The customers of a run: (role, locale, last two digits of the number: 01 = SIM swapped).
CUSTOMERS = (("main", "en", "10"), ("swahili", "sw", "20"), ("swapped", "en", "01"))
# The cards of a run: card key → (last four: decides the token service's answer, status).
CARDS = {
    "card_green": ("1111", "active"), "card_declined": ("0002", "active"),
    "card_stepup": ("0010", "active"), "card_flaky": ("0028", "active"),
    "card_late": ("0036", "active"), "card_slow": ("0044", "active"),
    "card_blocked": ("0069", "blocked"), "card_expired": ("0077", "expired"),
    "card_lifecycle": ("4242", "active"),
}
DEVICE_OS = {"google_pay": "Android 15", "samsung_pay": "Android 15", "apple_pay": "iOS 18.1"}
ARROW = "→" if (sys.stdout.encoding or "").lower().startswith("utf") else "->"


# --- scenarios --------------------------------------------------------------------------

# Called once when a request first shows `state` (see Scenario.on_state).
Action = Callable[["Demo", "Tracked"], None]


@dataclass(frozen=True)
class Scenario:
    """One card pushed into one wallet, and the outcome the demo insists on.

    Later outcomes plug in without touching the loop:
    - step-up: `on_state={"step_up_required": verify_with_sms_code}`, an action that reads
      the one-time code from the sandbox inbox (`demo.sandbox_get("/sandbox/messages?to=...")`)
      and posts it to `.../verify`; expected_state "provisioned".
    - token lifecycle: `on_state={"provisioned": suspend_token}` posting to
      `/api/v1/tokens/{id}/suspend`, with expected_token_state "suspended"; the demo keeps
      polling a terminal request until its token reaches that state.
    """

    card_id: str
    wallet: str
    expected_state: str
    story: str
    expected_failure: str | None = None
    expected_token_state: str | None = None
    default: bool = True
    on_state: Mapping[str, Action] = field(default_factory=dict)
    customer: str = "main"
    label: str = ""
    # No one-time code may reach this customer's phone, and no message may name the
    # control that refused them.
    refused_without_code: bool = False

    @property
    def name(self) -> str:
        return self.label or self.card_id


def verify_with_sms_code(demo: "Demo", tracked: "Tracked") -> None:
    """Read the one-time code from the customer's SMS inbox, as the phone would, and enter it."""
    customer = demo.customers[tracked.scenario.customer]
    deadline = time.monotonic() + 20
    code = None
    while code is None and time.monotonic() < deadline:
        inbox = demo.sandbox_get("/sandbox/messages?to=" + urllib.parse.quote(customer.msisdn))
        for message in reversed(inbox.get("messages", [])):
            found = next((word.strip(".,") for word in message["body"].split()
                          if word.strip(".,").isdigit() and len(word.strip(".,")) == 6), None)
            if found:
                code = found
                break
        if code is None:
            time.sleep(0.2)
    if code is None:
        tracked.error = "no one-time code arrived by SMS"
        return
    demo.say(f"{tracked.scenario.name:<14} SMS to {customer.msisdn}: code {code}; entering it")
    answer = demo.api("POST", f"/api/v1/provisioning-requests/{tracked.request_id}/verify",
                      body={"otp": code}, token=customer.token)
    if answer.status != 200:
        tracked.error = f"verify answered {answer.status}: {short(answer.body)}"


def token_lifecycle(demo: "Demo", tracked: "Tracked") -> None:
    """Suspend, resume and delete the new token from the app, waiting for each to land."""
    customer = demo.customers[tracked.scenario.customer]
    token_id = (tracked.resource.get("token") or {}).get("id")
    for operation, expected in (("suspend", "suspended"), ("resume", "active"),
                                ("delete", "deleted")):
        answer = demo.api("POST", f"/api/v1/tokens/{token_id}/{operation}", token=customer.token)
        if answer.status != 202:
            tracked.error = f"{operation} answered {answer.status}: {short(answer.body)}"
            return
        deadline = time.monotonic() + 20
        state = None
        while state != expected and time.monotonic() < deadline:
            time.sleep(0.2)
            state = demo.api("GET", f"/api/v1/tokens/{token_id}", token=customer.token).body.get(
                "state")
        demo.say(f"{tracked.scenario.name:<14} token {operation} {ARROW} {state}")
        if state != expected:
            tracked.error = f"token did not become {expected} after {operation}"
            return
    tracked.resource.setdefault("token", {})["state"] = "deleted"


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("card_green", "google_pay", "provisioned", "green: token active at once"),
    # Apple Pay needs the device's certificates and nonce; Samsung Pay shows the red path
    # just as well.
    Scenario("card_declined", "samsung_pay", "declined", "red: the token service declines"),
    Scenario("card_flaky", "google_pay", "provisioned", "token service 503 twice, then green"),
    Scenario("card_late", "google_pay", "provisioned", "pending; green by webhook ~1 s later"),
    Scenario("card_blocked", "google_pay", "ineligible", "issuer: the card is blocked"),
    Scenario("card_stepup", "google_pay", "provisioned",
             "yellow: one-time code read from the SMS inbox and entered",
             on_state={"step_up_required": verify_with_sms_code}),
    Scenario("card_lifecycle", "samsung_pay", "provisioned",
             "green, then the app suspends, resumes and deletes the token",
             expected_token_state="deleted", on_state={"provisioned": token_lifecycle}),
    Scenario("card_green", "google_pay", "provisioned",
             "Swahili customer: every message in Swahili", customer="swahili",
             label="card_green_sw"),
    Scenario("card_green", "google_pay", "ineligible",
             "SIM swapped an hour ago: refused before any code goes to the swapped SIM",
             customer="swapped", label="card_green_swap", expected_failure="declined_by_issuer",
             refused_without_code=True),
    Scenario("card_expired", "google_pay", "ineligible", "issuer: the card has expired",
             default=False),
    Scenario("card_slow", "google_pay", "failed", "token service never answers in time",
             expected_failure="try_again_later"),
)


# --- HTTP -------------------------------------------------------------------------------


class DemoError(Exception):
    """The demo cannot go on (exit 2)."""


@dataclass
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


def http(method: str, url: str, *, body: Any = None, headers: Mapping[str, str] | None = None,
         timeout: float = 10.0) -> Response:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw, answer_headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        status, raw, answer_headers = error.code, error.read(), error.headers
    except (urllib.error.URLError, OSError) as error:
        raise DemoError(f"{method} {url}: {getattr(error, 'reason', error)}") from None
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return Response(status, parsed, dict(answer_headers.items()))


# --- the run ----------------------------------------------------------------------------


@dataclass
class Tracked:
    scenario: Scenario
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
            headers: Mapping[str, str] | None = None, token: str | None = None) -> Response:
        """Call the API as the wallet app; waits out a 429 as a well-behaved client would."""
        all_headers = {"Authorization": f"Bearer {token or self.token}", **(headers or {})}
        while True:
            answer = http(method, f"{self.api_url}{path}", body=body, headers=all_headers)
            if answer.status != 429:
                return answer
            wait = float(answer.headers.get("Retry-After") or 1)
            if not self.throttled_noted:
                self.say(f"the API throttles this customer (429); waiting {wait:.0f} s as told")
                self.throttled_noted = True
            time.sleep(min(wait, 5.0))

    def sandbox_get(self, path: str) -> Any:
        answer = http("GET", f"{self.sandbox_url}{path}")
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

    def __init__(self, demo: Demo, kill_at: float) -> None:
        self.demo = demo
        self.kill_at = kill_at
        self.ok = True
        self.thread = threading.Thread(target=self.run, name="chaos", daemon=True)

    def run(self) -> None:
        self.sleep_until(self.kill_at)
        self.ok = self.stack("kill-worker")
        self.sleep_until(self.kill_at + 2.0)
        self.ok = self.stack("restart-worker") and self.ok

    def sleep_until(self, second: float) -> None:
        # The one deliberate wait of the demo: the scenario is "a worker dies at T".
        delay = self.demo.started + second - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def stack(self, command: str) -> bool:
        self.demo.say(f"chaos: scripts/stack.py {command}")
        result = subprocess.run([sys.executable, str(stack.REPO / "scripts" / "stack.py"), command],
                                capture_output=True, text=True, timeout=180)
        for line in (result.stdout + result.stderr).splitlines():
            self.demo.say(f"chaos:   {line}")
        return result.returncode == 0


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


# --- main -------------------------------------------------------------------------------


def mint_token(stack_env: Mapping[str, str] | None, customer_id: str) -> str:
    env = stack.child_environment(stack_env) if stack_env else dict(os.environ)
    # The stack's env names its settings; without one, the only settings that can mint
    # a token at all are the dev ones (production has no signing key), so say so.
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    result = subprocess.run(
        [stack.venv_python(), "manage.py", "mint_token", customer_id],
        cwd=stack.REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    token = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or token.count(".") != 2:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DemoError(f"manage.py mint_token {customer_id} failed: {detail}")
    return token


def choose_scenarios(cards: str | None) -> list[Scenario]:
    if not cards:
        return [s for s in SCENARIOS if s.default]
    by_card = {s.name: s for s in SCENARIOS}
    wanted = [card.strip() for card in cards.split(",") if card.strip()]
    unknown = [card for card in wanted if card not in by_card]
    if unknown:
        raise DemoError(f"no scenario for {', '.join(unknown)}; known: {', '.join(by_card)}")
    return [by_card[card] for card in wanted]


def luhn_pan(last4: str) -> str:
    """A 16-digit Visa-like PAN ending in `last4` that passes the Luhn check."""
    import random

    body = "4" + "".join(random.choice("0123456789") for _ in range(10))
    for free in "0123456789":
        digits = body + free + last4
        total = sum((int(d) * 2 - 9 if int(d) * 2 > 9 else int(d) * 2) if i % 2 else int(d)
                    for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return digits
    raise DemoError("no Luhn-valid PAN")  # unreachable: one free digit always fixes the sum


def setup_customers(demo: Demo, stack_env, run_id: str, scenarios: list[Scenario]) -> None:
    """This run's customers (token, language) and their cards in the sandbox issuer."""
    import random

    roles = {scenario.customer for scenario in scenarios}
    for role, locale, ending in CUSTOMERS:
        if role not in roles:
            continue
        customer = Customer(role, f"demo_{run_id}_{role}",
                            "+2547" + "".join(random.choice("0123456789") for _ in range(6))
                            + ending, locale)
        customer.token = mint_token(stack_env, customer.customer_id)
        if locale != "en":
            answer = demo.api("PATCH", "/api/v1/me/preferences", body={"locale": locale},
                              token=customer.token)
            if answer.status != 200:
                raise DemoError(f"setting {role}'s language answered {answer.status}")
        demo.customers[role] = customer
    for scenario in scenarios:
        customer = demo.customers[scenario.customer]
        if scenario.card_id in customer.cards:
            continue
        last4, status = CARDS[scenario.card_id]
        answer = http("POST", f"{demo.sandbox_url}/sandbox/cards", body={
            "customer_id": customer.customer_id, "pan": luhn_pan(last4),
            "expiry": "01/24" if status == "expired" else "12/30", "status": status,
            "msisdn": customer.msisdn, "cardholder_name": "DEMO CUSTOMER", "kyc_tier": "tier_2"})
        if answer.status != 201:
            raise DemoError(f"sandbox card for {scenario.name}: {answer.status} {answer.body}")
        customer.cards[scenario.card_id] = answer.body["card_id"]


NOTIFIED = {"provisioned", "declined", "ineligible", "failed", "expired"}


def print_inboxes(demo: Demo, tracked: list[Tracked], stats_before) -> list[str]:
    """Each customer's SMS inbox, as their phone shows it; every outcome told exactly once."""
    def inbox(customer: Customer) -> list[dict[str, Any]]:
        path = "/sandbox/messages?to=" + urllib.parse.quote(customer.msisdn)
        return demo.sandbox_get(path).get("messages", [])

    def missing() -> list[str]:
        """Outcomes not (yet) told: messages are sent after commit, a moment behind."""
        absent = []
        for customer in demo.customers.values():
            bodies = [m["body"] for m in inbox(customer)
                      if not any(word.strip(".,").isdigit() and len(word.strip(".,")) == 6
                                 for word in m["body"].split())]
            for item in tracked:
                if item.scenario.customer != customer.role or item.state not in NOTIFIED:
                    continue
                last4 = CARDS[item.scenario.card_id][0]
                if not any(last4 in body for body in bodies):
                    absent.append(f"{item.scenario.name}: no message about card {last4}")
        return absent

    deadline = time.monotonic() + 30
    problems = missing()
    while problems and time.monotonic() < deadline:
        time.sleep(0.5)
        problems = missing()
    print("messages (sandbox inbox, as each phone shows them):")
    for customer in demo.customers.values():
        print(f"  {customer.msisdn} ({customer.locale}):")
        for message in inbox(customer):
            print(f"    [{message['channel']}] {short(message['body'], 110)}")
    for item in tracked:
        if not item.scenario.refused_without_code:
            continue
        for message in inbox(demo.customers[item.scenario.customer]):
            words = [word.strip(".,") for word in message["body"].split()]
            if any(word.isdigit() and len(word) == 6 for word in words):
                problems.append(f"{item.scenario.name}: a one-time code reached the phone")
            if {word.lower() for word in words} & {"sim", "swap", "swapped"}:
                problems.append(f"{item.scenario.name}: a message names the control")
    stats_after = demo.sandbox_get("/sandbox/stats")
    duplicated = counter_delta(stats_after.get("messages", {}).get("duplicate_references", 0),
                               stats_before.get("messages", {}).get("duplicate_references", 0))
    print(f"  duplicate messages    {duplicated}")
    print()
    if duplicated:
        problems.append(f"{duplicated} message(s) delivered twice")
    return problems


def run(args: argparse.Namespace) -> int:
    scenarios = choose_scenarios(args.cards)
    stack_env = stack.load_stack_env()
    for name, url in (("sandbox", f"{args.sandbox_url}/sandbox/health"),
                      ("web", f"{args.api_url}/readyz")):
        status, body = stack.http_status(url)
        if status != 200:
            raise DemoError(f"{name} is not ready at {url} ({status or 'no answer'}"
                            f"{': ' + body.strip() if body else ''}); start it with `make up`")
    if args.kill_worker_at is not None and stack.running_pid("worker") is None:
        raise DemoError("--kill-worker-at needs the worker started by scripts/stack.py up")

    run_id = uuid.uuid4().hex[:8]
    demo = Demo(args.api_url, args.sandbox_url, "", args.interval)
    setup_customers(demo, stack_env, run_id, scenarios)
    stats_before = demo.sandbox_get("/sandbox/stats")
    print(f"demo run {run_id}: {len(scenarios)} request(s), deadline {args.deadline:.0f} s")
    for customer in demo.customers.values():
        print(f"  customer {customer.customer_id:<22} {customer.msisdn}  locale {customer.locale}")
    print(flush=True)
    for scenario in scenarios:
        print(f"  {scenario.name:<16} {scenario.wallet:<12} "
              f"expect {scenario.expected_state:<12} {scenario.story}")
    print(flush=True)

    demo.started = time.monotonic()
    chaos = None
    if args.kill_worker_at is not None:
        chaos = Chaos(demo, args.kill_worker_at)
        chaos.thread.start()
    tracked = [Tracked(scenario) for scenario in scenarios]
    for item in tracked:
        demo.create(item, run_id)

    deadline = demo.started + args.deadline
    while time.monotonic() < deadline:
        pending = [item for item in tracked if not item.done]
        if not pending:
            break
        tick = time.monotonic()
        demo.poll(pending)
        time.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
    if chaos:
        # Never leave the stack without a worker, even when every request finished early.
        until = demo.started + args.kill_worker_at + 120
        chaos.thread.join(timeout=max(0.0, until - time.monotonic()))

    print_summary(tracked)
    stats_after = demo.sandbox_get("/sandbox/stats")
    duplicates = print_sandbox_stats(stats_before, stats_after, tracked)
    message_problems = print_inboxes(demo, tracked, stats_before)

    problems = [f"{item.scenario.name}: expected {item.scenario.expected_state}, "
                f"got {item.state or item.error}" for item in tracked if not item.ok]
    if duplicates:
        problems.append(f"the token service saw {duplicates} duplicate side effect(s)")
    problems.extend(message_problems)
    if chaos and (chaos.thread.is_alive() or not chaos.ok):
        problems.append("the worker could not be killed and restarted as asked")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    swapped = any(item.scenario.refused_without_code for item in tracked)
    print(f"all {len(tracked)} request(s) reached their expected state; no duplicate effects; "
          "every outcome told to its customer once"
          + ("; no one-time code reached the SIM-swapped phone" if swapped else "")
          + (f" (worker killed at {args.kill_worker_at:g} s)" if chaos else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/demo.py",
        description="Play the wallet app against the running stack (`make up` first).",
    )
    every = ", ".join(s.name for s in SCENARIOS)
    default = ", ".join(s.name for s in SCENARIOS if s.default)
    parser.add_argument("--cards", help=f"comma-separated subset of: {every} (default: {default})")
    parser.add_argument("--kill-worker-at", type=float, metavar="SECONDS",
                        help="kill -9 the worker this many seconds in, restart it 2 s later")
    parser.add_argument("--deadline", type=float, default=60.0,
                        help="seconds for every request to finish (default 60)")
    parser.add_argument("--interval", type=float, default=0.6,
                        help="seconds between polls (default 0.6; stays under the API's "
                             "default 120/min customer throttle)")
    parser.add_argument("--api-url", default=stack.WEB_URL)
    parser.add_argument("--sandbox-url", default=stack.SANDBOX_URL)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
