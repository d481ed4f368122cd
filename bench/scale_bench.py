"""Benchmark: the recorder over many environments in one run (issue 35).

The recorder benchmark's shape (bench/recorder_overhead.py): local hosts, each its own environment (workspace), three
`set_fact` tasks, forks 25 - run with 10, 100 and 1,000 hosts, without the recorder (bare), with it on the `files`
store and with it on the `postgresql` store (PostgreSQL 15 in a container on this machine), interleaved in the same
benchmark run, every playbook under `ulimit -n 1024` (soft and hard). Each recorded run is checked: exit 0 and every
environment's journal closed (`run_end`), in its folder or in the database, and the fleet view holding every row.
Memory: the peak of the Ansible processes' PSS summed (bench/_common.py's MemorySampler), recorded minus bare.

Usage: bench/scale_bench.py [--envs 10 100 1000] [--runs 3] [--stores files postgresql] [--write docs/benchmarks.md]
       bench/scale_bench.py --smoke     (one run of 10 environments, both stores: make test runs it)
(make bench-scale runs it with the defaults and updates docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, VENV_BIN, MemorySampler, begin_end, write_section
from recorder_overhead import make_project
from store_server import StoreServer

BEGIN, END = begin_end("scale_bench")
FORKS = 25
TASKS = 3
NOFILE = 1024
MiB = 1 << 20


def _limit_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def run_once(project: Path, hosts: int, workspace: Path, store: str | None, dsn: str | None = None) -> dict:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_FORKS=str(FORKS),
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if store:
        env.update(ANSIBLE_CALLBACKS_ENABLED="ssot.governance.runbook", SSOT_STORE=store)
        if dsn:
            env["SSOT_STORE_DSN"] = dsn
    workspace.mkdir(parents=True, exist_ok=True)
    for i in range(1, hosts + 1):
        (workspace / f"h{i}").mkdir(exist_ok=True)
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(project / "inventory.ini"), str(project / "bench.yml"),
           "-e", f"bench_ws={workspace}"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=project,
                            preexec_fn=_limit_files)
    sampler = MemorySampler(proc.pid, interval=0.1)
    sampler.start()
    err = proc.communicate()[1]
    elapsed = time.perf_counter() - start
    sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({proc.returncode}, {hosts} environments, store {store}): "
                         f"{err[-3000:]}")
    return {"seconds": elapsed, "peak_pss": sampler.peak_pss}


def check_recorded(workspace: Path, hosts: int, store: str, dsn: str | None) -> None:
    """Every environment's run ended in its journal, and the fleet view has a row for each (files store)."""
    if store == "files":
        for i in range(1, hosts + 1):
            journal = workspace / f"h{i}" / "journal.jsonl"
            kinds = [json.loads(line)["kind"] for line in journal.read_bytes().splitlines()]
            last_run = kinds[len(kinds) - 1 - kinds[::-1].index("run_start"):]
            assert "run_end" in last_run, f"{journal}: the run did not end there ({last_run[-3:]})"
        fleet = json.loads((workspace / "fleet-panel.json").read_text())
        assert len(fleet["environments"]) == hosts, f"fleet view: {len(fleet['environments'])} rows, not {hosts}"
        return
    import psycopg2
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(DISTINCT namespace) FROM ssot_journal WHERE line LIKE '%\"kind\": \"run_end\"%' "
                    "OR line LIKE '%\"kind\":\"run_end\"%'")
        ended = cur.fetchone()[0]
    assert ended == hosts, f"postgresql store: {ended} environments ended their run, not {hosts}"


def bench(hosts: int, runs: int, stores: list[str], tmp: Path, server: StoreServer | None) -> dict:
    project = make_project(tmp / f"p{hosts}", TASKS, hosts)
    times = dict((k, []) for k in ["bare"] + stores)
    memory = dict((k, []) for k in ["bare"] + stores)
    for i in range(runs):
        for kind in ["bare"] + stores:
            ws = tmp / f"{kind}-{hosts}-{i}"
            dsn = server.dsn(server.new_database()) if kind == "postgresql" else None
            r = run_once(project, hosts, ws, None if kind == "bare" else kind, dsn)
            if kind != "bare":
                check_recorded(ws, hosts, kind, dsn)
            times[kind].append(r["seconds"])
            memory[kind].append(r["peak_pss"])
    med = dict((k, statistics.median(v)) for k, v in times.items())
    mem = dict((k, statistics.median(v)) for k, v in memory.items())
    return {"envs": hosts, "runs": runs, "medians": med, "all": times,
            "ratio": dict((k, med[k] / med["bare"]) for k in stores),
            "per_env_ms": dict((k, (med[k] - med["bare"]) / hosts * 1000) for k in stores),
            "memory_added_mib": dict((k, (mem[k] - mem["bare"]) / MiB) for k in stores),
            "bare_pss_mib": mem["bare"] / MiB}


def markdown(results: list[dict], stores: list[str], command: str) -> str:
    cpu = platform.processor() or platform.machine()
    out = [BEGIN, "", "## Many environments in one run (issue 35)", "",
           f"Command: `{command}` — machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
           f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
           f"Local hosts, each its own environment (workspace), {TASKS} `set_fact` tasks, forks {FORKS}, every "
           f"playbook under `ulimit -n {NOFILE}`; bare (no recorder) and recorded on each store, interleaved in the "
           "same run; medians of the wall time, ratios to bare; memory: the peak of the Ansible processes' summed "
           "PSS, recorded minus bare; per environment: (recorded − bare) / environments. Each recorded run is "
           "checked to have ended every environment's journal (and, files store, the fleet view's rows).", "",
           "| environments | runs each | bare (s) | " + " | ".join(
               f"{s} (s) | {s} / bare | {s}: per environment (ms) | {s}: memory added (MiB)" for s in stores) + " |",
           "|---|---|---|" + "---|---|---|---|" * len(stores)]
    for r in results:
        cells = [f"{r['envs']:,}", str(r["runs"]), f"{r['medians']['bare']:.2f}"]
        for s in stores:
            cells += [f"{r['medians'][s]:.2f}", f"**{r['ratio'][s]:.3f}×**", f"{r['per_env_ms'][s]:.1f}",
                      f"{r['memory_added_mib'][s]:+.0f}"]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Goals (issue 35): at 1,000 environments recorded ≤ 1.15× bare (files) and ≤ 1.25× (postgresql), "
            "memory added ≤ 300 MiB, the cost per environment flat from 10 to 1,000. Individual runs (s): " + "; ".join(
                f"{r['envs']}: " + " / ".join(f"{k} {', '.join(f'{x:.2f}' for x in v)}" for k, v in r["all"].items())
                for r in results), "", END]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--stores", nargs="+", default=["files", "postgresql"], choices=["files", "postgresql"])
    ap.add_argument("--smoke", action="store_true", help="one run of 10 environments: the benchmark still works")
    ap.add_argument("--write", type=Path, help="update this markdown file's scale section")
    args = ap.parse_args(argv)
    if args.smoke:
        args.envs, args.runs, args.write = [10], 1, None
    server = StoreServer().start() if "postgresql" in args.stores else None
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="ssot-bench-scale-") as tmp:
            for hosts in args.envs:
                r = bench(hosts, args.runs, args.stores, Path(tmp), server)
                results.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "all"}), flush=True)
    finally:
        if server is not None:
            server.stop()
    section = markdown(results, args.stores, "make bench-scale")
    print(section)
    if args.write:
        write_section(args.write, "scale_bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
