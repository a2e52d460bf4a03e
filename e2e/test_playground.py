"""The playground (issue 15): the explain page in headless Chromium, served by the verifier's admin
listener (`--playground-dir`); `scripts/warden-explain` under Node; and the wasm32-unknown-unknown
build's answers against the wasmtime host's over the parity corpus. Needs `make playground-build`
(part of `make e2e`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import harness
from configs import provider
from tokens import AUDIENCE, ISSUER, KeySet, unsigned_token

pytestmark = pytest.mark.build_independent(
    "the explain tool's own wasm builds and the verifier's admin listener: no "
    "Envoy")

ROOT = harness.ROOT
WEB = ROOT / "target/playground/web"
NODE_PKG = ROOT / "target/playground/node/warden_playground.js"
EXPLAIN = ROOT / "scripts/warden-explain"
DRIVER = ROOT / "playground/tests/browser.mjs"
SCREENSHOT = ROOT / "target/playground/screenshot.png"
CORPUS = ROOT / "target/playground/parity-corpus.json"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def built() -> None:
    hint = "build it with `make playground-build`"
    harness.require_file(WEB / "index.html", hint)
    harness.require_file(WEB / "warden_wasm.js", hint)
    harness.require_file(NODE_PKG, hint)


def config(keys: KeySet) -> dict:
    return {
        "providers": {"main": provider(keys.jwks())},
        "rules": [
            {"match": {"prefix": "/healthz"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
        ],
    }


def explain(tmp_path: Path, cfg: dict | str, request: dict) -> subprocess.CompletedProcess:
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    req_file = tmp_path / "request.json"
    req_file.write_text(json.dumps(request))
    return subprocess.run([str(EXPLAIN), str(cfg_file), str(req_file)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


# --- scripts/warden-explain -------------------------------------------------------------------

def test_explain_cli_allows_a_valid_token(built, tmp_path, keys):
    run = explain(tmp_path, config(keys), {"method": "GET", "path": "/api", "headers": bearer(keys.token("ES256"))})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["status"], out["reason"]) == (200, "allowed")
    assert out["providers"][0]["token"]["kid"] == "ec256-1"
    assert ["x-jwt-iss", ISSUER] in out["forwarded_headers"]
    assert all(name != "authorization" for name, _ in out["forwarded_headers"])


def test_explain_cli_explains_refusals(built, tmp_path, keys):
    now = int(time.time())
    cases = [
        (keys.token("ES256", exp=now - 3600), "token_expired", "claims"),
        (keys.token("RS256", aud="someone-else"), "audience_mismatch", "claims"),
        (keys.token("ES256", headers={"kid": "nope"}), "key_not_found", "key"),
        (unsigned_token({"alg": "none"}, {"sub": "x"}), "algorithm_not_allowed", "token"),
    ]
    for token, reason, step in cases:
        run = explain(tmp_path, config(keys), {"method": "GET", "path": "/api", "headers": bearer(token)})
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout)
        assert (out["status"], out["reason"], out["failed_at"]) == (401, reason, step), out["summary"]
        assert out["www_authenticate"].endswith(f'error_description="{reason}"')
    expired = json.loads(explain(tmp_path, config(keys), {
        "path": "/api", "headers": bearer(cases[0][0])}).stdout)
    exp = next(c for c in expired["providers"][0]["token"]["claim_checks"] if c["claim"] == "exp")
    assert exp["verdict"] == "fail" and exp["date"].endswith("Z")


def test_explain_cli_takes_the_clock_from_the_request(built, tmp_path, keys):
    token = keys.token("EdDSA")
    later = int(time.time()) + 7200
    out = json.loads(explain(tmp_path, config(keys), {"path": "/api", "headers": bearer(token), "now": later}).stdout)
    assert (out["status"], out["reason"]) == (401, "token_expired")


def test_explain_cli_bad_config_exits_2_with_the_field_path(built, tmp_path, keys):
    bad = config(keys)
    bad["providers"]["main"]["algorithms"] = ["ES256", "none"]
    run = explain(tmp_path, bad, {"path": "/api"})
    assert run.returncode == 2
    assert run.stdout == ""
    assert "providers.main.algorithms[1]" in run.stderr
    assert "invalid configuration" in run.stderr
    run = explain(tmp_path, "{\"providers\": {\"main\": {\"issuer\": 1}}}", {"path": "/api"})
    assert run.returncode == 2 and "providers.main.issuer" in run.stderr


def test_explain_cli_checks_expected_decisions(built, tmp_path, keys):
    request = {"path": "/api", "headers": bearer(keys.token("ES256")), "expect": {"status": 401}}
    run = explain(tmp_path, config(keys), request)
    assert run.returncode == 1
    assert "expected status 401, got 200" in run.stderr
    request["expect"] = {"status": 200, "reason": "allowed"}
    assert explain(tmp_path, config(keys), request).returncode == 0


# --- parity of the wasm32-unknown-unknown build with the wasmtime host ---------------------------

NODE_PARITY = r"""
const wasm = require(process.argv[1]);
const cases = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const out = cases.map((c) => JSON.parse(wasm.explain(JSON.stringify(c.config), JSON.stringify(c.request), 0)));
process.stdout.write(JSON.stringify(out));
"""


def explained_answer(x: dict) -> dict:
    verifier_body = (x.get("verifier_call") or {}).get("body")
    if x["decision"] == "forward":
        return {"status": 200, "forwarded_headers": sorted(map(list, x["forwarded_headers"])),
                "verifier_body": verifier_body}
    headers = dict(map(tuple, x["answer"]["headers"]))
    return {"status": x["status"], "www_authenticate": headers.get("www-authenticate"),
            "content_type": headers.get("content-type"), "body": x["answer"]["body"],
            "verifier_body": verifier_body}


def test_node_build_matches_the_wasmtime_host(built, tmp_path):
    if not CORPUS.exists():
        # Written by the wasm-tests parity scenario (`make unit-test` runs it before the e2e suite).
        subprocess.run(["cargo", "test", "-q", "-p", "warden-wasm-tests", "--test", "scenarios", "parity"],
                       cwd=ROOT, check=True, capture_output=True, timeout=1800)
    corpus = json.loads(CORPUS.read_text())
    assert len(corpus) >= 40
    run = subprocess.run(["node", "-e", NODE_PARITY, str(NODE_PKG), str(CORPUS)], capture_output=True,
                         text=True, timeout=120, check=True)
    answers = json.loads(run.stdout)
    for case, x in zip(corpus, answers, strict=True):
        assert x["ok"], (case["name"], x)
        host = case["host"]
        if "forwarded_headers" in host:
            host = {**host, "forwarded_headers": sorted(map(list, host["forwarded_headers"]))}
        assert explained_answer(x) == host, case["name"]


# --- the page, in Chromium, served by the verifier's admin listener -----------------------------

@pytest.fixture(scope="module")
def verifier_with_playground(built, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("playground")
    redis = harness.Redis(workdir).start()
    verifier = harness.Verifier(workdir, redis.url)
    verifier.proc.argv += ["--playground-dir", str(WEB)]
    verifier.start()
    try:
        yield verifier
    finally:
        verifier.stop()
        redis.stop()


def test_admin_listener_serves_only_the_page_files(verifier_with_playground):
    port = verifier_with_playground.admin_port
    redirect = harness.http_request(port, "GET", "/playground")
    assert redirect.status in (301, 308) and redirect.header("location") == "/playground/"
    page = harness.http_request(port, "GET", "/playground/")
    assert page.status == 200 and b"Warden playground" in page.body
    assert page.header("content-type").startswith("text/html")
    assert "connect-src 'none'" in page.header("content-security-policy")
    script = harness.http_request(port, "GET", "/playground/warden_wasm.js")
    assert script.status == 200 and script.header("content-type").startswith("text/javascript")
    for path in ("/playground/..%2fadmin-token", "/playground/Cargo.toml", "/playground/%2e%2e%2fREADME.md",
                 "/playground/warden_playground_bg.wasm"):
        assert harness.http_request(port, "GET", path).status == 404, path
    # The admin API still wants its token.
    assert harness.http_request(port, "POST", "/v1/admin/revoke/all", body={}).status == 401


def test_without_the_flag_there_is_no_playground(tmp_path):
    redis = harness.Redis(tmp_path).start()
    verifier = harness.Verifier(tmp_path, redis.url).start()
    try:
        assert harness.http_request(verifier.admin_port, "GET", "/playground/").status == 404
    finally:
        verifier.stop()
        redis.stop()


def test_page_explains_tokens_in_chromium(verifier_with_playground, tmp_path, keys):
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/setup.sh"
    harness.require_file(ROOT / "playground/tests/node_modules/playwright-core/package.json",
                         "install it with scripts/setup.sh (npm ci in playground/tests)")
    now = int(time.time())
    good = keys.token("ES256", sub="alice")
    bad_config = config(keys)
    bad_config["providers"]["main"]["local_jwks"] = {"inline_string": "{\"keys\": []}"}
    cases = [
        {"name": "valid", "token": good},
        {"name": "expired", "token": keys.token("ES256", exp=now - 3600), "screenshot": True},
        {"name": "wrong audience", "token": keys.token("RS256", aud="someone-else")},
        {"name": "unknown kid", "token": keys.token("EdDSA", headers={"kid": "rotated-away"})},
        {"name": "path bypass", "token": "", "path": "/healthz/..%2fapi/orders"},
        {"name": "no token", "token": ""},
        {"name": "clock override", "token": good, "now": now + 7200},
        {"name": "bad config", "token": good, "config": json.dumps(bad_config)},
    ]
    spec = {"config": json.dumps(config(keys), indent=2), "cases": cases}
    spec_file = tmp_path / "cases.json"
    spec_file.write_text(json.dumps(spec))
    SCREENSHOT.unlink(missing_ok=True)
    url = f"http://127.0.0.1:{verifier_with_playground.admin_port}/playground/"
    run = subprocess.run(["node", str(DRIVER), url, str(spec_file), str(SCREENSHOT)], capture_output=True,
                         text=True, timeout=180, cwd=DRIVER.parent)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    shown = {r["name"]: r for r in out["results"]}

    assert shown["valid"]["status"] == "200 forwarded" and shown["valid"]["reason"] == "allowed"
    assert shown["valid"]["failed_steps"] == []
    assert "alice" in shown["valid"]["tables"]  # decoded claims and the forwarded x-jwt-sub

    expired = shown["expired"]
    assert (expired["status"], expired["reason"], expired["failed_at"]) == ("401", "token_expired",
                                                                           "failed at: claims")
    assert expired["www_authenticate"].endswith('error_description="token_expired"')
    exp_date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600))
    assert exp_date in expired["tables"], "exp shown as a date"

    assert (shown["wrong audience"]["status"], shown["wrong audience"]["reason"]) == ("401", "audience_mismatch")
    assert any("aud" == cell for cell in shown["wrong audience"]["tables"])

    kid = shown["unknown kid"]
    assert (kid["status"], kid["reason"], kid["failed_at"]) == ("401", "key_not_found", "failed at: key")
    assert any("kid differs" in cell for cell in kid["tables"])

    bypass = shown["path bypass"]
    assert (bypass["status"], bypass["reason"], bypass["failed_at"]) == ("400", "path_rejected", "failed at: rule")
    assert "/api/orders" in bypass["tables"] and "/healthz/..%2fapi/orders" in bypass["tables"]

    assert (shown["no token"]["status"], shown["no token"]["reason"]) == ("401", "token_missing")
    assert shown["clock override"]["reason"] == "token_expired"

    bad = shown["bad config"]
    assert bad["config_error_path"] == "providers.main.local_jwks"
    assert (bad["status"], bad["reason"]) == ("config", "rejected")

    # Nothing left the page: every request is the page's own files, all made before it was ready.
    origin = f"http://127.0.0.1:{verifier_with_playground.admin_port}/"
    assert out["late_requests"] == []
    assert all(r["url"].startswith(origin + "playground/") for r in out["requests"]), out["requests"]
    assert {r["method"] for r in out["requests"]} == {"GET"}
    assert out["console_errors"] == []
    assert SCREENSHOT.stat().st_size > 10_000
    shutil.copy(SCREENSHOT, ROOT / "target/playground/screenshot-latest.png")
