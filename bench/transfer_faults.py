"""`make bench-faults`, the transfers run: Visa Direct transfers sent while the payouts
stand-in fails and the worker dies, then each transfer's money audited against the
sandbox's own ledger and payouts.

    .venv/bin/python -m bench.faults --scenarios transfers            # 500 transfers
    .venv/bin/python -m bench.faults --scenarios transfers --quick    # 100

While the transfers arrive (--transfer-rate a second), the payouts stand-in answers 25% of
calls 503 and hangs 5% past the client's read timeout (SANDBOX_SLOW_SECONDS=5 > 3 s; the
hung call then goes through), and 5% of the rest take effect but lose their answer (a
504 after the hang); the status search is the same system, so inquiries meet the faults
too. The worker's process group is killed with -9 at --transfer-kills random points
(seeded, anywhere in the first 1.5 times the arrival time) and restarted 2 s later.
Beat's re-drive runs every 5 s with 5 s STUCK thresholds. The faults stay on until every
transfer is terminal or needs_attention (or half the deadline, --transfer-settle, has
passed: then they clear and the rest must settle in the other half). Then each transfer
is checked:

  - it ends completed, declined, rejected or needs_attention;
  - the ledger captured amount + fee if and only if the network paid (the sandbox's
    payout under the transfer's code is ACCEPTED), and released or never held otherwise;
  - no payout made twice, no hold captured or settled twice, no hold left open (a
    needs_attention transfer may hold: listed apart, with what operations would do).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devstack import luhn_pan, wait_until

from .common import REPO, BenchStack, connection_urls, flush_redis, pg_connect, say
from .phase import django_ready, prepare_database

SWEEP_S = 5
SETTINGS = {
    "RECONCILE_INTERVAL_SECONDS": str(SWEEP_S),
    "TRANSFER_REDRIVE_INTERVAL_SECONDS": str(SWEEP_S),
    **{f"TRANSFER_STUCK_{state}_SECONDS": str(SWEEP_S)
       for state in ("RECEIVED", "CHECKED", "FUNDS_HELD", "SUBMITTED")},
    "SANDBOX_SLOW_SECONDS": "5",
    "THROTTLE_IP_RATE": "100000/min",
}
PAYOUT_FAULT = {"error_rate": 0.25, "timeout_rate": 0.05, "lost_answer_rate": 0.05}
FINAL = ("completed", "declined", "rejected", "needs_attention")
# Recipient cards by last four (sandbox/recipients.py) and their share of the transfers.
CARDS = {"1111": 0.55, "0077": 0.10, "0002": 0.10, "0028": 0.08, "0036": 0.07, "0044": 0.05}
SANCTIONED_SHARE = 0.05  # recipient named ... SANCTIONED ...: screening hit, rejected
BALANCE = 5_000_000
LOW_BALANCE = 200_000  # every tenth customer: their later sends are insufficient funds
PER_CUSTOMER = 10


def plan(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    customers = max(1, count // PER_CUSTOMER)
    tag = uuid.uuid4().hex[:6]
    jobs = []
    for index in range(count):
        card = rng.choices(list(CARDS), weights=list(CARDS.values()))[0]
        name = "JANE SANCTIONED ONE" if rng.random() < SANCTIONED_SHARE else "JANE WANJIKU"
        jobs.append({"customer_id": f"bt_{tag}_{index % customers:03d}", "last4": card,
                     "name": name, "amount": rng.randrange(10_000, 100_001, 100)})
    return jobs


class Sender:
    """The wallet app of many customers: payees first, then quote + transfer per job."""

    def __init__(self, api_url: str, jobs: list[dict[str, Any]]) -> None:
        import logging

        import httpx

        django_ready()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        from core.auth import mint_dev_token

        self.api = api_url
        self.http = httpx.Client(timeout=30)
        self.customers = sorted({job["customer_id"] for job in jobs})
        self.tokens = {c: mint_dev_token(c, lifetime_seconds=4 * 3600) for c in self.customers}
        self.ips = {c: f"10.77.{i // 250}.{i % 250 + 1}" for i, c in enumerate(self.customers)}
        self.payees: dict[tuple[str, str, str], str] = {}

    def post(self, customer: str, path: str, body: dict, **headers: str):
        return self.http.post(f"{self.api}/api/v1/{path}", json=body, headers={
            "Authorization": f"Bearer {self.tokens[customer]}",
            "X-Forwarded-For": self.ips[customer], **headers})

    def add_payee(self, key: tuple[str, str, str]) -> None:
        customer, last4, name = key
        answer = self.post(customer, "payees", {"pan": luhn_pan(last4, prefix="400000"),
                                                "name": name})
        if answer.status_code != 201:
            raise RuntimeError(f"payee {last4}: {answer.status_code} {answer.text[:200]}")
        self.payees[key] = answer.json()["id"]

    def send(self, job: dict[str, Any]) -> dict[str, Any]:
        customer = job["customer_id"]
        started = time.time()
        payee = self.payees[(customer, job["last4"], job["name"])]
        quote = self.post(customer, "transfer-quotes", {
            "payee_id": payee, "amount": {"value": job["amount"], "currency": "KES"}})
        if quote.status_code != 201:
            return {**job, "error": f"quote {quote.status_code}", "sent_at": started}
        answer = self.post(customer, "transfers", {"quote_id": quote.json()["id"]},
                           **{"Idempotency-Key": str(uuid.uuid4())})
        if answer.status_code != 202:
            return {**job, "error": f"transfer {answer.status_code}", "sent_at": started}
        return {**job, "transfer_id": answer.json()["id"], "total": quote.json()["total"]["value"],
                "sent_at": started}


def chaos(stack: BenchStack, kill_at: list[float], outage: float, started: float,
          events: list[dict[str, Any]]) -> None:
    for second in kill_at:
        delay = started + second - time.time()
        if delay > 0:
            time.sleep(delay)  # scenario timing ("the worker dies at T"), not a wait on a condition
        events.append({"at": round(time.time() - started, 2), "what": "kill -9 worker"})
        say(f"transfers: kill -9 worker at {time.time() - started:.1f} s")
        stack.kill_worker()
        time.sleep(outage)
        stack.restart_worker()
        events.append({"at": round(time.time() - started, 2), "what": "worker ready"})


def read_rows(database_url: str, since: float) -> dict[str, dict[str, Any]]:
    with pg_connect(database_url) as conn:
        rows = conn.execute(
            "SELECT t.id::text, t.state, t.customer_id, t.total, t.hold_id, t.hold_settled, "
            "t.network_outcome, t.failure_code, t.inquiries, t.redrives, "
            "extract(epoch FROM t.state_changed_at) FROM transfers_transfer t "
            "WHERE t.created_at >= to_timestamp(%s)", (since,)).fetchall()
    keys = ("id", "state", "customer_id", "total", "hold_id", "hold_settled", "network_outcome",
            "failure_code", "inquiries", "redrives", "state_changed_at")
    return {row[0]: {**dict(zip(keys, row, strict=True)), "state_changed_at": float(row[-1])}
            for row in rows}


def money_of(operations: list[dict[str, Any]]) -> dict[str, Counter]:
    """Per reference (the transfer id): count and amount of each ledger move."""
    moves: dict[str, Counter] = defaultdict(Counter)
    for op in operations:
        if op["type"] in ("hold", "capture", "release"):
            moves[op["reference"]][op["type"]] += 1
            moves[op["reference"]][f"{op['type']}_amount"] += op["amount"]
    return moves


def audit(rows: dict[str, dict[str, Any]], accounts: dict[str, dict[str, Any]],
          stats: dict[str, Any]) -> dict[str, Any]:
    """Each transfer's end against the network's and the ledger's own records."""
    by_code = (stats.get("payouts") or {}).get("by_code") or {}
    moves: dict[str, Counter] = {}
    for account in accounts.values():
        moves.update(money_of(account.get("operations") or []))
    problems: dict[str, list[str]] = defaultdict(list)
    attention = []
    states = Counter()
    for tid, row in rows.items():
        states[row["state"]] += 1
        network = (by_code.get(tid) or {}).get("status")
        paid = network == "ACCEPTED"
        move = moves.get(tid, Counter())
        open_holds = move["hold"] - move["capture"] - move["release"]
        if row["state"] not in FINAL:
            problems["not_final"].append(tid)
        if move["capture"] > 1 or move["release"] > 1 or move["capture"] + move["release"] > 1:
            problems["settled_twice"].append(tid)
        if move["hold"] > 1:
            problems["held_twice"].append(tid)
        if paid and row["state"] != "needs_attention" and move["capture_amount"] != row["total"]:
            problems["paid_but_not_captured"].append(tid)
        if not paid and move["capture"]:
            problems["captured_but_not_paid"].append(tid)
        if open_holds and row["state"] != "needs_attention":
            problems["hold_left_open"].append(tid)
        if row["state"] == "completed" and not paid:
            problems["completed_but_not_paid"].append(tid)
        if row["state"] in ("declined", "rejected") and paid:
            problems["paid_but_" + row["state"]].append(tid)
        if row["state"] == "needs_attention":
            attention.append({
                "transfer_id": tid, "network": network or "no payout under this code",
                "hold_open": bool(open_holds), "inquiries": row["inquiries"],
                "operations_would": (
                    "admin → Settle from the network's answer: capture the hold (paid)" if paid
                    else "admin → Settle from the network's answer: release the hold (declined)"
                    if network == "DECLINED" else
                    "wait and settle from the network's answer once it has one (pending)"
                    if network == "PENDING" else
                    "no payout under this code: admin → Settle from the network's answer "
                    "sends the OCT again under the same code and settles from that answer")})
    payouts, ledger = stats.get("payouts") or {}, stats.get("ledger") or {}
    return {
        "transfers": len(rows),
        "final_states": dict(sorted(states.items())),
        "problems": {name: len(ids) for name, ids in problems.items()},
        "problem_ids": {name: ids[:10] for name, ids in problems.items()},
        "double_payouts": payouts.get("duplicate_effects"),
        "double_ledger_effects": ledger.get("duplicate_effects"),
        "holds_settled_twice": len((ledger.get("conservation") or {})
                                   .get("holds_settled_more_than_once") or []),
        "holds_open": len((ledger.get("conservation") or {}).get("open_holds") or []),
        "needs_attention": attention,
        "sandbox_money_rule_ok": (stats.get("money_rule") or {}).get("ok"),
        "sandbox_conservation_ok": (ledger.get("conservation") or {}).get("ok"),
        "payout_replays": payouts.get("replays"),
        "payout_and_search_calls": sum(((stats.get("calls") or {}).get("payouts") or {})
                                       .values()),
        "injected": stats.get("faults"),
    }


