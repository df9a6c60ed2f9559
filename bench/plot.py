"""The latency-over-time figure of a bench run: one row per phase."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def _buckets(points: Sequence[tuple[float, float]], width: float = 1.0):
    import numpy

    if not points:
        return [], [], []
    by_bucket: dict[int, list[float]] = {}
    for at, value in points:
        by_bucket.setdefault(int(at // width), []).append(value)
    keys = sorted(by_bucket)
    centres = [(k + 0.5) * width for k in keys]
    p50 = [float(numpy.percentile(by_bucket[k], 50)) for k in keys]
    p99 = [float(numpy.percentile(by_bucket[k], 99)) for k in keys]
    return centres, p50, p99


def latency_figure(phases: Sequence[tuple[str, Mapping[str, list]]], path: Path,
                   title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(phases)
    fig, axes = plt.subplots(rows, 2, figsize=(14, 3.2 * rows), squeeze=False)
    for row, (name, data) in enumerate(phases):
        left, right = axes[row]
        for key, colour in (("read", "tab:green"), ("create", "tab:blue")):
            points = data.get(key) or []
            if points:
                left.scatter([p[0] for p in points], [p[1] * 1000 for p in points], s=2,
                             alpha=0.15, color=colour)
                centres, p50, p99 = _buckets(points)
                left.plot(centres, [v * 1000 for v in p50], color=colour, lw=1.2,
                          label=f"{key} p50 (1 s)")
                left.plot(centres, [v * 1000 for v in p99], color=colour, lw=1.2, ls="--",
                          label=f"{key} p99 (1 s)")
        failed = data.get("failed") or []
        if failed:
            left.scatter([p[0] for p in failed], [max(p[1], 0.001) * 1000 for p in failed],
                         s=14, marker="x", color="tab:red",
                         label=f"refused or failed ({len(failed)})")
        left.set_yscale("log")
        left.set_ylabel("ms")
        left.set_title(f"{name}: API latency by send time", fontsize=10)
        left.grid(True, which="both", alpha=0.3)
        left.legend(fontsize=7, loc="upper right")

        terminal = data.get("terminal") or []
        if terminal:
            right.scatter([p[0] for p in terminal], [p[1] for p in terminal], s=3, alpha=0.25,
                          color="tab:purple")
            centres, p50, p99 = _buckets(terminal)
            right.plot(centres, p50, color="tab:purple", lw=1.2, label="submit→terminal p50")
            right.plot(centres, p99, color="tab:purple", lw=1.2, ls="--",
                       label="submit→terminal p99")
            twin = right.twinx()
            counts: dict[int, int] = {}
            for at, _ in terminal:
                counts[int(at)] = counts.get(int(at), 0) + 1
            twin.bar([k + 0.5 for k in counts], list(counts.values()), width=1.0, alpha=0.15,
                     color="tab:orange", label="finished per s")
            twin.set_ylabel("finished / s", fontsize=8)
            for marker in data.get("events") or []:
                right.axvline(marker["at"], color="red", lw=0.8, ls=":")
                right.text(marker["at"], right.get_ylim()[1] * 0.9, marker["what"], fontsize=7,
                           color="red", rotation=90, va="top")
        right.set_ylabel("s")
        right.set_title(f"{name}: submit→terminal by finish time", fontsize=10)
        right.grid(True, alpha=0.3)
        right.legend(fontsize=7, loc="upper left")
        for marker in data.get("events") or []:
            left.axvline(marker["at"], color="red", lw=0.8, ls=":")
    for ax in axes[-1]:
        ax.set_xlabel("seconds since the measured window began")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
