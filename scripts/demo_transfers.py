"""The Visa Direct half of scripts/demo.py: send money from M-Pesa to Visa cards, and prove
from the sandbox's own ledger that money was conserved.

Each scenario has a customer of its own, whose M-Pesa balance the demo sets in the
sandbox first. At the end it reads every balance back: a completed send took exactly
amount + fee, anything else took nothing, nothing is left held, the network paid the card
if and only if the transfer completed, and the sandbox counted no duplicate payout or
ledger effect. A transfer sent to review is approved by an operator in Django admin,
signed in over HTTP as a member of the `operations` group, as a person would.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

from demo_run import (
    ARROW,
    Demo,
    DemoError,
    counter_delta,
    failure_detail,
    manage,
    mint_tokens,
    short,
)

from devstack import Stack, luhn_pan

TRANSFER_TERMINAL = frozenset({"completed", "declined", "rejected", "cancelled", "needs_attention"})
# What a payee refused at creation ends in: no transfer is ever made.
PAYEE_REFUSED = "payee refused"
BALANCE = 1_000_000  # minor units: KES 10,000
AMOUNT = 150_000  # KES 1,500


@dataclass(frozen=True)
class TransferScenario:
    """One send from one customer's M-Pesa balance, and the outcome the demo insists on."""

    name: str
    last4: str  # the recipient card's last four decide attributes and payout (sandbox)
    expected_state: str  # a Transfer state, or PAYEE_REFUSED
    story: str
    expected_failure: str | None = None  # the customer-facing code (or the 422's code)
    payee_name: str = "JANE WANJIKU"  # screening: REVIEW in it → review, SANCTIONED → hit
    balance: int = BALANCE
    amount: int = AMOUNT
    operator_approves: bool = False  # in_review → an operator approves in admin


TRANSFER_SCENARIOS: tuple[TransferScenario, ...] = (
    TransferScenario("send_completed", "1111", "completed",
                     "paid at once; hold captured: amount + fee leave the balance"),
    TransferScenario("send_declined", "0002", "declined",
                     "the network declines; hold released: the money is back",
                     expected_failure="declined_by_network"),
    TransferScenario("send_cannot_receive", "0051", PAYEE_REFUSED,
                     "card cannot take push payments: 422 when the payee is added",
                     expected_failure="card_cannot_receive"),
    TransferScenario("send_lost_answer", "0044", "completed",
                     "the payout's answer never comes in time; a status inquiry says paid"),
    TransferScenario("send_review", "4242", "completed",
                     "screening says review; an operator approves it in admin",
                     payee_name="AMANI REVIEW KAMAU", operator_approves=True),
    TransferScenario("send_no_funds", "1111", "rejected",
                     "balance below amount + fee: rejected, nothing held",
                     expected_failure="insufficient_funds", balance=100_000),
)


