"""Benchmark: the ingest role against the raw pipeline it replaces, and its memory (issue 8).

Two legacy-pg 10.23 containers: a source holding a database `bench` grown to each size in turn,
and the target, provisioned by the collection. At each size, in the same benchmark run and
alternating, with the target's copy dropped before each run:
  raw:  createdb; docker exec SRC pg_dump -Fc bench | docker exec -i TGT pg_restore -d bench  (the issue's
        baseline, pg_dump's default compression)
  raw Z1: the same with pg_dump -Z 1, the level the role uses (ingest.compression): like for like, so the
        role's own overhead shows apart from the choice of compression
  role: ansible-playbook ssot.governance.ingest --tags ingest (sources, plan, approval read from
        approvals.yml, pre-ingest snapshot of the target, roles, the same pipeline, every table
        compared with the source) - once with row counts only (ingest.checksums: false) and once
        with content checksums (the example's default), so the cost of each verification shows.
Then one more role run with the memory of its Ansible processes sampled (as bench/snapshot_bench.py).

Usage: bench/ingest_bench.py [--sizes-mib 200 2048] [--runs 3] [--write docs/benchmarks.md] [--keep]
(make bench-ingest runs it with the defaults and updates docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import (MiB, PASSWORD, begin_end, docker, fill, machine, median, must, psql, run_playbook, workspace,
                     write_section)

TARGET, SOURCE = "ssot-bench-ingest", "ssot-bench-ingest-src"
RAW = r"""set -euo pipefail
docker exec "$2" psql -U postgres -d postgres -qc "CREATE DATABASE bench"
docker exec "$1" pg_dump -U postgres -Fc $3 bench | docker exec -i "$2" pg_restore -U postgres -d bench
"""


def set_checksums(ws: Path, on: bool) -> None:
    doc = yaml.safe_load((ws / "ssot.yml").read_text())
    doc["ingest"] = dict(doc.get("ingest") or {}, checksums=on)
    (ws / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))


def bench_ssot(doc: dict) -> None:
    doc["sources"] = [{"id": "bench", "kind": "container", "container": SOURCE, "databases": ["bench"]}]


def reset_target(ws: Path) -> None:
    psql(TARGET, "DROP DATABASE IF EXISTS bench")
    for folder in (ws / "snapshots").glob("*-pre-ingest"):
        shutil.rmtree(folder, ignore_errors=True)


def pending_ingest(ws: Path) -> list[dict]:
    runbook = json.loads((ws / "runbook.json").read_text())
    return [d for d in runbook["decisions"] if d["status"] == "pending" and d["id"].startswith("ingest.")]


def approve(ws: Path, first: dict) -> None:
    """Loading is a decision: a run stops at it (fails closed); a named bench operator approves the decision that run
    raised, as the gate printed it (its id is bound to the facts: the SSOT's digest, the plan, the tools found)."""
    pending = pending_ingest(ws)
    if first["rc"] == 0 or not pending:
        raise SystemExit("expected the ingestion to stop at its decision:\n" + first["output"][-3000:])
    path = ws / "approvals.yml"
    doc = yaml.safe_load(path.read_text()) if path.exists() else None
    entries = (doc or {}).get("approvals") or []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for d in pending:
        entry = {"decision": d["id"], "option": "ingest", "approved_by": "bench operator", "approved_at": now,
                 "reason": "benchmark", "ssot_digest": d["ssot_digest"]}
        entry.update((k, d[k]) for k in ("environment", "card") if d.get(k))
        entries.append(entry)
    path.write_text(yaml.safe_dump({"approvals": entries}, sort_keys=False))


def raw_run(z: str = "") -> float:
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", RAW, "raw", SOURCE, TARGET, z], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"raw pipeline failed: {proc.stderr[-2000:]}")
    return elapsed


def role_run(ws: Path, sample_memory=False) -> dict:
    """One timed role run. A run that stops at a decision not approved yet (the first of each configuration, or after
    the facts changed) is approved and run again; only the run that loads is timed."""
    result = run_playbook("ssot.governance.ingest", ws, ["--tags", "ingest"], sample_memory=sample_memory)
    if result["rc"] != 0 and pending_ingest(ws):
        approve(ws, result)
        reset_target(ws)
        result = run_playbook("ssot.governance.ingest", ws, ["--tags", "ingest"], sample_memory=sample_memory)
    must(result, "ingest role")
    loads = sorted(ws.glob("evidence/*/*-ingest-load.json"), key=lambda p: (p.parent.name, p.name))
    loaded = json.loads(loads[-1].read_text())["loaded"][0]
    result["load_seconds"] = loaded["seconds"]
    if loaded["mismatches"]:
        raise SystemExit(f"the role's verification failed: {loaded['mismatches']}")
    return result


def measure(ws: Path, runs: int, log) -> dict:
    out = {"raw": [], "raw_z1": [], "counts": [], "checksums": [], "counts_load": [], "checksums_load": []}
    reset_target(ws)
    raw_run()                                        # warm-up, not counted
    order = ["raw", "counts", "raw_z1", "checksums"]
    for i in range(runs):
        for kind in order[i % 4:] + order[:i % 4]:
            reset_target(ws)
            if kind == "raw":
                out["raw"].append(raw_run())
            elif kind == "raw_z1":
                out["raw_z1"].append(raw_run("-Z1"))
            else:
                set_checksums(ws, kind == "checksums")
                r = role_run(ws)
                out[kind].append(r["seconds"])
                out[kind + "_load"].append(r["load_seconds"])
            log(f"    {kind}: {out[kind][-1]:.2f} s")
    reset_target(ws)
    set_checksums(ws, True)
    mem = role_run(ws, sample_memory=True)
    out.update(peak_pss=mem["peak_pss"], peak_rss=mem["peak_rss"], samples=mem["samples"])
    reset_target(ws)
    return out


def markdown(results: list[dict], runs: int, started: str) -> str:
    begin, end = begin_end("ingest_bench")
    out = [begin, "", "## Ingestion: the role against the raw pipeline (issue 8)", "",
           f"Command: `make bench-ingest` — machine: {machine()}, measured {started}.", "",
           "Two legacy-pg 10.23 containers: the source with a database `bench` grown to each size (4 tables of rows "
           "of about 250 bytes: a bigint, a timestamptz, a text), the target provisioned by the collection; the "
           "target's copy dropped before each run. Alternating in the same run (one raw warm-up first, not counted): "
           "the raw pipeline the issue names (`createdb`; `docker exec SRC pg_dump -Fc bench | docker exec -i TGT "
           "pg_restore -d bench`, pg_dump's default compression), the same raw pipeline with `-Z 1` (the level the "
           "role uses, `ingest.compression`: like for like), and the role (`ansible-playbook ssot.governance.ingest "
           "--tags ingest`: sources, plan, approval, pre-ingest snapshot of the target, roles, the pipeline, then "
           "every table compared with the source) with row counts only and with content checksums. *Load* is the "
           "pipeline step inside the role (the module's own timing). Memory: one more role run (checksums on), the "
           "Ansible processes sampled every 50 ms.", "",
           "| database | runs each | raw -Fc (s) | raw -Fc -Z1 (s) | role, counts (s) | ÷ raw | ÷ raw Z1 | "
           "role, checksums (s) | ÷ raw | ÷ raw Z1 | load step (s) | load ÷ raw Z1 | peak PSS, Ansible (MiB) | "
           "largest RSS (MiB) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        raw, z1, counts, cks = (median(r[k]) for k in ("raw", "raw_z1", "counts", "checksums"))
        load = median(r["counts_load"] + r["checksums_load"])
        out.append(f"| {r['db_bytes'] / MiB:,.0f} MiB | {runs} | {raw:.2f} | {z1:.2f} | {counts:.2f} | "
                   f"{counts / raw:.3f} | {counts / z1:.3f} | {cks:.2f} | {cks / raw:.3f} | {cks / z1:.3f} | "
                   f"{load:.2f} | {load / z1:.3f} | {r['peak_pss'] / MiB:.0f} | {r['peak_rss'] / MiB:.0f} |")

    def runs_of(r, k):
        return ", ".join(f"{x:.2f}" for x in r[k])
    out += ["", "Medians. Goal (issue 8): at most 1.11 times the raw time (90% of its throughput) with at least 2 GB, "
            "and constant memory of the Ansible processes. Individual runs (s): " + "; ".join(
                f"{r['db_bytes'] / MiB:,.0f} MiB raw {runs_of(r, 'raw')} / raw Z1 {runs_of(r, 'raw_z1')} / role "
                f"counts {runs_of(r, 'counts')} / role checksums {runs_of(r, 'checksums')}" for r in results) + ".",
            "", end]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mib", type=int, nargs="+", default=[200, 2048])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", type=Path, help="update this markdown file's ingestion section")
    ap.add_argument("--keep", action="store_true", help="keep the containers afterwards")
    ap.add_argument("--smoke", action="store_true", help="one run at 8 MiB, nothing written (make test runs it: the benchmark still works)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.sizes_mib, args.runs, args.write = [8], 1, None
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def log(msg):
        print(msg, flush=True)

    results = []
    tmp = Path(tempfile.mkdtemp(prefix="ssot-bench-ingest-"))
    try:
        for name in (TARGET, SOURCE):
            docker("rm", "-f", "-v", name, check=False)
        ws = workspace(tmp / "ws", TARGET, bench_ssot)
        log("provision the target, start the source")
        must(run_playbook("ssot.governance.provision", ws), "provision")
        image = yaml.safe_load((ws / "ssot.yml").read_text())["target"]["image"]
        docker("run", "-d", "--name", SOURCE, "-e", f"POSTGRES_PASSWORD={PASSWORD}", image)
        for dummy in range(60):
            if docker("exec", SOURCE, "pg_isready", "-U", "postgres", "-q", check=False).returncode == 0:
                break
            time.sleep(1)
        time.sleep(2)
        for size in sorted(args.sizes_mib):
            log(f"fill the source to {size} MiB")
            db_bytes = fill(SOURCE, "bench", size * MiB, log=log)
            log(f"measure at {db_bytes / MiB:,.0f} MiB")
            r = measure(ws, args.runs, log)
            r["db_bytes"] = db_bytes
            results.append(r)
            log(json.dumps(r))
    finally:
        if not args.keep:
            for name in (TARGET, SOURCE):
                docker("rm", "-f", "-v", name, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    section = markdown(results, args.runs, started)
    print(section)
    if args.write:
        write_section(args.write, "ingest_bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
