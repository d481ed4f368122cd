"""Benchmark: what the ssot.governance.runbook recorder costs a playbook run.

A playbook of N `set_fact` tasks on 5 local hosts (forks 5) is run alternately
without and with the recorder, in the same benchmark run, R times each; the
figure is the ratio of the median wall times. With the recorder, its own cost
per event is profiled (SSOT_RECORDER_PROFILE) to show that it does not grow
with the size of the run: mean cost of the first and the last 10% of events.

Usage: bench/recorder_overhead.py [--tasks 200 2000] [--runs 5] [--write docs/benchmarks.md]
(make bench-recorder runs it with the defaults and updates docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import begin_end, write_section

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOSTS = 5
BEGIN, END = begin_end("recorder_overhead")


def make_project(base: Path, tasks: int, hosts: int = HOSTS) -> Path:
    """N `set_fact` tasks on ``hosts`` local hosts h1..hN, each its own environment under the run's folder."""
    base.mkdir(parents=True, exist_ok=True)
    # Each host its own environment (one workspace each under the run's folder, bench_ws): since issue 18 a
    # workspace named by several hosts is refused.
    (base / "inventory.ini").write_text("[bench]\n" + "".join(
        f"h{i} ansible_connection=local ansible_python_interpreter={sys.executable}\n" for i in range(1, hosts + 1))
        + "\n[bench:vars]\nssot_workspace={{ bench_ws }}/{{ inventory_hostname }}\n")
    lines = ["---", "- name: Recorder benchmark", "  hosts: bench", "  gather_facts: false", "  tasks:"]
    for i in range(tasks):
        lines += [f"    - name: Set fact {i}", "      ansible.builtin.set_fact:", f"        bench_{i}: \"{{{{ {i} }}}}\""]
    (base / "bench.yml").write_text("\n".join(lines) + "\n")
    return base


