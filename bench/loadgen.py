"""Simulated wallet apps (asyncio + httpx): one customer, one card, one device each.

An app creates a provisioning request, polls it until it is terminal, and on the yellow
path reads its one-time code from the sandbox's SMS inbox (as the phone would) and posts
it to `verify`. A floor app creates a floor row and polls it until its task chain is done. A transfer app
(Visa Direct) has its M-Pesa balance, payee and quote made in the set-up, outside the
measured window; what it does in the window is create the transfer (POST /transfers, with
an Idempotency-Key) and poll it until it is terminal.

Apps behave as a careful client does: a create is retried with the same Idempotency-Key
after a transport error, a 5xx or a 429 (with backoff, until the app's deadline), and a
409 `provisioning_in_progress` hands over the request that already exists. Nothing here
sleeps in place of a condition except the poll interval and the backoff.

Every simulated app presents its own client address in X-Forwarded-For (the bench stack
runs with TRUSTED_PROXY_COUNT=1, as behind one load balancer), so the per-IP throttle
stays at its production rate and still never throttles the bench.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devstack import luhn_pan

from .common import TERMINAL, TRANSFER_TERMINAL

# Last four digits the sandbox's token service decides by (sandbox/README.md).
OUTCOME_LAST4 = {"green": "1111", "yellow": "0010", "red": "0002", "flaky": "0028"}
EXPECTED_STATE = {"green": "provisioned", "yellow": "provisioned", "red": "declined",
                  "flaky": "provisioned", "fast": "completed"}
DEFAULT_MIX = {"green": 0.80, "yellow": 0.10, "red": 0.05, "flaky": 0.05}
# Recipient cards of the transfer apps, by the last four digits the sandbox's attributes
# inquiry and payouts decide by: anything outside 0051/0002/0028/0036/0044/0077 is a card
# that takes push payments with fast funds, and its OCT is approved at once.
TRANSFER_LAST4 = {"fast": "1111"}
TRANSFER_MIX = {"fast": 1.0}
# Set high enough that no send is short of money: the bench measures sends, not refusals.
TRANSFER_BALANCE = 10**9
TRANSFER_AMOUNT = 150_000
OTP = re.compile(r"\b(\d{6})\b")


def parse_mix(text: str | None) -> dict[str, float]:
    """'green=80,yellow=10,red=5,flaky=5' (weights, normalised)."""
    if not text:
        return dict(DEFAULT_MIX)
    weights = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in OUTCOME_LAST4:
            raise ValueError(f"unknown outcome {name!r}; known: {', '.join(OUTCOME_LAST4)}")
        weights[name] = float(value)
    total = sum(weights.values())
    return {name: weight / total for name, weight in weights.items() if weight > 0}


def assign_outcomes(count: int, mix: dict[str, float], rng: random.Random) -> list[str]:
    """Exactly round(count * share) of each outcome (largest remainder), shuffled."""
    exact = {name: count * share for name, share in mix.items()}
    counts = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[
            : count - sum(counts.values())]:
        counts[name] += 1
    outcomes = [name for name, n in counts.items() for _ in range(n)]
    rng.shuffle(outcomes)
    return outcomes


@dataclass
class App:
    index: int
    customer_id: str
    outcome: str
    card_id: str
    pan: str
    msisdn: str
    device_id: str
    ip: str
    token: str = ""
    payee_id: str = ""  # transfer apps: made in the set-up
    quote_id: str = ""


def make_apps(count: int, mix: dict[str, float], run_tag: str, seed: int = 7) -> list[App]:
    rng = random.Random(seed)
    apps = []
    for index, outcome in enumerate(assign_outcomes(count, mix, rng)):
        customer = f"bench_{run_tag}_{index:06d}"
        apps.append(App(
            index=index,
            customer_id=customer,
            outcome=outcome,
            card_id=f"card_{run_tag}_{index:06d}",
            pan=luhn_pan({**OUTCOME_LAST4, **TRANSFER_LAST4}[outcome], rng=rng),
            # Never ending 01/02/03: the telco treats those as swapped or down.
            msisdn=f"+2547{index % 1_000_000:06d}55",
            device_id=f"dev-{run_tag}-{index:06d}",
            ip=f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}",
        ))
    return apps


@dataclass
class Trace:
    """What one app saw. Times: `*_at` are seconds since the run's start (monotonic)."""

    app: App
    submitted_wall: float = 0.0
    submitted_at: float = 0.0
    intended_at: float | None = None
    request_id: str | None = None
    creates: list[tuple[float, float, int]] = field(default_factory=list)  # at, latency, status
    reads: list[tuple[float, float, int]] = field(default_factory=list)
    verifies: list[tuple[float, float, int]] = field(default_factory=list)
    state: str | None = None
    etag: str | None = None  # the last ETag seen, sent back in If-None-Match
    terminal_seen_at: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.state == EXPECTED_STATE.get(self.app.outcome, "done")


