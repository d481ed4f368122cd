"""Benchmark: the snapshot role against the raw commands it replaces, and its memory (issue 7).

A legacy container (the real legacy-pg 10.23 image, provisioned by the collection) gets a
database grown to each size in turn. At each size, in the same benchmark run and alternating:
  role: ansible-playbook ssot.governance.snapshot --tags snapshot  (estimate, plan, capture
        streamed and hashed, manifest, verify: everything but the restore test)
  raw:  docker inspect; docker image inspect; docker logs --tail 500;
        docker exec C pg_dumpall > file; docker commit + docker save > file; sha256sum of the files
Both capture the same things uncompressed (the SSOT says compression: none and image_save,
approved once by a named bench operator). Then one more role run with the memory of its
Ansible processes sampled (ansible-playbook, its workers, the module's Python; not the docker
CLI): peak of the summed PSS and the largest single RSS.

Usage: bench/snapshot_bench.py [--sizes-mib 200 2048] [--runs 3] [--write docs/benchmarks.md] [--keep]
(make bench-snapshot runs it with the defaults and updates docs/benchmarks.md; about 15 minutes here)
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
from _common import MiB, begin_end, docker, fill, machine, median, must, run_playbook, workspace, \
    write_section

CONTAINER = "ssot-bench-snapshot"
RAW = r"""set -euo pipefail
d="$1"; c="$2"; img="$3"; tag="$4"
mkdir -p "$d"
docker inspect "$c" > "$d/container-inspect.json"
docker image inspect "$img" > "$d/image-inspect.json"
docker logs --tail 500 "$c" > "$d/container-logs-tail500.log" 2>&1
docker exec "$c" pg_dumpall -U postgres > "$d/pg_dumpall.sql"
docker commit "$c" "$tag" > /dev/null
docker save "$tag" > "$d/snapshot-image.tar"
cd "$d" && sha256sum container-inspect.json image-inspect.json container-logs-tail500.log pg_dumpall.sql \
  snapshot-image.tar > SHA256SUMS
