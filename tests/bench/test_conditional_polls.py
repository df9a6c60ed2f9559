"""The bench's polls as the docs tell an app to send them (If-None-Match with the last
ETag), and their price: a 304 at the read probe's price of a 304 poll, not a full read's."""

from __future__ import annotations

from bench.figures import summarize
from bench.loadgen import TRANSFER_MIX, Trace, make_apps
from bench.phase import PhaseConfig, PhaseRun
from bench.run import read_price_cell


def _run(probe: dict) -> PhaseRun:
    config = PhaseConfig(name="transfers", count=10, mix=TRANSFER_MIX, concurrency=8,
                         rate=None, flow="transfers")
    run = PhaseRun(config=config, stack=None, started_wall=1000.0)
    run.cpu = {"web": 0.2, "worker": 0.5, "beat": 0.01, "cpu_window_s": 5.0, "machine": 2.0}
    run.read_probe = probe
    for index, app in enumerate(make_apps(10, TRANSFER_MIX, "t")):
        trace = Trace(app=app, submitted_wall=1000.0 + index, submitted_at=float(index),
                      request_id=f"id-{index}", state="completed", terminal_seen_at=index + 2.0)
        # One full read, three 304 polls, one full read when the state moved.
        for step, status in enumerate((200, 304, 304, 304, 200)):
            trace.reads.append((index + step * 0.5, 0.005, status))
        run.traces.append(trace)
        run.db[trace.request_id] = {"state": "completed", "created": 1000.0 + index,
                                    "terminal": 1001.0 + index}
    return run


def test_304_polls_are_priced_at_the_probes_304_price():
    summary = summarize(_run({"web_cpu_ms_per_read": 2.0, "web_cpu_ms_per_poll_304": 0.5}))
    assert summary["read_statuses"] == {"200": 20, "304": 30}
    # 71 ms of service CPU per transfer, less two 2 ms reads and three 0.5 ms polls.
    assert summary["cpu_ms_per_provisioning_without_polling"] == 71.0 - 4.0 - 1.5


def test_a_probe_without_a_304_price_prices_every_read_as_a_full_one():
    summary = summarize(_run({"web_cpu_ms_per_read": 2.0}))
    assert summary["cpu_ms_per_provisioning_without_polling"] == 71.0 - 10.0


def test_the_table_shows_both_prices():
    assert read_price_cell({"web_cpu_ms_per_read": 2.1, "web_cpu_ms_per_poll_304": 0.9}) == \
        "2.1/0.9"
    assert read_price_cell({"web_cpu_ms_per_read": 2.1}) == "2.1/-"
    assert read_price_cell(None) == "-"
