"""The shipped Prometheus files load in the real promtool (Debian's prometheus package): the scrape
configuration and the rules check, and the rules' unit tests (deploy/prometheus/warden-rules.test.yaml)
pass. Every alert has a unit test in which it fires, and a runbook section in docs/operations.md."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

import harness

pytestmark = pytest.mark.build_independent("promtool on deploy/prometheus/: no Envoy")

PROMETHEUS_DIR = harness.ROOT / "deploy/prometheus"
RULES = PROMETHEUS_DIR / "warden-rules.yaml"
RULE_TESTS = PROMETHEUS_DIR / "warden-rules.test.yaml"
OPERATIONS = harness.ROOT / "docs/operations.md"


def promtool(*args: str) -> subprocess.CompletedProcess:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is not installed: run scripts/setup.sh (make setup) for Debian's prometheus")
    return subprocess.run([found, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120)


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_rules_and_scrape_config_check():
    for args in (("check", "rules", RULES.name), ("check", "config", "prometheus.yaml")):
        result = promtool(*args)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_rule_unit_tests_pass():
    result = promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_every_alert_fires_in_a_unit_test():
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
             if case.get("exp_alerts")}
    quiet = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
             if not case.get("exp_alerts")}
    names = [rule["alert"] for rule in alerts()]
    assert len(names) >= 8, names
    assert [n for n in names if n not in fired] == [], "alerts no unit test makes fire"
    assert [n for n in names if n not in quiet] == [], "alerts no unit test shows quiet"


def test_every_alert_has_a_runbook_section():
    headings = {re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
                for line in OPERATIONS.read_text().splitlines() if line.startswith("### ")}
    for rule in alerts():
        runbook = rule["annotations"]["runbook"]
        path, _, anchor = runbook.partition("#")
        assert path == "docs/operations.md", runbook
        assert anchor == rule["alert"].lower(), runbook
        assert anchor in headings, f"{rule['alert']}: no '### {rule['alert']}' section in {OPERATIONS}"
        assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
