#!/usr/bin/env python3
"""Play the wallet app against a running stack and prove each card ends where it should.

Creates one provisioning request per scenario and, after them, one Visa Direct transfer
per transfer scenario (demo_transfers.py), prints every state change as it happens, then
summaries and the sandbox's counters. Exit 1 when a request or transfer misses its
expected outcome, money was not conserved on an M-Pesa balance, or the sandbox saw a
side effect twice; exit 2 when the demo cannot run at all (stack down, no token).
Standard library only.

    scripts/demo.py                       # the default scenarios against `make up`
    scripts/demo.py --kill-worker-at 3    # kill -9 the worker mid-run; nothing may be lost
    scripts/demo.py --cards card_green,card_slow
    scripts/demo.py --cards none --transfers send_review,send_declined

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
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: devstack

from demo_run import (  # noqa: E402  (scripts/ is on sys.path: this file runs as a script)
    ARROW,
    Chaos,
    Customer,
    Demo,
    DemoError,
    Tracked,
    counter_delta,
    mint_tokens,
    print_sandbox_stats,
    print_summary,
    short,
)

from demo_transfers import (  # noqa: E402
    TRANSFER_SCENARIOS,
    TransferRun,
    choose_transfer_scenarios,
)

from devstack import (  # noqa: E402
    DeadlinePassed,
    SandboxError,
    Stack,
    Unreachable,
    luhn_pan,
    wait_until,
)
from devstack.http import probe  # noqa: E402
from devstack.layout import Layout  # noqa: E402

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

    def code_in_inbox() -> str | None:
        inbox = demo.sandbox_get("/sandbox/messages?to=" + urllib.parse.quote(customer.msisdn))
        for message in reversed(inbox.get("messages", [])):
            found = next((word.strip(".,") for word in message["body"].split()
                          if word.strip(".,").isdigit() and len(word.strip(".,")) == 6), None)
            if found:
                return found
        return None

    try:
        code = wait_until(code_in_inbox, timeout=20, interval=0.2,
                          message="the one-time code by SMS")
    except DeadlinePassed:
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
        seen: dict[str, Any] = {}

        def landed() -> bool:
            seen["state"] = demo.api("GET", f"/api/v1/tokens/{token_id}",
                                     token=customer.token).body.get("state")
            return seen["state"] == expected

        try:
            wait_until(landed, timeout=20, interval=0.2, message=f"token {expected}")
        except DeadlinePassed:
            pass  # said below, with the state it stayed in
        state = seen.get("state")
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


def choose_scenarios(cards: str | None) -> list[Scenario]:
    if not cards:
        return [s for s in SCENARIOS if s.default]
    if cards.strip() == "none":
        return []
    by_card = {s.name: s for s in SCENARIOS}
    wanted = [card.strip() for card in cards.split(",") if card.strip()]
    unknown = [card for card in wanted if card not in by_card]
    if unknown:
        raise DemoError(f"no scenario for {', '.join(unknown)}; known: {', '.join(by_card)}")
    return [by_card[card] for card in wanted]


def setup_customers(demo: Demo, stack: Stack, run_id: str, scenarios: list[Scenario]) -> None:
    """This run's customers (token, language) and their cards in the sandbox issuer."""
    import random

    roles = {scenario.customer for scenario in scenarios}
    wanted = [(role, locale, ending) for role, locale, ending in CUSTOMERS if role in roles]
    tokens = mint_tokens(stack, [f"demo_{run_id}_{role}" for role, _, _ in wanted]) \
        if wanted else {}
    for role, locale, ending in wanted:
        customer = Customer(role, f"demo_{run_id}_{role}",
                            "+2547" + "".join(random.choice("0123456789") for _ in range(6))
                            + ending, locale)
        customer.token = tokens[customer.customer_id]
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
        customer.cards[scenario.card_id] = demo.sandbox.add_card(
            customer_id=customer.customer_id, pan=luhn_pan(last4),
            expiry="01/24" if status == "expired" else "12/30", status=status,
            msisdn=customer.msisdn, cardholder_name="DEMO CUSTOMER", kyc_tier="tier_2")


NOTIFIED = {"provisioned", "declined", "ineligible", "failed", "expired"}