SETTLE_AS_OPERATIONS = """
import json, os
from core.errors import ApplicationError
from transfers.services import resolve_from_network
out = []
for tid in os.environ["BENCH_NEEDS_ATTENTION"].split(","):
    try:
        out.append({"transfer_id": tid, "result": resolve_from_network(tid, actor="bench-operations").state})
    except ApplicationError as exc:
        out.append({"transfer_id": tid, "result": exc.code})
print("OPERATIONS " + json.dumps(out))
"""


def settle_as_operations(stack: BenchStack, transfer_ids: list[str]) -> list[dict[str, Any]]:
    """Admin's action for each transfer that needs attention, run by the stack's own code
    and settings (its database, its sandbox) in a fresh process."""
    if not transfer_ids:
        return []
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETTLE_AS_OPERATIONS], cwd=REPO,
        env={**os.environ, **stack.env, "BENCH_NEEDS_ATTENTION": ",".join(transfer_ids)},
        capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        if line.startswith("OPERATIONS "):
            return json.loads(line.removeprefix("OPERATIONS "))
    raise RuntimeError(f"settling as operations failed: {done.stderr[-2000:]}")


def run_transfers(args: argparse.Namespace) -> dict[str, Any]:
    count = 100 if args.quick else args.transfers
    rng = random.Random(args.seed)
    arrival_s = count / args.transfer_rate
    # Anywhere in the arrivals or the work queued behind them.
    kills = sorted(round(rng.uniform(3.0, max(4.0, 1.5 * arrival_s)), 1)
                   for _ in range(args.transfer_kills))
    urls = connection_urls()
    env = {**urls, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "WEB_CONCURRENCY": "2",
           "WORKER_CONCURRENCY": str(args.workers), "DJANGO_DEBUG": "false",
           "TRUSTED_PROXY_COUNT": "1", **SETTINGS}
    prepare_database(env)
    flush_redis(urls["REDIS_URL"])
    flush_redis(urls["CELERY_BROKER_URL"])
    stack = BenchStack("fault-transfers", env)
    stack.up()
    try:
        jobs = plan(count, args.seed)
        sender = Sender(stack.web_url, jobs)
        for customer_index, customer in enumerate(sender.customers):
            balance = LOW_BALANCE if customer_index % 10 == 9 else BALANCE
            stack.sandbox._call("POST", "/mpesa/accounts",
                                {"customer_id": customer, "balance": balance})
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(sender.add_payee, sorted({(j["customer_id"], j["last4"], j["name"])
                                                    for j in jobs})))
        say(f"transfers: {count} at {args.transfer_rate:g}/s, payouts {PAYOUT_FAULT}, "
            f"worker killed at {kills} s")
        stack.sandbox.set_fault("payouts", **PAYOUT_FAULT)
        started = time.time()
        events: list[dict[str, Any]] = []
        killer = threading.Thread(target=chaos, args=(stack, kills, args.outage, started, events),
                                  daemon=True)
        killer.start()
        futures = []
        with ThreadPoolExecutor(16) as pool:
            for index, job in enumerate(jobs):
                delay = started + index / args.transfer_rate - time.time()
                if delay > 0:
                    time.sleep(delay)  # open-loop arrivals at the given rate
                futures.append(pool.submit(sender.send, job))
            sent = [future.result() for future in futures]
        arrived = time.time()
        say(f"transfers: all sent in {arrived - started:.1f} s")
        ids = {item["transfer_id"] for item in sent if "transfer_id" in item}

        def all_final():
            rows = read_rows(urls["DATABASE_URL"], started - 1)
            ours = {tid: row for tid, row in rows.items() if tid in ids}
            return ours if len(ours) == len(ids) and all(
                r["state"] in FINAL for r in ours.values()) and not killer.is_alive() else None

        # The faults stay on while the work is done (at most half the deadline), so every
        # payout and most inquiries meet them; then they clear and the rest must settle.
        try:
            wait_until(all_final, timeout=args.transfer_settle / 2, interval=1.0,
                       message="every transfer final under faults")
        except TimeoutError:
            say("transfers: still moving at half the deadline; clearing the faults")
        killer.join(timeout=120)
        stack.sandbox.clear_faults()
        recovery = time.time()
        events.append({"at": round(recovery - started, 2), "what": "payout faults cleared"})
        say(f"transfers: faults cleared at {recovery - started:.1f} s")
        try:
            wait_until(all_final, timeout=args.transfer_settle / 2, interval=1.0,
                       message="every transfer final")
        except TimeoutError:
            say("transfers: the deadline passed with transfers still moving")
        settled_at = time.time()
        rows = {tid: row for tid, row in read_rows(urls["DATABASE_URL"], started - 1).items()
                if tid in ids}
        # What operations do with a transfer that needs attention, once the run is over:
        # admin's "Settle from the network's answer" (the same service), after which its
        # money is audited like every other transfer's.
        operations = settle_as_operations(
            stack, [tid for tid, row in rows.items() if row["state"] == "needs_attention"])
        if operations:
            say(f"transfers: operations settled {len(operations)} needing attention: "
                + ", ".join(f"{o['transfer_id'][:8]} → {o['result']}" for o in operations))
            rows = {tid: row for tid, row in read_rows(urls["DATABASE_URL"], started - 1).items()
                    if tid in ids}
        accounts = {c: stack.sandbox._call("GET", f"/mpesa/accounts/{c}")
                    for c in sender.customers}
        stats = stack.sandbox.stats()
    finally:
        stack.down()
    verdict = audit(rows, accounts, stats)
    verdict["operations_settled"] = operations
    last_final = max((r["state_changed_at"] for r in rows.values()), default=recovery)
    verdict.update({
        "requested": count, "send_errors": Counter(i["error"] for i in sent if "error" in i),
        "arrivals_s": round(arrived - started, 1),
        "faults_cleared_at_s": round(recovery - started, 1),
        "s_from_start_to_last_final": round(
            max((r["state_changed_at"] for r in rows.values()), default=started) - started, 1),
        "worker_kills_at_s": kills, "events": events,
        "s_from_recovery_to_last_final": max(0.0, round(last_final - recovery, 1)),
        "waited_s": round(settled_at - recovery, 1),
        "max_redrives": max((r["redrives"] for r in rows.values()), default=0),
        "max_inquiries": max((r["inquiries"] for r in rows.values()), default=0),
    })
    return {"scenario": "transfers", "settings": SETTINGS, "payout_fault": PAYOUT_FAULT,
            "cards": CARDS, "seed": args.seed, "verdict": verdict}


