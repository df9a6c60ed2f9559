"""The bench's memory figures (bench/memory.py) and the soak's flags and report
(bench/run.py): the pure parts, plus one look at a real process tree (no stack, no
assertion on a time)."""

from __future__ import annotations

import subprocess

import pytest

from bench.figures import summarize
from bench.loadgen import Trace, make_apps
from bench.memory import (
    MIB,
    RssSampler,
    growth,
    growth_verdict,
    role_summary,
    rss_figures,
    thin,
    tree_members,
)
from bench.phase import PhaseConfig, PhaseRun
from bench.run import SOAK, parse_args, peak_rss_cell, soak_report, wanted_phases
from devstack import wait_until


def _seen(main: float, *children: float, pss: bool = True) -> dict:
    """One look at a role: pid 100 the main process, 101.. its children (sizes in MiB)."""
    look = {100: ("main", int(main * MIB), int(main * MIB / 2) if pss else None)}
    for index, size in enumerate(children):
        look[101 + index] = ("child", int(size * MIB), int(size * MIB / 2) if pss else None)
    return look


def test_the_peak_is_the_largest_one_process_in_any_sample_and_the_sums_are_at_start_and_end():
    summary = role_summary([(0.0, _seen(80, 100, 110)), (1.0, _seen(80, 150, 120)),
                            (2.0, _seen(81, 130, 125))])
    assert summary["peak_rss_per_process"] == 150.0
    assert summary["peak_rss_process_kind"] == "child"
    assert summary["peak_pss_per_process"] == 75.0
    assert summary["start"] == {"max_rss_per_process": 110.0, "rss_sum": 290.0, "pss_sum": 145.0}
    assert summary["end"] == {"max_rss_per_process": 130.0, "rss_sum": 336.0, "pss_sum": 168.0}
    assert summary["processes_at_end"] == 3 and summary["samples"] == 3


def test_a_sum_is_unknown_when_one_process_has_no_pss():
    summary = role_summary([(0.0, _seen(80, 100, pss=False))])
    assert summary["start"]["pss_sum"] is None and summary["peak_pss_per_process"] is None
    assert summary["start"]["rss_sum"] == 180.0


def test_a_role_without_any_process_has_no_summary():
    assert role_summary([(0.0, {}), (1.0, {})]) == {}


def test_growth_leaves_out_the_warm_up_and_the_main_process():
    series = [(0.0, _seen(80, 50, 50)), (30.0, _seen(90, 90, 95)),
              (60.0, _seen(95, 100, 100)), (1800.0, _seen(200, 104, 130))]
    found = growth(series, after_s=60.0)
    assert (found["from_s"], found["to_s"]) == (60.0, 1800.0)
    assert [(r["pid"], r["growth_mib"], r["growth_pct"]) for r in found["processes"]] == [
        (101, 4.0, 4.0), (102, 30.0, 30.0)]


def test_growth_judges_only_processes_alive_from_the_mark_to_the_end():
    replaced = {100: ("main", 80 * MIB, None), 105: ("child", 60 * MIB, None)}
    found = growth([(60.0, _seen(80, 100)), (600.0, replaced)], after_s=60.0)
    assert found["processes"] == []
    assert growth_verdict(found)["ok"] is None


def test_growth_needs_two_looks_after_the_warm_up():
    found = growth([(0.0, _seen(80, 100)), (70.0, _seen(80, 200))], after_s=60.0)
    assert found["processes"] == [] and "cannot tell" in growth_verdict(found)["line"]


@pytest.mark.parametrize(("start", "end", "ok"), [
    (100.0, 109.0, True),   # +9 MiB, +9%
    (100.0, 111.0, False),  # +11%: over the share
    (300.0, 321.0, False),  # +7%, but +21 MiB: over the size
    (100.0, 95.0, True),    # shrank
])
def test_the_verdict_wants_growth_under_both_the_share_and_the_size(start, end, ok):
    found = growth([(60.0, _seen(80, start)), (1800.0, _seen(80, end))], after_s=60.0)
    verdict = growth_verdict(found)
    assert verdict["ok"] is ok
    assert verdict["line"].startswith("growth under 10% and under 20 MiB per process: "
                                      + ("ok" if ok else "GREW"))


