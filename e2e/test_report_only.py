"""Report-only rollout and route selection on the real Envoy: a report-only rule forwards what an
enforcing rule refuses and counts it by reason (Envoy's stats), the shipped access-log format prints
the filter's filter state, route metadata selects a named requirement or turns the check off, an
unknown name is refused with 403, and `filter_state_rules` reads a value Envoy's own
`set_filter_state` filter stored."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

import harness
from answers import echoed_headers
from configs import provider

ACCESS_LOG_SNIPPET = harness.ROOT / "envoy/access-log-report-only.yaml"


def plugin_config(jwks: dict) -> dict:
    return {
        "providers": {"main": provider(jwks)},
        "requirements": {"strict": {"provider_name": "main"}},
        "filter_state_rules": {"name": "tier", "requires": {"strict": {"provider_name": "main"}}},
        "rules": [
            {"match": {"prefix": "/shadow/"}, "requires": {"provider_name": "main"}, "enforce": False},
            {"match": {"prefix": "/enforced/"}, "requires": {"provider_name": "main"}},
            {"match": {"prefix": "/off/"}, "requires": {"provider_name": "main"}},
        ],
    }


def route(prefix: str, warden: dict | None = None) -> dict:
    r = {"match": {"prefix": prefix}, "route": {"cluster": "upstream"}}
    if warden is not None:
        r["metadata"] = {"filter_metadata": {"warden": warden}}
    return r


@pytest.fixture(scope="module")
def envoy(tmp_path_factory, keys):
    workdir = tmp_path_factory.mktemp("report_only")
    upstream = harness.EchoUpstream(workdir).start()
    log_path = workdir / "access.log"
    # As shipped (the wasm build's `wasm.KEY` names), renamed for the build under test.
    access_log = harness.filter_state_for_build(yaml.safe_load(ACCESS_LOG_SNIPPET.read_text())["access_log"])
    access_log[0]["typed_config"]["path"] = str(log_path)
    routes = {
        "name": "report_only",
        "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
            route("/named/", {"requirement": "strict"}),
            route("/ghost/", {"requirement": "nope"}),
            route("/off/", {"disabled": True}),
            route("/"),
        ]}],
    }
    proxy = harness.Envoy(workdir, plugin_config(keys.jwks()), upstream_port=upstream.port,
                          verifier_port=upstream.port,
                          hcm_overrides={"route_config": routes, "access_log": access_log})
    # Envoy's own filter stores the client's `x-tier` as string filter state `tier` before Warden.
    config = yaml.safe_load(proxy.config_path.read_text())
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["http_filters"].insert(0, {
        "name": "envoy.filters.http.set_filter_state",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.set_filter_state.v3.Config",
            "on_request_headers": [{
                "object_key": "tier",
                "factory_key": "envoy.string",
                "format_string": {"text_format_source": {"inline_string": "%REQ(x-tier)%"},
                                  "omit_empty_values": True},
            }],
        },
    })
    proxy.config_path.write_text(json.dumps(config, indent=1))
    try:
        proxy.start()
        yield proxy, log_path
    finally:
        proxy.stop()
        upstream.stop()


def log_line(log_path: Path, path: str) -> str:
    """The access-log line of the last request to `path` (Envoy flushes the log on its own)."""
    found: list[str] = []

    def present() -> bool:
        found[:] = [line for line in log_path.read_text().splitlines() if f" {path}\" " in line] \
            if log_path.exists() else []
        return bool(found)

    harness.wait_until(present, f"access log line for {path}", timeout=15)
    return found[-1]


def test_a_report_only_rule_forwards_what_an_enforcing_rule_refuses_and_counts_it(envoy, keys):
    proxy, log_path = envoy
    expired = keys.token("ES256", exp=int(time.time()) - 3600)
    before = proxy.stats()
    assert proxy.request("/enforced/a", expired).status == 401
    answer = proxy.request("/shadow/a", expired)
    assert answer.status == 200, answer
    # Forwarded as if no rule applied: the token reaches the upstream, a spoofed claim header not.
    echoed = echoed_headers(answer)
    assert echoed["authorization"] == [f"Bearer {expired}"]
    spoofed = proxy.request("/shadow/b", headers={"x-jwt-sub": "mallory"})
    assert spoofed.status == 200
    assert "x-jwt-sub" not in echoed_headers(spoofed)
    after = proxy.stats()

    def grew(name: str) -> int:
        return after.get(harness.stat_name(f"warden.{name}"), 0) - before.get(harness.stat_name(f"warden.{name}"), 0)

    assert grew("denied.token_expired") == 1, after
    assert grew("report_only.token_expired") == 1, after
    assert grew("report_only.token_missing") == 1, after
    assert grew("denied.token_missing") == 0, after

    line = log_line(log_path, "/shadow/a")
    assert " 200 warden_decision=report_only warden_provider=main " in line, line
    assert 'warden_report_only="reason=token_expired provider=main rule=rules[0] status=401"' in line, line
    line = log_line(log_path, "/enforced/a")
    assert " 401 warden_decision=denied warden_provider=main " in line, line
    assert proxy.request("/enforced/ok", keys.token("ES256")).status == 200
    line = log_line(log_path, "/enforced/ok")
    assert " 200 warden_decision=allowed warden_provider=main " in line, line


def test_route_metadata_selects_a_named_requirement_or_disables_the_check(envoy, keys):
    proxy, log_path = envoy
    # No path rule covers /named/: the route's `requirement: strict` does.
    assert proxy.request("/named/x").status == 401
    assert proxy.request("/named/x", keys.token("ES256")).status == 200
    # A path rule covers /off/, but the route says `disabled: true`.
    assert proxy.request("/off/x").status == 200
    assert "warden_decision=- " in log_line(log_path, "/off/x")
    # Without `warden` metadata the path rules decide.
    assert proxy.request("/enforced/x").status == 401
    before = proxy.stats()
    ghost = proxy.request("/ghost/x", keys.token("ES256"))
    assert ghost.status == 403, ghost
    assert ghost.json() == {"error": "access_denied", "error_description": "requirement_unknown"}
    assert proxy.stats().get(harness.stat_name("warden.denied.requirement_unknown"), 0) \
        - before.get(harness.stat_name("warden.denied.requirement_unknown"), 0) == 1


def test_filter_state_rules_read_what_set_filter_state_stored(envoy, keys):
    proxy, _ = envoy
    assert proxy.request("/free/x", headers={"x-tier": "strict"}).status == 401
    assert proxy.request("/free/x", keys.token("ES256"), headers={"x-tier": "strict"}).status == 200
    assert proxy.request("/free/x", headers={"x-tier": "basic"}).status == 200
    assert proxy.request("/free/x").status == 200
