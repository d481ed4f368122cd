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


def _busy() -> float:
    """CPU seconds this machine spent busy so far, all cores (controller, sshd, modules, dockerd, PostgreSQL)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:3]) + sum(values[5:8])) / os.sysconf("SC_CLK_TCK")     # user nice system irq softirq steal


def bare_playbook(fleet: Fleet, tasks: int) -> str:
    """The Ansible floor for the same hosts: ``tasks`` module runs per host over the same SSH, no collection code."""
    path = fleet.root / "bare.yml"
    path.write_text("- name: Bare\n  hosts: ssot_targets\n  gather_facts: false\n  tasks:\n" + "".join(
        f"    - name: Ping {i}\n      ansible.builtin.ping:\n" for i in range(tasks)))
    return str(path)


def timed(fleet: Fleet, playbook: str, forks: int, profile: Path | None = None, recorder: bool = True) -> dict:
    extra = {"SSOT_RECORDER_PROFILE": str(profile)} if profile else {}
    if not recorder:
        # The same configuration without the recorder.
        bare = fleet.root / "bare.cfg"
        bare.write_text("".join(line for line in (fleet.root / "ansible.cfg").read_text().splitlines(True)
                                if not line.startswith("callbacks_enabled")))
        extra["ANSIBLE_CONFIG"] = str(bare)
    env = fleet.env(extra)
    busy = _busy()
    start = time.perf_counter()
    proc = subprocess.Popen(fleet.argv(playbook, "-f", str(forks)), cwd=fleet.root, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    out = proc.stdout.read()
    dummy, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{playbook} over {forks} host(s) failed (rc {proc.returncode}):\n{out[-4000:]}")
    # CPU on the controller (ansible-playbook and everything it ran: workers, ssh clients, local modules) and on the
    # whole machine (the targets' sshd, modules, docker, PostgreSQL too): here they all share the same cores.
    return {"seconds": seconds, "peak_pss": sampler.peak_pss, "peak_rss": sampler.peak_rss,
            "controller_cpu": usage.ru_utime + usage.ru_stime, "machine_cpu": _busy() - busy}


def result_cost(profile: Path) -> tuple[int, float]:
    """(result events, mean CPU seconds per result event) from the recorder's profile."""
    costs = json.loads(profile.read_text())["costs"]
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
        runs, bare = [], []
        for i in range(repeat):
            profile = base / f"profile-{size}-{i}.json"
            run = timed(fleet, "ssot.governance.validate", size, profile)
            run["results"], run["cost"] = result_cost(profile)
            runs.append(run)
            # Baseline in the same run: plain Ansible, as many module runs per host over the same SSH.
            bare.append(timed(fleet, bare_playbook(fleet, run["results"] // size), size, recorder=False))
            print(f"  {size:>2} host(s) run {i + 1}: {run['seconds']:.1f} s (bare {bare[-1]['seconds']:.1f} s), "
                  f"{run['results']} results, {run['cost'] * 1000:.2f} ms recorder CPU per result, "
                  f"peak PSS {run['peak_pss'] / 2**20:.0f} MiB, CPU controller {run['controller_cpu']:.1f} s, "
                  f"machine {run['machine_cpu']:.1f} s", flush=True)
        return {"size": size, "seconds": median([r["seconds"] for r in runs]),
                "bare": median([r["seconds"] for r in bare]),
                "cost": median([r["cost"] for r in runs]), "results": runs[0]["results"],
                "controller_cpu": median([r["controller_cpu"] for r in runs]),
                "machine_cpu": median([r["machine_cpu"] for r in runs]),
                "peak_pss": max(r["peak_pss"] for r in runs), "peak_rss": max(r["peak_rss"] for r in runs),
                "runs": [r["seconds"] for r in runs]}
    finally:
        fleet.close()
        for name in names:
            docker("rm", "-f", "-v", name, check=False)


def section(results: list[dict], repeat: int) -> str:
    one, last = results[0], results[-1]
    cores = os.cpu_count() or 1
    rows = [f"| {r['size']} | {r['seconds']:.1f} s | {r['seconds'] / one['seconds']:.2f}x | "
            f"{r['bare']:.1f} s | {r['bare'] / one['bare']:.2f}x | {r['results']} | {r['cost'] * 1000:.2f} ms | "
            f"{r['controller_cpu']:.1f} s | {r['machine_cpu']:.1f} s | {r['machine_cpu'] / cores:.1f} s | "
            f"{r['peak_pss'] / 2**20:.0f} MiB | {r['peak_rss'] / 2**20:.0f} MiB |" for r in results]
    ratio = last["seconds"] / one["seconds"]
    verdict = "meets" if ratio <= 3 else "misses"
    return "\n".join([
        BEGIN, "", "## Fleet: 1, 4 and 12 environments over SSH (issue 18)", "",
        f"`make bench-fleet` on {machine()}: `ssot.governance.validate` over N hosts, each its own legacy-pg 10.23 "
        "container behind its own sshd on loopback (the suite's fleet hosts), forks = N, provisioned once before "
        f"timing; median of {repeat} runs. Baseline, in the same run: a bare playbook with as many "
        "`ansible.builtin.ping` tasks per host over the same SSH, no recorder. Recorder: CPU the callback spends per "
        "host result (its `profile` option). CPU: the controller's (ansible-playbook and all it ran) and the whole "
        "machine's (plus the targets' sshd, modules, docker and PostgreSQL, which here share the same cores); "
        "machine CPU / cores is the shortest wall time those cores allow. Memory: the Ansible processes on the "
        "controller (PSS summed; the largest single RSS).", "",
        "| environments | validate wall | vs 1 | bare wall | vs 1 | host results | recorder CPU per result "
        "| controller CPU | machine CPU | machine CPU / cores | peak PSS | largest RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        f"Goal: {last['size']} environments in at most 3x the wall time of 1. This run {verdict} it: "
        f"{ratio:.2f}x, against {last['bare'] / one['bare']:.2f}x for plain Ansible doing as many module runs over "
        f"the same SSH. With every host on this {cores}-core machine the run is bound by CPU: {last['size']} "
        f"environments need {last['machine_cpu']:.0f} CPU seconds, at least {last['machine_cpu'] / cores:.1f} s of "
        f"wall time on {cores} cores, and took {last['seconds']:.1f} s; the targets' share alone "
        f"({last['machine_cpu'] - last['controller_cpu']:.0f} s) already needs "
        f"{(last['machine_cpu'] - last['controller_cpu']) / cores / one['seconds']:.1f}x the wall time of 1 here. "
        f"With the targets on their own machines only the controller's share stays on these cores: "
        f"{last['controller_cpu']:.1f} s CPU for {last['size']}, at least {last['controller_cpu'] / cores:.1f} s "
        f"of wall time ({last['controller_cpu'] / cores / one['seconds']:.1f}x of 1). "
        f"The recorder's cost per host result stays flat: {one['cost'] * 1000:.2f} ms (1), "
        f"{last['cost'] * 1000:.2f} ms ({last['size']}); it is "
        f"{last['cost'] * last['results'] / last['controller_cpu'] * 100:.1f}% of the controller's CPU.", "", END])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4,12")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", type=Path)
    ap.add_argument("--smoke", action="store_true", help="a fleet of 2, once, nothing written (make test runs it: the benchmark still works)")
    args = ap.parse_args()
    if args.smoke:
        args.sizes, args.repeat, args.write = "2", 1, None
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
