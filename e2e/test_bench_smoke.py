"""`make bench` keeps working: its smoke mode (one second per scenario, one algorithm) runs every
scenario against the real Envoy, verifier and Redis and writes the report and the plot. Nothing
here looks at the numbers: tests never assert times."""

from __future__ import annotations

import pytest
import subprocess
import sys

import harness

pytestmark = pytest.mark.build_independent(
    "bench/envoy_bench.py writes its own Envoy configs (V8, jwt_authn, the native "
    "floor)")

SCENARIOS = ["passthrough", "warden floor (open route)", "jwt_authn no cache", "jwt_authn cache",
             "jwt_authn + ext_authz", "warden local hit", "warden local miss", "warden + verifier hit",
             "warden + verifier miss"]
# The native build's rows (issue 25).
SCENARIOS += ["native floor (module doing nothing)", "native floor (open route)", "native local hit",
              "native local miss"]


def test_bench_smoke_writes_the_report_and_the_plot(tmp_path):
    result = subprocess.run([sys.executable, str(harness.ROOT / "bench/envoy_bench.py"), "--smoke",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (tmp_path / "RESULTS.md").read_text()
    for scenario in SCENARIOS:
        assert f"| {scenario} |" in report, (scenario, report)
    assert "## Targets (issue 25, native build)" in report
    assert "## Verifier against redis-benchmark" in report
    assert "## Envoy memory" in report
    # The host path is what this Envoy uses for ES256 (the smoke run's algorithm).
    assert "ES256=1" in report, report
    svg = (tmp_path / "results/plot.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") == len(SCENARIOS) - 1
