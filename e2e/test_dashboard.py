"""The Grafana dashboard (deploy/grafana/warden.json) against a real Prometheus (Debian's package)
scraping the real stack with the shipped scrape configuration (deploy/prometheus/prometheus.yaml,
its targets replaced, one-second scrapes) and rules: Redis, the verifier issuing sessions, and two
Envoys with the release .wasm, one in callout mode (failure_mode allow), one in stream mode.

Traffic drives every panel: allowed and denied requests of several providers, a report-only rule's
would-be refusals, a refresh, a refresh
token replayed (reuse detection), the token endpoint past its rate limit, admin revocations, a
malformed check, JWKS fetches that fail, Redis stopped then restarted empty (Redis errors, 503s,
feed resyncs), then the verifier stopped (callout failures, failure_mode allows, a stale stream
view). Then every target of every panel, read from the dashboard file, is evaluated over the run
with Prometheus's HTTP API: a target with no series or only zeros fails the test, naming its panel.

WARDEN_DASHBOARD_PNG=path also renders the dashboard from this run's data into that file
(scripts/render-dashboard; the screenshot in docs/operations.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

import harness
from tokens import AUDIENCE, ISSUER, KeySet

DASHBOARD = harness.ROOT / "deploy/grafana/warden.json"
SCRAPE_CONFIG = harness.ROOT / "deploy/prometheus/prometheus.yaml"
RULES = harness.ROOT / "deploy/prometheus/warden-rules.yaml"
RENDER = harness.ROOT / "scripts/render-dashboard"

SESSION_ISSUER = "https://sessions.dashboard.test"
SESSION_AUDIENCE = "dashboard.api"
FORM = {"content-type": "application/x-www-form-urlencoded"}
# Token-endpoint requests a minute per client address: a few refreshes pass, then 429s.
REFRESH_RATE_PER_MINUTE = 6
# What Grafana substitutes in a query; the window spans a few one-second scrapes.
GRAFANA_VARIABLES = {"$__rate_interval": "5s", "$__interval": "1s", "$__range": "5m"}


def dashboard_panels(dashboard: dict) -> list[dict]:
    """Every panel that queries, rows' nested panels included."""
    found = []
    for panel in dashboard["panels"]:
        found.extend(panel.get("panels", []))
        if panel.get("type") != "row":
            found.append(panel)
    return found


