"""Benchmark: the recorder with its postgresql store, beside the files store and a bare playbook (issue 19).

The recorder benchmark's playbook (bench/recorder_overhead.py: N `set_fact` tasks on 5 local hosts, forks 5, each host
its own environment) is run
R times in each of three ways, interleaved in the same benchmark run: without the recorder, with the recorder on the
`files` store, and with the recorder on the `postgresql` store - a real PostgreSQL 15 (the collection's test image,
fsync on) in a container on this machine, reached over TCP on 127.0.0.1. The figures are the ratios of the median wall
times to the bare playbook's. Each recorded run is checked to have left its journal (file, or rows in the database).

Usage: bench/store_bench.py [--tasks 200] [--runs 9] [--write docs/benchmarks.md]   (make bench-store)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import begin_end, write_section
from recorder_overhead import HOSTS, make_project, run_once
from store_server import StoreServer

BEGIN, END = begin_end("store_bench")


def bench(tasks: int, runs: int, tmp: Path, server: StoreServer) -> dict:
    import psycopg2

    project = make_project(tmp / f"p{tasks}", tasks)
    times = {"bare": [], "files": [], "postgresql": []}
    run_once(project, False, tmp / "warm", None)  # warm caches (imports, bytecode)
    for i in range(runs):
        times["bare"].append(run_once(project, False, tmp / f"bare-{i}", None))
        ws = tmp / f"files-{i}"
        times["files"].append(run_once(project, True, ws, None, {"SSOT_STORE": "files"}))
        assert (ws / "h1" / "journal.jsonl").stat().st_size > 0, "the files store did not record"
        dsn = server.dsn(server.new_database())  # the hosts' namespaces (h1..h5) fresh for each run
        times["postgresql"].append(run_once(project, True, tmp / f"pg-{i}", None, {"SSOT_STORE": "postgresql",
                                                                                   "SSOT_STORE_DSN": dsn}))
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM ssot_journal WHERE namespace = 'h1'")
            rows = cur.fetchone()[0]
        assert rows > tasks, f"the postgresql store recorded {rows} lines"
    medians = dict((k, statistics.median(v)) for k, v in times.items())
    return {"tasks": tasks, "hosts": HOSTS, "runs": runs, "medians": medians, "all": times, "journal_rows": rows,
            "files_ratio": medians["files"] / medians["bare"], "pg_ratio": medians["postgresql"] / medians["bare"]}


def markdown(results: list[dict], command: str) -> str:
    cpu = platform.processor() or platform.machine()
    out = [BEGIN, "", "## Recorder stores: files and postgresql (issue 19)", "",
           f"Command: `{command}` — machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
           f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
           "The recorder benchmark's playbook (N `set_fact` tasks on 5 local hosts, forks 5) run without the recorder "
           "(bare), with the recorder on the `files` store and with it on the `postgresql` store (PostgreSQL 15 in a "
           "container on this machine, fsync on, over TCP on 127.0.0.1), interleaved, in the same run; medians of the "
           "wall time, ratios to bare.", "",
           "| tasks × hosts | runs each | bare (median s) | files (median s) | postgresql (median s) | files / bare "
           "| postgresql / bare | journal rows per environment |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        m = r["medians"]
        out.append(f"| {r['tasks']} × {r['hosts']} | {r['runs']} | {m['bare']:.2f} | {m['files']:.2f} | "
                   f"{m['postgresql']:.2f} | {r['files_ratio']:.3f}× | **{r['pg_ratio']:.3f}×** | "
                   f"{r['journal_rows']} |")
    out += ["", "Goal (issue 19): the postgresql store at most 1.10× the bare playbook. The writer process commits "
            "in batches (what arrives within 0.5 s of the oldest pending line; lines and files of a batch in one "
            "transaction; `synchronous_commit = off` but for the run's last commit, as the files store fsyncs the "
            "journal once at the end), so the database's round trips stay off the playbook's path. Each host is its "
            "own environment; the 5 share the run's 2 writer processes and their 2 sessions. Individual runs (s): "
            + "; ".join(
                f"{r['tasks']} tasks: " + " / ".join(f"{k} {', '.join(f'{x:.2f}' for x in v)}"
                                                     for k, v in r["all"].items()) for r in results), "", END]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, nargs="+", default=[200])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--write", type=Path, help="update this markdown file's store section")
    ap.add_argument("--smoke", action="store_true", help="5 tasks, one run each, nothing written (make test runs it: the benchmark still works)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.tasks, args.runs, args.write = [5], 1, None
    server = StoreServer().start()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="ssot-bench-store-") as tmp:
            for tasks in args.tasks:
                r = bench(tasks, args.runs, Path(tmp), server)
                results.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "all"}), flush=True)
    finally:
        server.stop()
    section = markdown(results, "make bench-store")
    print(section)
    if args.write:
        write_section(args.write, "store_bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
