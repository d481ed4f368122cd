"""Every benchmark still runs: each bench/*.py in its smoke mode (tiny size, one run, nothing written), against the
real engine and servers as its full run does. A benchmark a change broke fails the suite here, not months later at
`make bench-*`. The full runs stay out of `make test` (docs/benchmarks.md gives their commands)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _support import ROOT

BENCHES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if not p.stem.startswith("_"))


def test_the_benchmarks_are_all_here():
    assert {"scale_bench", "ingest_bench", "snapshot_bench", "store_bench", "fleet_bench", "recorder_overhead",
            "validate_bench"} <= set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_every_benchmark_runs_in_its_smoke_mode(name, docker_engine):
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, f"bench/{name}.py --smoke failed (rc {proc.returncode}):\n" \
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"bench/{name}.py --smoke printed nothing"