def run_once(project: Path, recorder: bool, workspace: Path, profile: Path | None, env_extra=None) -> float:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_FORKS=str(HOSTS),
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    env.update(env_extra or {})
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if recorder:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ssot.governance.runbook"
    if profile is not None:
        env["SSOT_RECORDER_PROFILE"] = str(profile)
    for i in range(1, HOSTS + 1):
        (workspace / f"h{i}").mkdir(parents=True, exist_ok=True)
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(project / "inventory.ini"), str(project / "bench.yml"),
           "-e", f"bench_ws={workspace}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=project,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def bench(tasks: int, runs: int, tmp: Path, warm: bool) -> dict:
    project = make_project(tmp / f"p{tasks}", tasks)
    plain, recorded, profiles = [], [], []
    if warm:
        run_once(project, False, tmp / "warm", None)  # warm caches (imports, bytecode)
    for i in range(runs):
        plain.append(run_once(project, False, tmp / f"ws-{tasks}-plain-{i}", None))
        prof = tmp / f"profile-{tasks}-{i}.json"
        recorded.append(run_once(project, True, tmp / f"ws-{tasks}-rec-{i}", prof))
        profiles.append(json.loads(prof.read_text()))
        journal = tmp / f"ws-{tasks}-rec-{i}" / "h1" / "journal.jsonl"
        assert journal.exists() and journal.stat().st_size > 0, "the recorder did not record"
    events = profiles[len(profiles) // 2]["costs"]
    costs = [wall for dummy, wall, dummy in events]
    # Host results are the events that grow with a run; compare the first and last tenth of them,
    # in wall time and in CPU time of the recorder's thread.
    results = [wall for name, wall, dummy in events if name == "_result"]
    results_cpu = [cpu for name, dummy, cpu in events if name == "_result"]
    tenth = max(1, len(results) // 10)
    lines = sum(1 for dummy in open(tmp / f"ws-{tasks}-rec-0" / "h1" / "journal.jsonl"))
    return {
        "tasks": tasks, "hosts": HOSTS, "runs": runs,
        "plain_median_s": statistics.median(plain), "recorded_median_s": statistics.median(recorded),
        "plain_all": plain, "recorded_all": recorded,
        "overhead": statistics.median(recorded) / statistics.median(plain) - 1,
        "events": len(costs), "journal_lines": lines,
        "recorder_total_s": sum(costs),
        "first_tenth_us": statistics.median(results[:tenth]) * 1e6,
        "last_tenth_us": statistics.median(results[-tenth:]) * 1e6,
        "first_tenth_cpu_us": statistics.median(results_cpu[:tenth]) * 1e6,
        "last_tenth_cpu_us": statistics.median(results_cpu[-tenth:]) * 1e6,
        "recorder_cpu_s": sum(cpu for dummy, dummy, cpu in events),
        "median_event_us": statistics.median(costs) * 1e6, "max_event_ms": max(costs) * 1e3,
    }


def markdown(results: list[dict], command: str) -> str:
    cpu = platform.processor() or platform.machine()
    out = [BEGIN, "", "## Recorder overhead (issue 4)", "",
           f"Command: `{command}` — machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
           f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
           "A playbook of N `set_fact` tasks on 5 local hosts (forks 5, each its own environment), run alternately "
           "without and with the "
           "`ssot.governance.runbook` callback in the same benchmark run; medians of the wall time. The recorder's "
           "own time per event comes from its profile (`SSOT_RECORDER_PROFILE`); the playbook's events are one per "
           "task start and one per host result, plus play start/end.", "",
           "| tasks × hosts | runs each | without (median s) | with (median s) | overhead | events | "
           "per event, median (µs) | per host result, first / last 10%: wall (µs) | "
           "per host result, first / last 10%: CPU (µs) | recorder total: wall / CPU (s) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {r['tasks']} × {r['hosts']} | {r['runs']} | {r['plain_median_s']:.2f} | "
                   f"{r['recorded_median_s']:.2f} | {r['overhead'] * 100:+.1f}% | {r['events']} | "
                   f"{r['median_event_us']:.0f} | {r['first_tenth_us']:.0f} / {r['last_tenth_us']:.0f} | "
                   f"{r['first_tenth_cpu_us']:.0f} / {r['last_tenth_cpu_us']:.0f} | "
                   f"{r['recorder_total_s']:.2f} / {r['recorder_cpu_s']:.2f} |")
    out += ["", "Goals (issue 4): at most +5% wall time at 200 tasks; the cost per event must not grow with the "
            "run (first vs last 10% of host results). Why the per-result cost can grow in a long run while the "
            "recorder's own work does not: see *Recorder cost per event and forking* below. The slowest single "
            "events are the view writes at play start/end (fsync), a few per run. Individual runs (s): " + "; ".join(
                f"{r['tasks']} tasks without {', '.join(f'{x:.2f}' for x in r['plain_all'])} / with "
                f"{', '.join(f'{x:.2f}' for x in r['recorded_all'])}" for r in results), "", END]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--runs", type=int, default=9, help="runs each below 1,000 tasks (the spread between runs here is about ±8%%)")
    ap.add_argument("--runs-large", type=int, default=2, help="runs each for 1,000 tasks or more (each takes minutes)")
    ap.add_argument("--write", type=Path, help="update this markdown file's recorder section")
    ap.add_argument("--smoke", action="store_true", help="5 tasks, one run each, nothing written (make test runs it: the benchmark still works)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.tasks, args.runs, args.runs_large, args.write = [5], 1, 1, None
    results = []
    with tempfile.TemporaryDirectory(prefix="ssot-bench-") as tmp:
        for tasks in args.tasks:
            r = bench(tasks, args.runs if tasks < 1000 else args.runs_large, Path(tmp), warm=not results)
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if not k.endswith("_all")}), flush=True)
    section = markdown(results, "make bench-recorder")
    print(section)
    if args.write:
        write_section(args.write, "recorder_overhead", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