class Load:
    """Drives apps against one stack; `t0` is the run's zero on the monotonic clock."""

    def __init__(self, api_url: str, sandbox_url: str, *, poll_interval: float = 0.5,
                 app_deadline: float = 120.0, floor_hops: int | None = None,
                 flow: str = "provisioning", connections: int = 256) -> None:
        self.api_url = api_url.rstrip("/")
        self.sandbox_url = sandbox_url.rstrip("/")
        self.poll_interval = poll_interval
        self.app_deadline = app_deadline
        self.floor_hops = floor_hops  # set: floor apps instead of provisioning apps
        self.flow = flow  # "provisioning" or "transfers" (when floor_hops is None)
        self.connections = connections
        self.t0 = time.monotonic()
        self.client: httpx.AsyncClient | None = None
        self.sandbox: httpx.AsyncClient | None = None
        self.arrivals_done = False  # open loop: every app has started

    async def __aenter__(self) -> Load:
        limits = httpx.Limits(max_connections=self.connections,
                              max_keepalive_connections=self.connections)
        self.client = httpx.AsyncClient(limits=limits, timeout=30.0)
        self.sandbox = httpx.AsyncClient(limits=httpx.Limits(max_connections=32), timeout=30.0)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()
        await self.sandbox.aclose()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def headers(self, app: App, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {app.token}", "X-Forwarded-For": app.ip, **extra}

    # --- set-up (not measured) ------------------------------------------------------

    async def setup_app(self, app: App) -> None:
        """The app's card at the issuer (provisioning) or its balance, payee and quote
        (transfers), and its device registered for pushes."""
        if self.floor_hops is not None:
            return
        if self.flow == "transfers":
            await self.setup_sender(app)
        else:
            await self.setup_card(app)
        # The same M-Pesa app: its device is registered for pushes whichever flow it uses,
        # so a transfer's notice is a push, as a provisioning's is.
        answer = await self.client.post(f"{self.api_url}/api/v1/devices", headers=self.headers(app),
                                        json={"device_id": app.device_id, "platform": "android",
                                              "push_token": f"fcm-{app.device_id}"})
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"device for {app.customer_id}: {answer.status_code} "
                               f"{answer.text[:200]}")

    async def setup_card(self, app: App) -> None:
        """A provisioning app's card at the issuer."""
        answer = await self.sandbox.post(f"{self.sandbox_url}/sandbox/cards", json={
            "customer_id": app.customer_id, "pan": app.pan, "expiry": "12/30",
            "status": "active", "msisdn": app.msisdn, "card_id": app.card_id,
        })
        if answer.status_code not in (201, 409):
            raise RuntimeError(f"sandbox card for {app.customer_id}: {answer.status_code} "
                               f"{answer.text[:200]}")

    async def setup_sender(self, app: App) -> None:
        """A transfer app's balance at the M-Pesa core, its payee and its first quote."""
        answer = await self.sandbox.post(f"{self.sandbox_url}/sandbox/mpesa/accounts", json={
            "customer_id": app.customer_id, "balance": TRANSFER_BALANCE})
        if answer.status_code != 200:
            raise RuntimeError(f"M-Pesa account for {app.customer_id}: {answer.status_code} "
                               f"{answer.text[:200]}")
        answer = await self.client.post(f"{self.api_url}/api/v1/payees", headers=self.headers(app),
                                        json={"pan": app.pan, "name": "JANE WANJIKU"})
        if answer.status_code != 201:
            raise RuntimeError(f"payee for {app.customer_id}: {answer.status_code} "
                               f"{answer.text[:200]}")
        app.payee_id = answer.json()["id"]
        app.quote_id = await self.new_quote(app)

    async def new_quote(self, app: App) -> str:
        answer = await self.client.post(
            f"{self.api_url}/api/v1/transfer-quotes", headers=self.headers(app),
            json={"payee_id": app.payee_id,
                  "amount": {"value": TRANSFER_AMOUNT, "currency": "KES"}})
        if answer.status_code != 201:
            raise RuntimeError(f"quote for {app.customer_id}: {answer.status_code} "
                               f"{answer.text[:200]}")
        return answer.json()["id"]

    async def setup(self, apps: Sequence[App], concurrency: int = 32) -> None:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(app: App) -> None:
            async with semaphore:
                await self.setup_app(app)

        await asyncio.gather(*(one(app) for app in apps))

    # --- one app ----------------------------------------------------------------------

    async def run_app(self, app: App, intended_at: float | None = None) -> Trace:
        trace = Trace(app=app, intended_at=intended_at)
        deadline = self.now() + self.app_deadline
        try:
            if self.floor_hops is not None:
                await self._floor(app, trace, deadline)
            elif self.flow == "transfers":
                await self._transfer(app, trace, deadline)
            else:
                await self._provision(app, trace, deadline)
        except Exception as exc:  # recorded, never raised: one app must not stop the run
            trace.error = f"{type(exc).__name__}: {exc}"[:300]
        if trace.error is None and trace.terminal_seen_at is None:
            trace.error = f"not terminal within {self.app_deadline:.0f} s (state {trace.state})"
        return trace

    async def _timed(self, log: list, method: str, url: str, **kwargs) -> httpx.Response | None:
        started = self.now()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TransportError:
            log.append((started, self.now() - started, 0))
            return None
        log.append((started, self.now() - started, response.status_code))
        return response

    async def _create(self, app: App, trace: Trace, deadline: float, url: str,
                      body: dict[str, Any]) -> dict[str, Any] | None:
        key = str(uuid.uuid4())
        backoff = 0.25
        trace.submitted_wall = time.time()
        trace.submitted_at = self.now()
        while self.now() < deadline:
            response = await self._timed(trace.creates, "POST", url, json=body,
                                         headers=self.headers(app, **{"Idempotency-Key": key}))
            if response is not None and response.status_code in (200, 201, 202):
                return response.json()
            if response is not None and response.status_code == 409:
                error = (response.json().get("error") or {})
                if error.get("code") == "provisioning_in_progress":
                    # Our first try did create it (its answer was lost): carry on with it.
                    return {"id": error["details"]["provisioning_request_id"], "state": None}
                if error.get("code") in ("quote_used", "quote_expired", "payee_deleted"):
                    raise RuntimeError(f"create answered 409 {error['code']}")  # final
            elif response is not None and response.status_code < 500 and \
                    response.status_code != 429:
                raise RuntimeError(f"create answered {response.status_code}: "
                                   f"{response.text[:200]}")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        return None

    async def _provision(self, app: App, trace: Trace, deadline: float) -> None:
        body = {"card_id": app.card_id, "wallet": "google_pay",
                "device": {"id": app.device_id, "type": "phone", "os": "android-15"}}
        created = await self._create(app, trace, deadline,
                                     f"{self.api_url}/api/v1/provisioning-requests", body)
        if created is None:
            trace.error = "create did not succeed before the deadline"
            return
        trace.request_id = created["id"]
        trace.state = created.get("state")
        url = f"{self.api_url}/api/v1/provisioning-requests/{trace.request_id}"
        verified_code: str | None = None
        while self.now() < deadline:
            if await self._poll_state(app, trace, url) is None:
                continue
            if trace.state in TERMINAL:
                trace.terminal_seen_at = self.now()
                return
            if trace.state == "step_up_required":
                code = await self._latest_code(app)
                if code is not None and code != verified_code:
                    answer = await self._timed(trace.verifies, "POST", f"{url}/verify",
                                               json={"otp": code}, headers=self.headers(app))
                    if answer is not None and answer.status_code in (200, 409):
                        verified_code = code  # 409: already verified (a retried verify)

    async def _poll_state(self, app: App, trace: Trace, url: str) -> str | None:
        """After one poll interval, read the row's state into the trace; None when the read
        failed (the trace keeps the last state seen). As the API docs tell an app to, the
        last ETag seen goes back in If-None-Match: a 304 means the state is unchanged."""
        await asyncio.sleep(self.poll_interval)
        extra = {"If-None-Match": trace.etag} if trace.etag else {}
        response = await self._timed(trace.reads, "GET", url, headers=self.headers(app, **extra))
        if response is not None and response.status_code == 304:
            return trace.state
        if response is None or response.status_code != 200:
            return None
        trace.etag = response.headers.get("ETag")
        trace.state = response.json().get("state")
        return trace.state

    async def _latest_code(self, app: App) -> str | None:
        try:
            answer = await self.sandbox.get(f"{self.sandbox_url}/sandbox/messages",
                                            params={"to": app.msisdn})
        except httpx.TransportError:
            return None
        if answer.status_code != 200:
            return None
        for message in reversed(answer.json().get("messages", [])):
            found = OTP.search(message.get("body") or "")
            if message.get("channel") == "sms" and found:
                return found.group(1)
        return None

    async def _transfer(self, app: App, trace: Trace, deadline: float) -> None:
        created = await self._create(app, trace, deadline, f"{self.api_url}/api/v1/transfers",
                                     {"quote_id": app.quote_id})
        if created is None:
            trace.error = "create did not succeed before the deadline"
            return
        trace.request_id = created["id"]
        trace.state = created.get("state")
        url = f"{self.api_url}/api/v1/transfers/{trace.request_id}"
        while self.now() < deadline:
            if await self._poll_state(app, trace, url) in TRANSFER_TERMINAL:
                trace.terminal_seen_at = self.now()
                return

    async def _floor(self, app: App, trace: Trace, deadline: float) -> None:
        created = await self._create(app, trace, deadline, f"{self.api_url}/bench/floor/rows",
                                     {"hops": self.floor_hops})
        if created is None:
            trace.error = "create did not succeed before the deadline"
            return
        trace.request_id = created["id"]
        url = f"{self.api_url}/bench/floor/rows/{trace.request_id}"
        while self.now() < deadline:
            if await self._poll_state(app, trace, url) == "done":
                trace.terminal_seen_at = self.now()
                return

    # --- arrival patterns ---------------------------------------------------------------

    async def closed_loop(self, apps: Sequence[App], concurrency: int) -> list[Trace]:
        """`concurrency` apps at a time, each starting the next as soon as one finishes."""
        pending = iter(apps)
        traces: list[Trace] = []
        self.arrivals_done = False

        async def lane() -> None:
            for app in pending:  # shared iterator: no await between next() calls
                traces.append(await self.run_app(app))

        await asyncio.gather(*(lane() for _ in range(concurrency)))
        self.arrivals_done = True
        return traces

    async def open_loop(self, apps: Sequence[App], rate: float, seed: int = 11) -> list[Trace]:
        """Poisson arrivals at `rate` per second, whatever the service's speed."""
        rng = random.Random(seed)
        tasks = []
        self.arrivals_done = False
        intended = self.now()
        for app in apps:
            intended += rng.expovariate(rate)
            delay = intended - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.run_app(app, intended_at=intended)))
        self.arrivals_done = True
        return list(await asyncio.gather(*tasks))