def table_row(verdict: dict[str, Any]) -> list[Any]:
    problems = sum(verdict["problems"].values())
    return [verdict["transfers"], verdict["arrivals_s"], len(verdict["worker_kills_at_s"]),
            verdict["s_from_start_to_last_final"], verdict["faults_cleared_at_s"], problems,
            verdict["double_payouts"],
            verdict["holds_settled_twice"],
            verdict["holds_open"] - sum(1 for a in verdict["needs_attention"] if a["hold_open"]),
            len(verdict["needs_attention"]),
            ", ".join(f"{k} {n}" for k, n in verdict["final_states"].items())]


TABLE_HEADER = ["transfers", "arrivals s", "kills", "last final at s", "faults cleared at s",
                "ledger≠network", "double payouts", "double captures",
                "holds open (not needs_attention)", "needs_attention", "final states"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transfers", type=int, default=500, help="transfers (500)")
    parser.add_argument("--transfer-rate", type=float, default=4.0,
                        help="transfers sent per second (4)")
    parser.add_argument("--transfer-kills", type=int, default=3,
                        help="kill -9 the worker this many times at random points (3)")
    parser.add_argument("--transfer-settle", type=float, default=600.0,
                        help="seconds after the last send for every transfer to be final: "
                             "faults on for the first half at most (600)")
    parser.add_argument("--seed", type=int, default=7)