def grafana_expr(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr.replace("$labels", ""), f"unsubstituted variable in {expr!r}"
    return expr


# --- the stack --------------------------------------------------------------------------------------


def keygen(workdir: Path) -> Path:
    private = workdir / "signing.jwk"
    subprocess.run([str(harness.VERIFIER_BIN), "keygen", "--alg", "ES256", "--private-out", str(private),
                    "--jwks-out", str(workdir / "signing.jwks.json")], check=True, timeout=120)
    return private


def plugin_config(keys: KeySet, mode: str, failure_mode: str) -> dict:
    def remote(path: str) -> dict:
        # Refetched every few seconds: the fetch counters move while Prometheus watches.
        return {"cluster": "warden_verifier", "authority": "warden-verifier", "path": path,
                "timeout_ms": 1000, "cache_duration_seconds": 3}

    verifier = {"cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
                "timeout_ms": 500, "failure_mode": failure_mode, "mode": mode}
    if mode == "stream":
        verifier["stream"] = {"path": "/v1/revocations", "max_staleness_ms": 1000, "max_entries": 10000}
    return {
        "providers": {
            # Tokens of the verifier's own sessions, keys from its JWKS.
            "sessions": {"issuer": SESSION_ISSUER, "audiences": [SESSION_AUDIENCE],
                         "remote_jwks": remote("/.well-known/jwks.json")},
            # Tokens the test signs.
            "partner": {"issuer": ISSUER, "audiences": [AUDIENCE],
                        "local_jwks": {"inline_string": json.dumps(keys.jwks())}},
            # A key set that is never there: its fetches fail and its age grows.
            "legacy": {"issuer": "https://legacy.dashboard.test", "remote_jwks": remote("/no-such-jwks.json")},
        },
        "rules": [
            {"match": {"path": "/v1/token"}},
            {"match": {"prefix": "/partner/"}, "requires": {"provider_name": "partner"}},
            # Report-only: what it would refuse is forwarded and counted.
            {"match": {"prefix": "/trial/"}, "requires": {"provider_name": "partner"}, "enforce": False},
            {"match": {"prefix": "/legacy/"}, "requires": {"provider_name": "legacy"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "sessions"}},
        ],
        "verifier": verifier,
    }


def route_config() -> dict:
    to_verifier = {"match": {"path": "/v1/token"}, "route": {"cluster": "warden_verifier"}}
    return {"name": "dashboard", "virtual_hosts": [{
        "name": "all", "domains": ["*"],
        "routes": [to_verifier, {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}],
    }]}


class Prometheus:
    """Debian's prometheus on a free port with its own storage, scraping with the shipped
    configuration every second (targets replaced) and evaluating the shipped rules."""

    def __init__(self, workdir: Path, verifier_targets: list[str], envoy_targets: list[str]):
        binary = shutil.which("prometheus")
        if not binary:
            pytest.fail("prometheus is not installed: run scripts/setup.sh (make setup)")
        config = yaml.safe_load(SCRAPE_CONFIG.read_text())
        config["global"] = {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"}
        config["rule_files"] = [str(RULES)]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert set(jobs) == {"warden-verifier", "warden-envoy"}, jobs
        jobs["warden-verifier"]["static_configs"] = [{"targets": verifier_targets}]
        jobs["warden-envoy"]["static_configs"] = [{"targets": envoy_targets}]
        config_path = workdir / "prometheus.yaml"
        config_path.write_text(yaml.safe_dump(config))
        self.port = harness.free_port()
        argv = [binary, f"--config.file={config_path}", f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.path={workdir / 'prometheus-data'}", "--log.level=warn"]
        self.proc = harness.Process(f"prometheus:{self.port}", argv, workdir / f"prometheus-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        self.proc.start()
        harness.wait_until(lambda: harness.http_request(self.port, "GET", "/-/ready", timeout=2).status == 200,
                           f"prometheus ready on {self.port}", proc=self.proc)
        return self

    def api(self, path: str, **params) -> dict:
        answer = harness.http_request(self.port, "GET", f"/api/v1/{path}?{urllib.parse.urlencode(params)}")
        assert answer.status == 200, answer
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> list[dict]:
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=str(step))["result"]

    def scrapes_done(self, after: float) -> bool:
        """Every target scraped successfully since `after` (unix seconds)."""
        targets = self.api("targets")["activeTargets"]
        return len(targets) == 3 and all(
            t["health"] == "up" and t["lastScrape"] and _rfc3339_unix(t["lastScrape"]) > after for t in targets)

    def stop(self) -> None:
        self.proc.stop()


def _rfc3339_unix(text: str) -> float:
    from datetime import datetime
    # Prometheus writes nanoseconds; Python reads up to microseconds.
    head, _, rest = text.partition(".")
    fraction = "".join(c for c in rest if c.isdigit())[:6]
    zone = rest[len("".join(c for c in rest if c.isdigit())):] or "Z"
    return datetime.fromisoformat(f"{head}.{fraction or '0'}{zone.replace('Z', '+00:00')}").timestamp()


class Observed:
    def __init__(self, workdir: Path, keys: KeySet):
        self.workdir = workdir
        self.keys = keys
        self.parts: list = []
        self.started_at = time.time()

    def start(self) -> Observed:
        key = keygen(self.workdir)
        self.redis = self._start(harness.Redis(self.workdir))
        self.verifier = self._start(harness.Verifier(self.workdir, self.redis.url, extra_args=[
            "--issuer", SESSION_ISSUER, "--audience", SESSION_AUDIENCE, "--signing-key-file", str(key),
            "--refresh-retry-grace-seconds", "0", "--refresh-rate-per-minute", str(REFRESH_RATE_PER_MINUTE)]))
        self.upstream = self._start(harness.EchoUpstream(self.workdir))
        envoys = [harness.Envoy(self.workdir, plugin_config(self.keys, mode, failure_mode),
                                upstream_port=self.upstream.port, verifier_port=self.verifier.port,
                                hcm_overrides={"route_config": route_config()})
                  for mode, failure_mode in (("callout", "allow"), ("stream", "deny"))]
        # Prometheus first, so it sees the Envoys' first fetches and polls.
        self.prometheus = self._start(Prometheus(
            self.workdir, [f"127.0.0.1:{self.verifier.port}"], [f"127.0.0.1:{e.admin_port}" for e in envoys]))
        self.callout, self.stream = (self._start(e) for e in envoys)
        return self

    def _start(self, part):
        self.parts.append(part)
        part.start()
        return part

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()


def session(observed: Observed, sub: str) -> dict:
    answer = observed.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub, "device": "dashboard"})
    assert answer.status == 201, answer
    return answer.json()


def token_request(envoy: harness.Envoy, refresh_token: str) -> harness.Response:
    return harness.http_request(envoy.port, "POST", "/v1/token", FORM,
                                f"grant_type=refresh_token&refresh_token={refresh_token}")


def until(check, what: str, timeout: float = 15.0):
    return harness.wait_until(check, what, timeout=timeout)


def drive(o: Observed) -> None:
    """Traffic for every panel; each step checks the stack answered as it should, so a panel
    that stays empty is the dashboard's fault, not a quiet stack's."""
    keys, envoys = o.keys, (o.callout, o.stream)
    until(lambda: o.prometheus.scrapes_done(o.started_at), "the first scrapes of all three targets")

    # Sessions: the filter fetches the verifier's JWKS; allowed by provider `sessions`.
    created = session(o, harness.fresh_user("dash"))
    for envoy in envoys:
        until(lambda e=envoy: e.request("/app", created["access_token"]).status == 200,
              "a session token allowed (the JWKS fetched)")
    # A refresh, then the old refresh token replayed: reuse detected, the session ended.
    refreshed = token_request(o.callout, created["refresh_token"])
    assert refreshed.status == 200, refreshed
    replay = token_request(o.callout, created["refresh_token"])
    assert replay.status == 400, replay
    access = refreshed.json()["access_token"]
    for envoy in envoys:
        until(lambda e=envoy: e.request("/app", access).status == 401, "the reused session's token refused")
    # The token endpoint past the address's budget: 429.
    until(lambda: token_request(o.callout, "not-a-refresh-token").status == 429, "a rate-limit refusal", 10)

    # Tokens the test signs: allowed, then denied for several reasons, some after admin revocations.
    for _ in range(5):
        for envoy in envoys:
            assert envoy.request("/partner/x", keys.token("ES256")).status == 200
            assert envoy.request("/partner/x").status == 401
            assert envoy.request("/partner/x", keys.token("ES256", exp=int(time.time()) - 600)).status == 401
            assert envoy.request("/legacy/x", keys.token("ES256")).status == 401
            assert envoy.request("/trial/x").status == 200
    revoked_token_sub, revoked_user = harness.fresh_user("tok"), harness.fresh_user("usr")
    jti = "dashboard-jti"
    token = keys.token("ES256", sub=revoked_token_sub, jti=jti)
    user_token = keys.token("ES256", sub=revoked_user, iat=int(time.time()) - 5)
    answer = o.verifier.admin("POST", "/v1/admin/revoke/token",
                              {"sub": revoked_token_sub, "jti": jti, "exp": int(time.time()) + 600})
    assert answer.status == 200, answer
    assert o.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": revoked_user}).status == 200
    other = session(o, harness.fresh_user("end"))
    assert o.verifier.admin("DELETE", f"/v1/admin/sessions/{other['sid']}").status in (200, 204)
    for envoy in envoys:
        until(lambda e=envoy: e.request("/partner/x", token).status == 401, "a revoked token refused")
        until(lambda e=envoy: e.request("/partner/x", user_token).status == 401, "a revoked user refused")
    # A malformed check straight to the verifier: outcome invalid.
    bad = harness.http_request(o.verifier.port, "POST", "/v1/check", {"content-type": "application/json"}, b"{")
    assert bad.status == 400, bad
    time.sleep(2.5)  # a few scrapes of the healthy state

    # Redis stopped: checks answer 503 (Redis errors), the callout Envoy allows by failure_mode,
    # the stream Envoy's polls fail. Restarted empty: the feed rolled back, the view resyncs.
    o.redis.stop()
    for _ in range(5):
        assert o.callout.request("/partner/x", keys.token("ES256")).status == 200
    time.sleep(2.5)
    o.redis = harness.Redis(o.workdir, port=o.redis.port)
    o.parts.append(o.redis)
    o.redis.start()
    until(lambda: harness.http_request(o.verifier.port, "GET", "/readyz").status == 200, "the verifier ready again")
    time.sleep(2.0)

    # The verifier stopped: connection refused, so callout failures (allowed by failure_mode on
    # one Envoy), and a stale view past its bound on the other.
    o.verifier.stop()
    for _ in range(5):
        assert o.callout.request("/partner/x", keys.token("ES256")).status == 200
    time.sleep(3.0)
    for _ in range(3):
        assert o.callout.request("/partner/x", keys.token("ES256")).status == 200
    time.sleep(1.5)


@pytest.fixture(scope="module")
def observed(tmp_path_factory, keys):
    o = Observed(tmp_path_factory.mktemp("dashboard"), keys)
    try:
        o.start()
        drive(o)
        o.finished_at = time.time()
        yield o
    finally:
        o.stop()


# --- the tests ---------------------------------------------------------------------------------------


def test_dashboard_is_a_grafana_model_with_a_prometheus_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 36
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    panels = dashboard_panels(dashboard)
    assert len(panels) >= 15
    ids = [p["id"] for p in dashboard["panels"]] + [p["id"] for p in panels if p not in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": f"${{{variable['name']}}}"}, panel["title"]
        assert panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys(), panel["title"]
        for target in panel["targets"]:
            assert target["expr"] and target["refId"], panel["title"]


def test_every_panel_shows_data_from_the_real_stack(observed):
    prometheus = observed.prometheus
    empty = []
    for panel in dashboard_panels(json.loads(DASHBOARD.read_text())):
        for target in panel["targets"]:
            expr = grafana_expr(target["expr"])
            series = prometheus.query_range(expr, observed.started_at, observed.finished_at)
            values = [float(v) for s in series for _, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
            if not any(values):
                empty.append(f"panel {panel['title']!r} target {target['refId']} ({expr}): "
                             f"{'no series' if not series else 'only zeros'}")
    assert empty == [], "panels without data:\n" + "\n".join(empty)


def test_per_provider_and_reason_labels_come_from_the_shipped_relabelling(observed):
    prometheus = observed.prometheus
    at = observed.finished_at
    denied = prometheus.api("query", query="sum by (reason) (warden_denied) > 0", time=str(at))["result"]
    reasons = {s["metric"]["reason"] for s in denied}
    assert {"token_missing", "token_expired", "revoked", "user_revoked", "session_missing"} <= reasons, reasons
    report_only = prometheus.api("query", query="sum by (reason) (warden_report_only) > 0", time=str(at))["result"]
    assert {s["metric"]["reason"] for s in report_only} == {"token_missing"}, report_only
    allowed = prometheus.api("query", query="sum by (provider) (warden_provider_allowed) > 0", time=str(at))["result"]
    assert {s["metric"]["provider"] for s in allowed} == {"sessions", "partner"}, allowed
    ages = prometheus.api("query", query="warden_provider_jwks_age_seconds", time=str(at))["result"]
    by_provider = {s["metric"]["provider"] for s in ages}
    assert by_provider == {"sessions", "legacy"}, ages


def test_the_rules_evaluate_without_errors_on_the_real_series(observed):
    groups = observed.prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) >= 10
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    # Recorded from the real counters: the denial ratio of this run.
    ratio = observed.prometheus.api("query", query="warden:denial_ratio:rate1h", time=str(observed.finished_at))
    assert ratio["result"] and 0 < float(ratio["result"][0]["value"][1]) < 1, ratio


def test_the_dashboard_renders_from_the_real_data(observed, tmp_path):
    out = Path(os.environ.get("WARDEN_DASHBOARD_PNG") or tmp_path / "dashboard.png")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (make setup installs it)")
    result = subprocess.run(
        [sys.executable, str(RENDER), "--prometheus", observed.prometheus.url, "--dashboard", str(DASHBOARD),
         "--start", f"{observed.started_at:.0f}", "--end", f"{observed.finished_at:.0f}",
         "--rate-interval", GRAFANA_VARIABLES["$__rate_interval"], "--out", str(out)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000, "a blank page"