def test_the_json_series_is_thinned_and_keeps_the_last_look():
    series = [(float(t), _seen(80, 100 + t)) for t in range(1000)]
    points = thin(series, points=100)
    assert len(points) <= 101 and points[-1]["t"] == 999.0
    assert points[0] == {"t": 0.0, "rss_sum": 180.0, "max_rss": 100.0,
                         "rss_by_pid": {"100": 80.0, "101": 100.0}}


def test_a_phase_json_carries_rss_per_role_and_the_table_its_peaks():
    config = PhaseConfig(name="green70", count=1, mix={"green": 1.0}, concurrency=None,
                         rate=1.0, rss_warmup_s=0.0)
    run = PhaseRun(config=config, stack=None, started_wall=1000.0)
    run.traces.append(Trace(app=make_apps(1, {"green": 1.0}, "g")[0]))
    run.rss = {"web": [(0.0, _seen(60, 90, 95)), (5.0, _seen(60, 99, 97))],
               "worker": [(0.0, _seen(70, 120, 121)), (5.0, _seen(70, 122, 124))],
               "beat": [(0.0, _seen(50)), (5.0, _seen(50))]}
    summary = summarize(run)
    rss = summary["rss_mib"]
    assert rss == rss_figures(run.rss, 0.0)
    assert rss["worker_verdict"]["ok"] is True
    assert peak_rss_cell(rss) == "99/124/50"
    assert peak_rss_cell(None) == "-/-/-"


def test_soak_defaults_to_half_an_hour_of_green70_and_a_flag_beside_it_wins():
    args = parse_args(["--soak"])
    assert (args.phases, args.open_seconds) == (SOAK["phases"], 1800.0)
    args = parse_args(["--soak", "--phases", "transfers70", "--open-seconds", "120"])
    assert (args.phases, args.open_seconds) == ("transfers70", 120.0)


def test_a_soak_without_a_rate_measures_its_peak_first():
    assert wanted_phases(parse_args(["--soak"])) == ["green", "green70"]
    assert wanted_phases(parse_args(["--soak", "--phases", "transfers70"])) == [
        "transfers", "transfers70"]
    assert wanted_phases(parse_args(["--soak", "--rate", "5"])) == ["green70"]
    # Outside a soak nothing is added: a missing peak is refused as before.
    assert wanted_phases(parse_args(["--phases", "green70"])) == ["green70"]


def test_the_soak_report_gives_each_roles_start_and_end_and_the_verdict():
    rss = rss_figures({"web": [(0.0, _seen(60, 90)), (120.0, _seen(60, 92))],
                       "worker": [(0.0, _seen(70, 100)), (60.0, _seen(70, 110)),
                                  (120.0, _seen(70, 130))]}, after_s=60.0)
    lines = soak_report({"name": "green70", "load": {"arrival_rate_per_s": 3.0},
                         "window_s": 120.0, "finished": 360, "rss_mib": rss})
    text = "\n".join(lines)
    assert "worker RSS sum 170.0 -> 200.0 MiB (+30.0 MiB, +17.6%)" in text
    assert "worker pool pid 101 from 60 s to 120 s: 110.0 -> 130.0 MiB (+20.0 MiB, +18.2%)" in text
    assert lines[-1].endswith("GREW (largest +20.0 MiB, +18.2%, over 1 processes, 60-120 s)")
    assert "the first 60 s left out as warm-up" in lines[-1]


@pytest.fixture
def tree():
    """A real process tree: a shell (the leader) with two children."""
    leader = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"])
    yield leader.pid
    for child in tree_members({"t": leader.pid})["t"]:
        subprocess.run(["kill", str(child)], check=False)
    leader.wait(timeout=10)


def test_the_sampler_sees_a_trees_leader_and_its_children(tree):
    wait_until(lambda: len(tree_members({"t": tree})["t"]) == 3, 10, 0.05, "two children")
    sampler = RssSampler(lambda: {"worker": tree, "gone": None}, interval=60.0)
    sampler.start()
    series = sampler.stop()
    assert len(series["worker"]) == 2 and [seen for _, seen in series["gone"]] == [{}, {}]
    kinds = sorted(kind for kind, _, _ in series["worker"][-1][1].values())
    assert kinds == ["child", "child", "main"]
    assert all(rss > 0 for _, rss, _ in series["worker"][-1][1].values())
    assert role_summary(series["worker"])["processes_at_end"] == 3


def test_the_sampler_stops_by_itself_once_no_process_is_left():
    sampler = RssSampler(lambda: {"web": None, "worker": None})
    sampler._t0 = 0.0
    assert sampler.sample() is False
