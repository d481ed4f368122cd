"""Benchmark: what checking a module's records against the contract (schemas/result.schema.json) costs the callback.

The callback validates the records of every result of this collection's modules before the writer keeps them
(plugin_utils/_contract.py). This times that check on the records of a pg_check-sized result (5 decisions,
20 checks, 5 findings, 2 evidence files) and on a result with no records (every other task: nothing is checked).

Usage: bench/contract_cost.py [--runs N]   (prints a JSON line; a few seconds)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / ".collections"))

from ansible_collections.ssot.governance.plugins.module_utils import _result  # noqa: E402
from ansible_collections.ssot.governance.plugins.plugin_utils import _contract  # noqa: E402

DIGEST = "sha256:" + "a" * 64


def pg_check_records():
    decision = {"id": "validate.setting.x.1a2b", "phase": 3, "title": "x", "context": "c", "risk": "r",
                "rollback": "r", "options": [{"id": "fix", "label": "A"}, {"id": "accept", "label": "B"}],
                "ssot_digest": DIGEST, "status": "pending", "how_to_approve": "approvals.yml"}
    return {"evidence": [_result.evidence("a.log", text="x" * 5000),
                         _result.evidence("a.json", content={"k": list(range(100))})],
            "milestone": _result.milestone("validate", "blocked", ["approve"]), "decisions": [decision] * 5,
            "checks": [{"id": "setting.%d" % i, "status": "match", "severity": "high", "expected": "1",
                        "actual": "1"} for i in range(20)],
            "findings": [{"id": "finding.%d" % i, "severity": "low", "title": "t", "explanation": "e"}
                         for i in range(5)]}


def per_call(fn, runs, inner=200):
    times = []
    for dummy in range(runs):
        start = time.perf_counter()
        for dummy in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner * 1e6)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--smoke", action="store_true", help="one run (make test runs it: the benchmark still works)")
    args = ap.parse_args()
    if args.smoke:
        args.runs = 1
    records = pg_check_records()
    assert _contract.problems(records) == []         # also builds the validator once, as the first result does
    print(json.dumps({
        "pg_check_sized_result_us": round(per_call(lambda: _contract.problems(records), args.runs)),
        "no_records_us": round(per_call(lambda: _contract.split({"changed": False, "msg": "x"}), args.runs), 2),
        "runs": args.runs}))


if __name__ == "__main__":
    main()
