"""Benchmark: one `validate` of the demo, beside a one-task playbook, with the demo's history and 100x / 1,000x of it
(issue 35).

A workspace of the shipped example (legacy-pg 10.23, provisioned by the collection), with a seal key and a trust root
that names its signer (as the demo has: a run seals, and the next opens from the checkpoint the seal signs). In the
same benchmark run: the floor - `ansible-playbook` of one `debug` task, no recorder - and `ansible-playbook
ssot.governance.validate`, R times each, alternating; medians. Then the workspace's journal is grown to N times its
history (its lines after the environment line repeated, each copy under its own run ids, re-chained: lines a run
finds unsealed, as a workspace copied from elsewhere would have), one validate opens it whole and seals (the
checkpoint), and validate is timed again, R times.

Usage: bench/validate_bench.py [--history 1 100 1000] [--runs 9] [--write docs/benchmarks.md]
       bench/validate_bench.py --smoke     (the demo's history only, one run each: make test runs it)
(make bench-validate runs it with the defaults and updates docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import (ROOT, VENV_BIN, begin_end, docker, machine, must, run_playbook, workspace as bench_workspace,
                     write_section)

sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.ssot.governance.plugins.module_utils import _chain, _sshsig  # noqa: E402

BEGIN, END = begin_end("validate_bench")
CONTAINER = "ssot-bench-validate"
ONE_TASK = "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: hi\n"


def keys(base: Path) -> dict:
    base.mkdir(parents=True, exist_ok=True)
    key = base / "recorder_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", str(key)], check=True)
    pub = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    root = base / "trust.yml"
    root.write_text(yaml.safe_dump({"allowed_signers": 'bench namespaces="%s,%s" %s\n' % (
        _sshsig.SEAL_NAMESPACE, "approval@ssot.governance", pub), "require_signatures": False,
        "require_seals": False}))
    return {"SSOT_SEAL_KEY": str(key), "SSOT_TRUST_ROOT": str(root)}


def floor_run(folder: Path) -> float:
    """One `debug` task, no recorder, no configuration: what any ansible-playbook costs here."""
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    start = time.perf_counter()
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(folder / "one.yml")], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the one-task playbook failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return elapsed


def collection_run(name: str, ws: Path, env_extra: dict) -> float:
    return must(run_playbook(name, ws, env_extra=env_extra), name)["seconds"]


def grow(ws: Path, times: int) -> int:
    """The journal's history repeated ``times`` times in all (each copy's runs renamed, every line re-chained)."""
    journal = ws / _chain.JOURNAL
    lines = [json.loads(x) for x in journal.read_bytes().splitlines()]
    body = [x for x in lines if x["kind"] not in (_chain.ENVIRONMENT, "seal")]
    prev, seq = lines[-1]["hash"], lines[-1]["seq"]
    with open(journal, "ab") as fh:
        for copy in range(1, times):
            out = []
            for line in body:
                seq += 1
                line = dict(line, seq=seq, prev=prev)
                if isinstance(line.get("run"), str):
                    line["run"] = f"{line['run']}-h{copy}"
                line["hash"] = _chain.line_hash(line)
                prev = line["hash"]
                out.append(_chain.canonical(line).encode() + b"\n")
            fh.write(b"".join(out))
    return seq


def measure(ws: Path, env_extra: dict, runs: int, floor_dir: Path) -> dict:
    floor, validate = [], []
    for dummy in range(runs):
        floor.append(floor_run(floor_dir))
        validate.append(collection_run("ssot.governance.validate", ws, env_extra))
    return {"floor": floor, "validate": validate, "floor_median": statistics.median(floor),
            "validate_median": statistics.median(validate)}


def markdown(results: list[dict], runs: int, started: str) -> str:
    base = results[0]
    out = [BEGIN, "", "## validate: one run of the demo, and with a long history (issue 35)", "",
           f"Command: `make bench-validate` — machine: {machine()}, measured {started}.", "",
           "The shipped example provisioned (legacy-pg 10.23), a seal key and a trust root naming its signer (as "
           "the demo). Alternating in the same run: the floor — `ansible-playbook` of one `debug` task, no recorder "
           "— and `ansible-playbook ssot.governance.validate`; medians. Then the journal grown to N times the "
           "workspace's history (its lines repeated under other run ids, re-chained), opened whole once by a "
           "validate that seals (its checkpoint), and validate timed again.", "",
           "| history | journal lines | journal (MiB) | runs each | floor (s) | validate (s) | ÷ floor | "
           "validate − with the demo's history (s) |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {r['times']}× | {r['lines']:,} | {r['bytes'] / (1 << 20):,.1f} | {runs} | "
                   f"{r['floor_median']:.2f} | **{r['validate_median']:.2f}** | "
                   f"{r['validate_median'] / r['floor_median']:.1f}× | "
                   f"{r['validate_median'] - base['validate_median']:+.2f} |")
    out += ["", "Goals (issue 35): validate ≤ 3 s and ≤ 5× the floor; with 100× and 1,000× the history at most 0.2 s "
            "more than with the demo's own. Individual runs (s): " + "; ".join(
                f"{r['times']}×: floor {', '.join(f'{x:.2f}' for x in r['floor'])} / validate "
                f"{', '.join(f'{x:.2f}' for x in r['validate'])}" for r in results), "", END]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--write", type=Path, help="update this markdown file's validate section")
    ap.add_argument("--smoke", action="store_true", help="the demo's history and 3x, one run each, nothing written "
                                                         "(make test runs it: the benchmark still works)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.history, args.runs, args.write = [1, 3], 1, None
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    tmp = Path(tempfile.mkdtemp(prefix="ssot-bench-validate-"))
    results = []
    try:
        docker("rm", "-f", "-v", CONTAINER, check=False)
        env_extra = keys(tmp / "secrets")
        ws = bench_workspace(tmp / "ws", CONTAINER)
        (tmp / "one.yml").write_text(ONE_TASK)
        collection_run("ssot.governance.provision", ws, env_extra)
        collection_run("ssot.governance.validate", ws, env_extra)
        pristine = tmp / "pristine"
        shutil.copytree(ws, pristine, symlinks=True)
        for times in sorted(args.history):
            if times > 1:
                shutil.rmtree(ws)
                shutil.copytree(pristine, ws, symlinks=True)
                grow(ws, times)
                # The first open reads it all (the lines after the last seal are new to it) and seals: a checkpoint.
                collection_run("ssot.governance.validate", ws, env_extra)
            journal = ws / _chain.JOURNAL
            r = measure(ws, env_extra, args.runs, tmp)
            r.update(times=times, lines=sum(1 for dummy in open(journal, "rb")), bytes=journal.stat().st_size)
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k not in ("floor", "validate")}), flush=True)
    finally:
        docker("rm", "-f", "-v", CONTAINER, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    section = markdown(results, args.runs, started)
    print(section)
    if args.write:
        write_section(args.write, "validate_bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
