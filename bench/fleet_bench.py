#!/usr/bin/env python3
"""Fleet benchmark (issue 18): validate 1, 4 and 12 environments over SSH, side by side in one run.

Each environment is its own legacy-pg 10.23 container, reached through its own sshd on loopback (the test
suite's fleet hosts, tests/integration/_fleet.py), with forks equal to the hosts. Every size is provisioned
once (not timed), then ``ssot.governance.validate`` is timed ``--repeat`` times. Reported: the median wall
time and its ratio to 1 environment (goal: 12 take at most 3x the time of 1), the recorder's cost per host
result (CPU seconds per result event in the callback, from its profile option: it must stay flat), and the
peak memory of the Ansible processes on the controller (PSS summed; largest single RSS).

Usage: bench/fleet_bench.py [--sizes 1,4,12] [--repeat 3] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (CACHE, ROOT, MemorySampler, begin_end, build_pg_image, docker, machine, median,
                     write_section)

sys.path[:0] = [str(ROOT / "tests" / "integration")]

from _fleet import Fleet  # noqa: E402

BEGIN, END = begin_end("fleet_bench")
FLAVOR = "legacy-pg-10.23"


def timed(fleet: Fleet, playbook: str, forks: int, profile: Path | None = None) -> dict:
    env = fleet.env({"SSOT_RECORDER_PROFILE": str(profile)} if profile else None)
    start = time.perf_counter()
    proc = subprocess.Popen(fleet.argv(playbook, "-f", str(forks)), cwd=fleet.root, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    out = proc.communicate()[0]
    seconds = time.perf_counter() - start
    sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{playbook} over {forks} host(s) failed (rc {proc.returncode}):\n{out[-4000:]}")
    return {"seconds": seconds, "peak_pss": sampler.peak_pss, "peak_rss": sampler.peak_rss}


def result_cost(profile: Path) -> tuple[int, float]:
    """(result events, mean CPU seconds per result event) from the recorder's profile."""
    costs = json.loads(profile.read_text())
    results = [c for c in costs if c[0] in ("_result", "Result")]
    return len(results), (sum(c[2] for c in results) / len(results)) if results else float("nan")


def measure(size: int, repeat: int, info: dict, base: Path) -> dict:
    names: list[str] = []

    def container():
        name = f"ssot-bench-fleet-{os.urandom(3).hex()}"
        names.append(name)
        return name
    fleet = Fleet(base / f"n{size}", [FLAVOR] * size, {FLAVOR: info}, container)
    try:
        timed(fleet, "site.yml", size)                      # provision + first validate, not timed
        runs = []
        for i in range(repeat):
            profile = base / f"profile-{size}-{i}.json"
            run = timed(fleet, "ssot.governance.validate", size, profile)
            run["results"], run["cost"] = result_cost(profile)
            runs.append(run)
            print(f"  {size:>2} host(s) run {i + 1}: {run['seconds']:.1f} s, {run['results']} results, "
                  f"{run['cost'] * 1000:.2f} ms CPU per result, peak PSS {run['peak_pss'] / 2**20:.0f} MiB",
                  flush=True)
        return {"size": size, "seconds": median([r["seconds"] for r in runs]),
                "cost": median([r["cost"] for r in runs]), "results": runs[0]["results"],
                "peak_pss": max(r["peak_pss"] for r in runs), "peak_rss": max(r["peak_rss"] for r in runs),
                "runs": [r["seconds"] for r in runs]}
    finally:
        fleet.close()
        for name in names:
            docker("rm", "-f", "-v", name, check=False)


def section(results: list[dict], repeat: int) -> str:
    one = results[0]
    rows = [f"| {r['size']} | {r['seconds']:.1f} s | {r['seconds'] / one['seconds']:.2f}x | {r['results']} | "
            f"{r['cost'] * 1000:.2f} ms | {r['peak_pss'] / 2**20:.0f} MiB | {r['peak_rss'] / 2**20:.0f} MiB | "
            f"{', '.join(f'{s:.1f}' for s in r['runs'])} |" for r in results]
    last = results[-1]
    verdict = "meets" if last["seconds"] <= 3 * one["seconds"] else "MISSES"
    return "\n".join([
        BEGIN, "", "## Fleet: 1, 4 and 12 environments over SSH (issue 18)", "",
        f"`make bench-fleet` on {machine()}: `ssot.governance.validate` over N hosts, each its own legacy-pg 10.23 "
        "container behind its own sshd on loopback, forks = N, provisioned once before timing; median of "
        f"{repeat} runs. Recorder cost: CPU seconds the callback spends per host result (its `profile` option). "
        "Memory: the Ansible processes on the controller (PSS summed over them; the largest single RSS).", "",
        "| environments | wall (median) | vs 1 | host results | recorder CPU per result | peak PSS | largest RSS "
        "| runs (s) |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        f"Goal: {last['size']} environments in at most 3x the wall time of 1 — this run "
        f"{verdict} it ({last['seconds'] / one['seconds']:.2f}x). The recorder's cost per result goes from "
        f"{one['cost'] * 1000:.2f} ms (1) to {last['cost'] * 1000:.2f} ms ({last['size']}).", "", END])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4,12")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    info = build_pg_image.build(FLAVOR, CACHE)
    results = []
    with tempfile.TemporaryDirectory(prefix="ssot-bench-fleet-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"fleet of {size}:", flush=True)
            results.append(measure(size, args.repeat, info, Path(tmp)))
    text = section(results, args.repeat)
    print(text)
    if args.write:
        write_section(args.write, "fleet_bench", text)


if __name__ == "__main__":
    main()
