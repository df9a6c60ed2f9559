"""bench/capacity.py: the region's arithmetic from one run's measured costs (pure; no
stack, no time)."""

from __future__ import annotations

import json

import pytest

from bench.capacity import SECONDS_PER_DAY, main, plan, unit_costs


def _phase(*, web: float, worker: float, postgres: float, anchor: tuple[str, str],
           calls: dict, pss: float | None = 60.0) -> dict:
    system, operation = anchor
    calls = {**calls, system: {**calls.get(system, {}), operation: 100}}
    return {
        "finished": 80,  # fewer than the anchor's calls: the warm-up made some too
        "cpu_ms_per_provisioning": {"web": web, "web_main": 0.0, "worker": worker,
                                    "worker_main": 0.0, "beat": 0.5, "postgres_backends": postgres},
        "requests_per_provisioning": {"create": 1.0, "read": 1.0, "verify": 0.0},
        "sandbox": {"calls": calls},
        "rss_mib": {"roles": {"worker": {"peak_pss_per_process": pss},
                              "web": {"peak_pss_per_process": pss}}} if pss else {},
    }


RUN = {"git": {"commit": "abc1234"}, "started": "2026-12-04T12:00:00", "phases": {
    "green70": _phase(web=10, worker=100, postgres=5, anchor=("token_service", "provision"),
                      calls={"issuer": {"eligibility": 200}, "push": {"send": 100, "token": 2}}),
    "transfers70": _phase(web=20, worker=100, postgres=5, anchor=("payouts", "payout"),
                          calls={"mpesa": {"hold": 100, "capture": 100}}),
}}


def test_calls_are_counted_per_anchor_call_and_notifications_apart():
    cost = unit_costs(RUN["phases"]["green70"], "provisioning")
    assert cost["outside_calls"] == 3.0  # eligibility twice + the provision, per provision
    assert cost["notification_calls"] == 1.0  # the push send; its access token is not a unit's
    assert cost["worker_flow_ms"] + cost["worker_notifications_ms"] == pytest.approx(100)


def test_cores_follow_rate_times_cpu_over_the_target_and_slots_add_the_wait():
    day = SECONDS_PER_DAY * 10  # 10/s on average, 100/s in the peak hour at factor 10
    result = plan(RUN, per_day={"provisioning": day, "transfers": 0}, peak_factor=10,
                  utilisation=0.5, latency_ms=100, web_processes_per_core=1.0,
                  pg_connections_per_core=4)
    flow = result["flows"]["provisioning"]
    assert flow["peak_per_s"] == 100
    assert "transfers" not in result["flows"]
    busy = 100 * 0.082  # 100/s x 82 ms of the flow's share of the worker's CPU
    assert flow["worker_cores"] == pytest.approx(busy / 0.5, abs=0.05)
    # (82 ms + 3 calls x 100 ms) per unit: 4.66 pool processes per busy core
    assert flow["worker_slots_per_core"] == pytest.approx((0.082 + 0.3) / 0.082, abs=0.05)
    assert flow["worker_slots"] == pytest.approx(100 * (0.082 + 0.3) / 0.5, abs=1)
    assert result["web"]["cores"] == pytest.approx(100 * 0.010 / 0.5, abs=0.05)
    assert result["postgres"]["client_connections"] > result["postgres"]["pgbouncer_server_connections"]
    assert result["workers"]["memory_gib"] == pytest.approx(result["workers"]["slots"] * 60 / 1024,
                                                            abs=0.1)


def test_a_slower_counterpart_needs_more_slots_not_more_cores():
    args = dict(per_day={"provisioning": 1e6, "transfers": 5e6}, peak_factor=10,
                utilisation=0.7, web_processes_per_core=1.5, pg_connections_per_core=4)
    fast, slow = plan(RUN, latency_ms=5, **args), plan(RUN, latency_ms=500, **args)
    assert slow["workers"]["slots"] > 5 * fast["workers"]["slots"]
    assert slow["flows"]["transfers"]["worker_cores"] == fast["flows"]["transfers"]["worker_cores"]


def test_the_command_prints_json_from_a_run_file(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(RUN))
    assert main([str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["inputs"]["measured_on"] == "abc1234"
    assert set(printed["flows"]) == {"provisioning", "transfers"}