"""


def bench_ssot(doc: dict) -> None:
    doc["snapshot"] = {"capture": ["container_inspect", "image_inspect", "logs", "pg_dumpall", "image_save"],
                       "compression": "none", "size_limit": "64GiB"}


def clean_outputs(ws: Path, raw_dir: Path) -> None:
    shutil.rmtree(ws / "snapshots", ignore_errors=True)
    shutil.rmtree(raw_dir, ignore_errors=True)
    for repo in (f"{CONTAINER}-snapshot", "ssot-bench-raw"):
        tags = [line for line in docker("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                                        f"reference={repo}").stdout.split() if line]
        if tags:
            docker("rmi", "-f", *tags, check=False)


def approve_image_save(ws: Path) -> None:
    """The image save is a decision: the first run fails closed; a named bench operator approves it."""
    first = run_playbook("ssot.governance.snapshot", ws, ["--tags", "snapshot"])
    runbook = json.loads((ws / "runbook.json").read_text())
    pending = [d for d in runbook["decisions"] if d["status"] == "pending" and d["id"].startswith("snapshot.")]
    if first["rc"] == 0 or not pending:
        raise SystemExit("expected the first snapshot to stop at the image_save decision:\n" + first["output"][-3000:])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = [{"decision": d["id"], "option": "save" if ".image_save." in d["id"] else "proceed",
                "approved_by": "bench operator", "approved_at": now, "reason": "benchmark",
                "ssot_digest": d["ssot_digest"]} for d in pending]
    (ws / "approvals.yml").write_text(yaml.safe_dump({"approvals": entries}, sort_keys=False))


def raw_run(raw_dir: Path, image: str, n: int) -> float:
    start = time.perf_counter()
    docker_tag = f"ssot-bench-raw:{n}"
    proc = subprocess.run(["bash", "-c", RAW, "raw", str(raw_dir), CONTAINER, image, docker_tag],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"raw commands failed: {proc.stderr[-2000:]}")
    return elapsed


def sizes_of(folder: Path) -> dict:
    return {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}


def measure(ws: Path, tmp: Path, runs: int, log) -> dict:
    image = yaml.safe_load((ws / "ssot.yml").read_text())["target"]["image"]
    raw_dir = tmp / "raw"
    out = {"raw": [], "role": []}
    clean_outputs(ws, raw_dir)
    raw_run(raw_dir, image, 0)                       # warm-up, not counted (page cache, first commit)
    out["files"] = sizes_of(raw_dir)
    for i in range(runs):
        for kind in (("raw", "role") if i % 2 == 0 else ("role", "raw")):
            clean_outputs(ws, raw_dir)
            if kind == "raw":
                out["raw"].append(raw_run(raw_dir, image, i + 1))
            else:
                out["role"].append(must(run_playbook("ssot.governance.snapshot", ws, ["--tags", "snapshot"]),
                                        "snapshot role")["seconds"])
            log(f"    {kind}: {out[kind][-1]:.2f} s")
    clean_outputs(ws, raw_dir)
    mem = must(run_playbook("ssot.governance.snapshot", ws, ["--tags", "snapshot"], sample_memory=True),
               "snapshot role (memory)")
    folder = sorted((ws / "snapshots").iterdir())[-1]
    out["role_files"] = sizes_of(folder)
    out.update(peak_pss=mem["peak_pss"], peak_rss=mem["peak_rss"], samples=mem["samples"],
               memory_run_seconds=mem["seconds"])
    clean_outputs(ws, raw_dir)
    return out


def markdown(results: list[dict], runs: int, started: str) -> str:
    begin, end = begin_end("snapshot_bench")
    out = [begin, "", "## Snapshot: the role against the raw commands (issue 7)", "",
           f"Command: `make bench-snapshot` — machine: {machine()}, measured {started}.", "",
           "The legacy-pg 10.23 container (provisioned by the collection) with a database `bench` grown to each "
           "size (4 tables of rows of about 250 bytes). At each size, alternating in the same run (one raw warm-up "
           "first, not counted): the role (`ansible-playbook ssot.governance.snapshot --tags snapshot`: "
           "estimate, plan, approved image save, capture streamed and hashed, manifest, verify) against the raw "
           "commands it replaces (`docker inspect`, `docker image inspect`, `docker logs --tail 500`, "
           "`docker exec … pg_dumpall > file`, `docker commit` + `docker save > file`, `sha256sum` of the files). "
           "Both uncompressed. Memory: one more role run, the Ansible processes (ansible-playbook, its "
           "workers, the module's Python; not the docker CLI) sampled every 50 ms.", "",
           "| database | dump | image tar | runs each | raw (median s) | role (median s) | ratio | goal | "
           "peak PSS, Ansible processes (MiB) | largest RSS (MiB) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = median(r["role"]) / median(r["raw"])
        out.append(f"| {r['db_bytes'] / MiB:,.0f} MiB | {r['files'].get('pg_dumpall.sql', 0) / MiB:,.0f} MiB | "
                   f"{r['files'].get('snapshot-image.tar', 0) / MiB:,.0f} MiB | {runs} | {median(r['raw']):.2f} | "
                   f"{median(r['role']):.2f} | {ratio:.3f} | {'≤ 1.10' if r['db_bytes'] >= 2 << 30 else '-'} | "
                   f"{r['peak_pss'] / MiB:.0f} | {r['peak_rss'] / MiB:.0f} |")
    out += ["", "Goals (issue 7): at most 1.10 times the raw time with a database of at least 2 GB; peak memory "
            "of the Ansible processes the same at 200 MB and 2 GB, and under 200 MB. Individual runs (s): " +
            "; ".join(f"{r['db_bytes'] / MiB:,.0f} MiB raw {', '.join(f'{x:.2f}' for x in r['raw'])} / role "
                      f"{', '.join(f'{x:.2f}' for x in r['role'])}" for r in results) + ".", "", end]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mib", type=int, nargs="+", default=[200, 2048])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", type=Path, help="update this markdown file's snapshot section")
    ap.add_argument("--keep", action="store_true", help="keep the container (and its data) afterwards")
    ap.add_argument("--smoke", action="store_true", help="one run at 8 MiB, nothing written (make test runs it: the benchmark still works)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.sizes_mib, args.runs, args.write = [8], 1, None
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def log(msg):
        print(msg, flush=True)

    results = []
    tmp = Path(tempfile.mkdtemp(prefix="ssot-bench-snapshot-"))
    try:
        docker("rm", "-f", "-v", CONTAINER, check=False)
        ws = workspace(tmp / "ws", CONTAINER, bench_ssot)
        log("provision")
        must(run_playbook("ssot.governance.provision", ws), "provision")
        approve_image_save(ws)
        for size in sorted(args.sizes_mib):
            log(f"fill to {size} MiB")
            db_bytes = fill(CONTAINER, "bench", size * MiB, log=log)
            log(f"measure at {db_bytes / MiB:,.0f} MiB")
            r = measure(ws, tmp, args.runs, log)
            r["db_bytes"] = db_bytes
            results.append(r)
            log(json.dumps({k: v for k, v in r.items() if k not in ("files", "role_files")}))
    finally:
        if not args.keep:
            docker("rm", "-f", "-v", CONTAINER, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    section = markdown(results, args.runs, started)
    print(section)
    if args.write:
        write_section(args.write, "snapshot_bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