def choose_transfer_scenarios(names: str | None) -> list[TransferScenario]:
    if not names:
        return list(TRANSFER_SCENARIOS)
    if names.strip() == "none":
        return []
    by_name = {s.name: s for s in TRANSFER_SCENARIOS}
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise DemoError(f"no transfer scenario {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[name] for name in wanted]


@dataclass
class TrackedTransfer:
    scenario: TransferScenario
    customer_id: str
    token: str = ""
    transfer_id: str | None = None
    state: str | None = None
    resource: dict[str, Any] = field(default_factory=dict)
    total: int = 0  # amount + fee, as quoted
    balance_before: dict[str, Any] = field(default_factory=dict)
    balance_after: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    finished_at: float | None = None
    error: str | None = None
    approved: bool = False

    @property
    def failure_code(self) -> str | None:
        return (self.resource.get("failure") or {}).get("code")

    @property
    def done(self) -> bool:
        return self.error is not None or self.state in TRANSFER_TERMINAL \
            or self.state == PAYEE_REFUSED


def problems_of(item: TrackedTransfer, payouts: dict[str, Any]) -> list[str]:
    """What is wrong with one finished transfer: its outcome, its customer's money (after =
    before − (amount + fee) if completed, else after = before; nothing held), and the
    network's side (paid if and only if completed). `payouts` is the sandbox's by_code."""
    s = item.scenario
    found = []
    if item.error:
        return [item.error]
    if item.state != s.expected_state:
        found.append(f"expected {s.expected_state}, got {item.state}")
    if s.expected_failure and item.failure_code != s.expected_failure:
        found.append(f"expected failure {s.expected_failure}, got {item.failure_code}")
    before, after = item.balance_before.get("balance"), item.balance_after.get("balance")
    moved = item.total if item.state == "completed" else 0
    if before is None or after != before - moved:
        found.append(f"balance {before} → {after}: expected {before} − {moved}")
    if item.balance_after.get("held") != 0:
        found.append(f"{item.balance_after.get('held')} still held")
    paid = (payouts.get(item.transfer_id or "") or {}).get("status") == "ACCEPTED"
    if paid != (item.state == "completed"):
        found.append(f"the network {'paid' if paid else 'did not pay'} the card, "
                     f"yet the transfer is {item.state}")
    return found


class OperatorSession:
    """An operator in Django admin over HTTP: signs in with the login form, opens a
    transfer's page and presses the action it offers, CSRF token and all."""

    def __init__(self, api_url: str, username: str, password: str) -> None:
        self.base = api_url.rstrip("/")
        self.username = username
        self.password = password
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def _csrf(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def _open(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data)
        try:
            with self.opener.open(request, timeout=15) as answer:
                return answer.status, answer.geturl(), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as error:
            raise DemoError(f"admin {path}: {getattr(error, 'reason', error)}") from None

    def sign_in(self) -> None:
        self._open("/admin/login/")
        status, url, _ = self._open("/admin/login/?next=/admin/", {
            "csrfmiddlewaretoken": self._csrf(), "username": self.username,
            "password": self.password, "next": "/admin/"})
        if status != 200 or "/login/" in urllib.parse.urlsplit(url).path:
            raise DemoError(f"the operator {self.username} could not sign in to admin "
                            f"(status {status}, at {url})")

    def press(self, transfer_id: str, action: str, reason: str) -> str | None:
        """Press `action` on the transfer's admin page; None when admin said done, else why not."""
        page = f"/admin/transfers/transfer/{transfer_id}/change/"
        status, _, body = self._open(page)
        if status != 200:
            return f"the transfer's admin page answered {status}"
        if f'data-action="{action}"' not in body:
            return f"admin does not offer '{action}' on this transfer"
        status, _, body = self._open(f"/admin/transfers/transfer/{transfer_id}/act/{action}/",
                                     {"csrfmiddlewaretoken": self._csrf(), "reason": reason})
        if status != 200 or ": done." not in body:
            return f"admin's '{action}' did not say done (status {status})"
        return None


class TransferRun:
    """The transfer scenarios of one demo run: set up before the clock starts, created and
    followed after the provisioning requests, checked against the ledger at the end."""

    def __init__(self, demo: Demo, stack: Stack, run_id: str,
                 scenarios: list[TransferScenario]) -> None:
        self.demo = demo
        self.stack = stack
        self.run_id = run_id
        self.tracked = [TrackedTransfer(s, f"demo_{run_id}_{s.name}") for s in scenarios]
        self.operator: OperatorSession | None = None

    @property
    def done(self) -> bool:
        return all(item.done for item in self.tracked)

    def setup(self) -> None:
        """Tokens for the senders, their balances, and the operator signed in to admin."""
        if not self.tracked:
            return
        tokens = mint_tokens(self.stack, [item.customer_id for item in self.tracked])
        for item in self.tracked:
            item.token = tokens[item.customer_id]
            self.sandbox("POST", "/sandbox/mpesa/accounts",
                         {"customer_id": item.customer_id, "balance": item.scenario.balance})
            item.balance_before = self.account(item.customer_id)
        if any(item.scenario.operator_approves for item in self.tracked):
            username, password = f"demo_ops_{self.run_id}", secrets.token_urlsafe(18)
            result = manage(self.stack, "create_staff_user", username, "--group", "operations",
                            extra_env={"STAFF_USER_PASSWORD": password})
            if result.returncode != 0:
                raise DemoError(f"manage.py create_staff_user failed: {failure_detail(result)}")
            self.operator = OperatorSession(self.demo.api_url, username, password)
            self.operator.sign_in()

    def sandbox(self, method: str, path: str, body: Any = None) -> Any:
        from devstack import http

        try:
            answer = http.request(method, f"{self.demo.sandbox_url}{path}", body=body)
        except http.Unreachable as error:
            raise DemoError(str(error)) from None
        if answer.status != 200:
            raise DemoError(f"sandbox {method} {path}: {answer.status} {short(answer.body)}")
        return answer.body

    def account(self, customer_id: str) -> dict[str, Any]:
        return self.sandbox("GET", f"/sandbox/mpesa/accounts/{customer_id}")

    def describe(self) -> None:
        for item in self.tracked:
            s = item.scenario
            print(f"  {s.name:<20} card {s.last4}  balance {s.balance:>9,}  "
                  f"expect {s.expected_state:<13} {s.story}")
        if self.operator:
            print(f"  operator {self.operator.username} (group operations) signed in to admin")

    # --- the run ----------------------------------------------------------------------

    def play(self, deadline: float, interval: float) -> list[str]:
        """Send every transfer, follow each to its end, then check the money; the problems
        found (empty when all is well)."""
        if not self.tracked:
            return []
        print(f"Visa Direct: {len(self.tracked)} transfer(s), deadline {deadline:.0f} s")
        self.describe()
        print(flush=True)
        stats_before = self.sandbox("GET", "/sandbox/stats")
        self.demo.started = time.monotonic()
        for item in self.tracked:
            self.create(item)
        until = self.demo.started + deadline
        while not self.done and time.monotonic() < until:
            tick = time.monotonic()
            self.poll()
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))
        print()
        return self.report(stats_before, self.sandbox("GET", "/sandbox/stats"))

    def create(self, item: TrackedTransfer) -> None:
        s = item.scenario
        item.created_at = time.monotonic()
        pan = luhn_pan(s.last4, prefix="400000")
        payee = self.demo.api("POST", "/api/v1/payees", token=item.token,
                              body={"pan": pan, "name": s.payee_name})
        if s.expected_state == PAYEE_REFUSED:
            code = ((payee.body or {}).get("error") or {}).get("code") \
                if isinstance(payee.body, dict) else None
            item.state = PAYEE_REFUSED if payee.status == 422 else f"payee {payee.status}"
            item.resource = {"failure": {"code": code}}
            item.finished_at = time.monotonic()
            self.demo.say(f"{s.name:<20} add payee ···· {s.last4} {ARROW} {payee.status} {code}")
            return
        if payee.status != 201:
            return self.fail(item, f"add payee answered {payee.status}: {short(payee.body)}")
        quote = self.demo.api("POST", "/api/v1/transfer-quotes", token=item.token, body={
            "payee_id": payee.body["id"], "amount": {"value": s.amount, "currency": "KES"}})
        if quote.status != 201:
            return self.fail(item, f"quote answered {quote.status}: {short(quote.body)}")
        item.total = quote.body["total"]["value"]
        answer = self.demo.api("POST", "/api/v1/transfers", token=item.token,
                               body={"quote_id": quote.body["id"]},
                               headers={"Idempotency-Key": str(uuid.uuid4())})
        if answer.status != 202 or not isinstance(answer.body, dict):
            return self.fail(item, f"send answered {answer.status}: {short(answer.body)}")
        item.transfer_id = answer.body["id"]
        self.demo.say(f"{s.name:<20} KES {s.amount / 100:,.2f} + fee "
                      f"{quote.body['fee']['value'] / 100:,.2f} to ···· {s.last4} "
                      f"({item.transfer_id}) {ARROW} {answer.body.get('state')}")
        self.observe(item, answer.body)

    def fail(self, item: TrackedTransfer, error: str) -> None:
        item.error = error
        item.finished_at = time.monotonic()
        self.demo.say(f"{item.scenario.name:<20} {error}")

    def poll(self) -> None:
        """One read per pending transfer (each sender is a customer of their own)."""
        for item in self.tracked:
            if item.done or item.transfer_id is None:
                continue
            answer = self.demo.api("GET", f"/api/v1/transfers/{item.transfer_id}",
                                   token=item.token)
            if answer.status == 200 and isinstance(answer.body, dict):
                self.observe(item, answer.body)

    def observe(self, item: TrackedTransfer, resource: dict[str, Any]) -> None:
        item.resource = resource
        new_state = resource.get("state")
        if new_state != item.state:
            if item.state is not None:
                extra = f"  ({item.failure_code})" if item.failure_code else ""
                self.demo.say(f"{item.scenario.name:<20} {item.state} {ARROW} {new_state}{extra}")
            item.state = new_state
            if new_state == "in_review" and item.scenario.operator_approves and not item.approved:
                self.approve(item)
        if item.done and item.finished_at is None:
            item.finished_at = time.monotonic()

    def approve(self, item: TrackedTransfer) -> None:
        item.approved = True
        assert self.operator is not None
        reason = "demo: name matched a watch list entry only by a common word"
        refused = self.operator.press(item.transfer_id or "", "approve", reason)
        if refused:
            return self.fail(item, f"operator approval: {refused}")
        self.demo.say(f"{item.scenario.name:<20} operator {self.operator.username} approves "
                      "in admin (Approve review)")

    # --- the end ----------------------------------------------------------------------

    def report(self, stats_before: dict[str, Any], stats_after: dict[str, Any]) -> list[str]:
        """The table, the ledger and payout counters; the problems found (empty: all ok)."""
        payouts = (stats_after.get("payouts") or {}).get("by_code") or {}
        problems: list[str] = []
        rows = []
        for item in self.tracked:
            item.balance_after = self.account(item.customer_id)
            found = problems_of(item, payouts)
            problems.extend(f"{item.scenario.name}: {problem}" for problem in found)
            s = item.scenario
            expected = s.expected_state + (f" ({s.expected_failure})" if s.expected_failure
                                           else "")
            seconds = (item.finished_at or time.monotonic()) - item.created_at
            rows.append((s.name, s.last4, expected, item.state or item.error or "-",
                         item.failure_code or "-", f"{item.balance_before.get('balance', 0):,}",
                         f"{item.balance_after.get('balance', 0):,}",
                         f"{item.balance_after.get('held', 0):,}",
                         f"{seconds:.1f}" + ("" if item.done else " (timed out)"),
                         "FAIL" if found else "ok"))
        header = ("transfer", "card", "expected", "final state", "failure code",
                  "balance before", "after", "held", "seconds", "")
        widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
        for row in (header, *rows):
            print("  ".join(str(cell).ljust(width)
                            for cell, width in zip(row, widths, strict=True)).rstrip())
        print()
        problems.extend(self.print_counters(stats_before, stats_after))
        return problems

    def print_counters(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        def count(stats: dict[str, Any], section: str, key: str) -> int:
            return int((stats.get(section) or {}).get(key) or 0)

        ours = {item.transfer_id for item in self.tracked if item.transfer_id}
        by_code = (after.get("payouts") or {}).get("by_code") or {}
        payout_calls = sum(entry.get("calls", 0) for code, entry in by_code.items() if code in ours)
        ledger_keys = ((after.get("ledger") or {}).get("idempotency") or {}).get("by_key") or {}
        ledger_calls = sum(entry.get("calls", 0) for key, entry in ledger_keys.items()
                           if key.split(":")[0] in ours)
        payout_dups = counter_delta(count(after, "payouts", "duplicate_effects"),
                                    count(before, "payouts", "duplicate_effects"))
        ledger_dups = counter_delta(count(after, "ledger", "duplicate_effects"),
                                    count(before, "ledger", "duplicate_effects"))
        open_holds = [hold for hold in ((after.get("ledger") or {}).get("conservation") or {})
                      .get("open_holds", []) if hold.get("reference") in ours]
        print("sandbox, Visa Direct (this run):")
        print(f"  payouts made          {len([c for c in by_code if c in ours])} "
              f"(calls {payout_calls})")
        print(f"  ledger keys           {len([k for k in ledger_keys if k.split(':')[0] in ours])} "
              f"(calls {ledger_calls})")
        print(f"  holds left open       {len(open_holds)}")
        print(f"  duplicate payouts     {payout_dups}")
        print(f"  duplicate ledger      {ledger_dups}")
        print()
        problems = []
        if payout_dups or ledger_dups:
            problems.append(f"the sandbox saw {payout_dups} duplicate payout(s) and "
                            f"{ledger_dups} duplicate ledger effect(s)")
        if open_holds:
            problems.append(f"{len(open_holds)} hold(s) of this run left open")
        return problems
