"""Benchmark: the recorder's own cost per host result, outside Ansible, and what forking does to it.

Records 1,500 host results (the shape of a set_fact result) with the real Recorder, four ways:
no fork; a fork every 5 results (what ansible-playbook does: one worker per host per task);
the same with 1.5 M live objects in the process (a grown Ansible heap); and with gc.freeze().
The first/last tenth of a 10,000-result run shows whether the recorder's own work grows.

Usage: bench/recorder_isolated.py [--smoke]   (prints a JSON line per case; about 30 s; --smoke: a few results)
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder  # noqa: E402
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor  # noqa: E402


def record(n, fork_every=0, heap=0, freeze=False):
    keep = [{"k%d" % i: [i]} for i in range(heap)]
    if freeze:
        gc.freeze()
    rec = Recorder(tempfile.mkdtemp(prefix="ssot-iso-"), redactor=Redactor(environ={}))
    rec.open("bench.yml", "bench")
    rec.start_play("p", [{"id": "s%d" % i, "name": "t%d" % i, "role": None, "phase": None} for i in range(200)])
    costs, kids = [], []
    for i in range(n):
        if fork_every and i % fork_every == 0:
            pid = os.fork()
            if pid == 0:
                time.sleep(0.05)
                os._exit(0)
            kids.append(pid)
        start = time.thread_time()
        rec.result({"step": "s%d" % (i % 200), "host": "h%d" % (i % 5), "status": "ok",
                    "result": {"ansible_facts": {"bench_%d" % i: i}, "changed": False}})
        costs.append(time.thread_time() - start)
    for pid in kids:
        os.waitpid(pid, 0)
    rec.close("ok")
    if freeze:
        gc.unfreeze()
    del keep
    tenth = len(costs) // 10
    return {"results": n, "fork_every": fork_every, "live_objects": heap, "gc_freeze": freeze,
            "cpu_us_median": round(statistics.median(costs) * 1e6, 1), "cpu_us_mean": round(statistics.mean(costs) * 1e6, 1),
            "first_tenth_us": round(statistics.median(costs[:tenth]) * 1e6, 1),
            "last_tenth_us": round(statistics.median(costs[-tenth:]) * 1e6, 1)}


def main(argv=None) -> int:
    smoke = "--smoke" in (sys.argv[1:] if argv is None else argv)  # a few results each way: it still works
    cases = ({"n": 10000}, {"n": 1500, "fork_every": 5}, {"n": 1500, "fork_every": 5, "heap": 1500000},
             {"n": 1500, "fork_every": 5, "heap": 1500000, "freeze": True})
    for case in cases:
        if smoke:
            case = dict(case, n=50, heap=min(case.get("heap", 0), 1000))
        print(json.dumps(record(**case)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