def print_inboxes(demo: Demo, tracked: list[Tracked], stats_before) -> list[str]:
    """Each customer's SMS inbox, as their phone shows it; every outcome told exactly once."""
    def inbox(customer: Customer) -> list[dict[str, Any]]:
        return demo.sandbox.messages(to=customer.msisdn)

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

    found: dict[str, list[str]] = {}

    def all_arrived() -> bool:
        found["problems"] = missing()
        return not found["problems"]

    try:
        wait_until(all_arrived, timeout=30, interval=0.5, message="every expected message")
    except DeadlinePassed:
        pass  # each missing message is reported below
    problems = found["problems"]
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
    stats_after = demo.sandbox.stats()
    duplicated = counter_delta(stats_after.get("messages", {}).get("duplicate_references", 0),
                               stats_before.get("messages", {}).get("duplicate_references", 0))
    print(f"  duplicate messages    {duplicated}")
    print()
    if duplicated:
        problems.append(f"{duplicated} message(s) delivered twice")
    return problems


def run(args: argparse.Namespace) -> int:
    scenarios = choose_scenarios(args.cards)
    transfer_scenarios = choose_transfer_scenarios(args.transfers)
    layout = Layout.from_environ(run_dir=args.run_dir)
    stack = Stack(layout)
    for name, url in (("sandbox", f"{args.sandbox_url}/sandbox/health"),
                      ("web", f"{args.api_url}/readyz")):
        status, body = probe(url)
        if status != 200:
            raise DemoError(f"{name} is not ready at {url} ({status or 'no answer'}"
                            f"{': ' + body.strip() if body else ''}); start it with `make up`")
    if args.kill_worker_at is not None and stack.process("worker").running_pid() is None:
        raise DemoError("--kill-worker-at needs the worker started by scripts/stack.py up")

    run_id = uuid.uuid4().hex[:8]
    demo = Demo(args.api_url, args.sandbox_url, "", args.interval)
    setup_customers(demo, stack, run_id, scenarios)
    transfers = TransferRun(demo, stack, run_id, transfer_scenarios)
    transfers.setup()
    stats_before = demo.sandbox.stats()
    print(f"demo run {run_id}: {len(scenarios)} request(s), {len(transfer_scenarios)} "
          f"transfer(s), deadline {args.deadline:.0f} s")
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
        chaos = Chaos(demo, args.kill_worker_at, layout)
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

    stats_after = demo.sandbox.stats()
    duplicates, message_problems = 0, []
    if tracked:
        print_summary(tracked)
        duplicates = print_sandbox_stats(stats_before, stats_after, tracked)
        message_problems = print_inboxes(demo, tracked, stats_before)
    # Then the Visa Direct transfers, on a clock and a deadline of their own: on a laptop
    # (the embedded mode) the worker is what both flows wait for.
    transfer_problems = transfers.play(args.deadline, args.interval)

    problems = [f"{item.scenario.name}: expected {item.scenario.expected_state}, "
                f"got {item.state or item.error}" for item in tracked if not item.ok]
    if duplicates:
        problems.append(f"the token service saw {duplicates} duplicate side effect(s)")
    problems.extend(message_problems)
    problems.extend(transfer_problems)
    if chaos and (chaos.thread.is_alive() or not chaos.ok):
        problems.append("the worker could not be killed and restarted as asked")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    swapped = any(item.scenario.refused_without_code for item in tracked)
    print(f"all {len(tracked)} request(s) reached their expected state; no duplicate effects; "
          "every outcome told to its customer once"
          + ("; no one-time code reached the SIM-swapped phone" if swapped else "")
          + (f"; all {len(transfer_scenarios)} transfer(s) ended as expected with every "
             "M-Pesa balance conserved and nothing held" if transfer_scenarios else "")
          + (f" (worker killed at {args.kill_worker_at:g} s)" if chaos else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/demo.py",
        description="Play the wallet app against the running stack (`make up` first).",
    )
    every = ", ".join(s.name for s in SCENARIOS)
    default = ", ".join(s.name for s in SCENARIOS if s.default)
    parser.add_argument("--cards", help=f"comma-separated subset of: {every} (default: {default}; "
                                         "`none` for none)")
    sends = ", ".join(s.name for s in TRANSFER_SCENARIOS)
    parser.add_argument("--transfers", help=f"comma-separated subset of: {sends} (default: all; "
                                             "`none` for none)")
    parser.add_argument("--kill-worker-at", type=float, metavar="SECONDS",
                        help="kill -9 the worker this many seconds in, restart it 2 s later")
    parser.add_argument("--deadline", type=float, default=60.0,
                        help="seconds for every request to finish (default 60)")
    parser.add_argument("--interval", type=float, default=0.6,
                        help="seconds between polls (default 0.6; stays under the API's "
                             "default 120/min customer throttle)")
    layout = Layout.from_environ()
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="the stack's run directory (default var; env STACK_RUN_DIR)")
    parser.add_argument("--api-url", default=layout.web_url)
    parser.add_argument("--sandbox-url", default=layout.sandbox_url)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (DemoError, SandboxError, Unreachable) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
