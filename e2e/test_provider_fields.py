"""The jwt_authn provider and filter fields on real Envoy with the real .wasm, one Envoy for the
module: `subjects`, `max_lifetime_seconds`, `forward_payload_header` (+ padding),
`clear_route_cache` (a route that matches on a claim header the filter set is the one chosen),
`bypass_cors_preflight`, `strip_failure_response`, `token_cache_size: 0`, `stat_prefix`,
`remote_jwks.fetch_at_start` (sent from the configuration callback, accepted by Envoy) and
`remote_jwks.retry` (a dead JWKS is tried 1 + num_retries times, then left to the regular
refresh)."""

from __future__ import annotations

import base64
import json
import time

import pytest

import harness
from tokens import AUDIENCE, ISSUER
from wasm_listener import HCM, ROUTER, WASM, CustomEnvoy

PREFIX = "edge"
RETRIES = 2
CORP = "@corp.example"


def stat_name(name: str) -> str:
    return harness.stat_name(f"warden.{PREFIX}.{name}")


def provider(jwks: dict, **fields) -> dict:
    base = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "local_jwks": {"inline_string": json.dumps(jwks)},
        "claim_to_headers": [{"header_name": "x-jwt-tier", "claim_name": "tier"},
                             {"header_name": "x-jwt-sub", "claim_name": "sub"}],
    }
    base.update(fields)
    return base


def plugin_config(keys) -> dict:
    jwks = keys.jwks()
    return {
        "providers": {
            "main": provider(jwks, subjects={"suffix": CORP}, max_lifetime_seconds=3600,
                             forward_payload_header="x-jwt-payload", pad_forward_payload_header=True,
                             clear_route_cache=True),
            "plain": provider(jwks, forward_payload_header="x-plain-payload"),
            "idp": {"issuer": ISSUER, "audiences": [AUDIENCE],
                    "remote_jwks": {"cluster": "jwks", "path": "/.well-known/jwks.json",
                                    "fetch_at_start": True}},
            "flaky": {"issuer": "https://flaky.example",
                      "remote_jwks": {"cluster": "dead", "path": "/jwks", "timeout_ms": 200,
                                      "cache_duration_seconds": 3600,
                                      "retry": {"num_retries": RETRIES, "base_interval_ms": 100,
                                                "max_interval_ms": 200}}},
        },
        "rules": [
            {"match": {"prefix": "/open/"}},
            {"match": {"prefix": "/plain/"}, "requires": {"provider_name": "plain"}},
            {"match": {"prefix": "/idp/"}, "requires": {"provider_name": "idp"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
        ],
        "bypass_cors_preflight": True,
        "strip_failure_response": True,
        "token_cache_size": 0,
        "stat_prefix": PREFIX,
    }


def route(header_value: str | None, cluster: str) -> dict:
    match: dict = {"prefix": "/"}
    if header_value is not None:
        match["headers"] = [{"name": "x-jwt-tier", "string_match": {"exact": header_value}}]
    return {"match": match, "route": {"cluster": cluster},
            "request_headers_to_add": [{"header": {"key": "x-routed", "value": cluster}}]}


def bootstrap(admin_port: int, port: int, clusters: dict[str, int], config: dict) -> dict:
    wasm = {
        "name": "warden", "root_id": "warden", "fail_open": False,
        "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                          "value": json.dumps(config)},
        "vm_config": {"vm_id": "warden", "runtime": "envoy.wasm.runtime.v8",
                      "code": {"local": {"filename": str(harness.WASM_FILE)}}},
    }
    hcm = {
        "@type": HCM,
        "stat_prefix": "fields",
        "route_config": {"name": "fields", "virtual_hosts": [{
            "name": "all", "domains": ["*"],
            # The gold route matches on a header only the filter sets from the `tier` claim.
            "routes": [route("gold", "gold"), route(None, "upstream")],
        }]},
        "http_filters": [{"name": "envoy.filters.http.wasm", "typed_config": {"@type": WASM, "config": wasm}},
                         {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}],
    }
    return harness.to_build({
        "node": {"id": "warden-e2e", "cluster": "warden-e2e"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "clusters": [harness.static_cluster(name, p) for name, p in clusters.items()],
            "listeners": [{
                "name": "fields",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                "typed_config": hcm}]}],
            }],
        },
    })


@pytest.fixture(scope="module")
def envoy(tmp_path_factory, keys):
    workdir = tmp_path_factory.mktemp("fields")
    jwks_file = workdir / "jwks.json"
    jwks_file.write_text(json.dumps(keys.jwks()))
    upstream = harness.EchoUpstream(workdir).start()
    gold = harness.EchoUpstream(workdir).start()
    jwks = harness.EchoUpstream(workdir, jwks_file=jwks_file).start()
    proxy = CustomEnvoy(workdir, "fields")
    clusters = {"upstream": upstream.port, "gold": gold.port, "jwks": jwks.port,
                "dead": harness.free_port()}
    try:
        proxy.start(bootstrap(proxy.admin_port, proxy.port, clusters, plugin_config(keys)),
                    listener_name="fields")
        yield proxy
    finally:
        proxy.stop()
        for server in (upstream, gold, jwks):
            server.stop()


def send(envoy: CustomEnvoy, path: str, token: str | None = None, method: str = "GET",
         headers: list[tuple[str, str]] | None = None) -> harness.Response:
    all_headers = list(headers or [])
    if token is not None:
        all_headers.append(("authorization", f"Bearer {token}"))
    return harness.http_request(envoy.port, method, path, all_headers)


def seen(answer: harness.Response) -> dict[str, list[str]]:
    """Headers the upstream received, by name."""
    assert answer.status == 200, answer
    out: dict[str, list[str]] = {}
    for name, value in answer.json()["headers"]:
        out.setdefault(name, []).append(value)
    return out


def stat(envoy: CustomEnvoy, name: str) -> int:
    try:
        return envoy.stat(stat_name(name))
    except KeyError:
        return 0


def corp_token(keys, **claims) -> str:
    claims.setdefault("sub", f"alice{CORP}")
    return keys.token("ES256", **claims)


def refused_for(envoy: CustomEnvoy, reason: str, answer: harness.Response) -> None:
    """A refusal with `strip_failure_response`: the status alone; the reason shows in the counter."""
    assert answer.status == 401, answer
    assert answer.body == b"", answer
    assert answer.header("www-authenticate") is None, answer
    harness.wait_until(lambda: stat(envoy, f"denied.{reason}") >= 1, f"denied.{reason} counted",
                       timeout=10)


def test_subjects_refuse_another_subject(envoy, keys):
    assert send(envoy, "/api", corp_token(keys)).status == 200
    before = stat(envoy, "denied.subject_mismatch")
    refused_for(envoy, "subject_mismatch", send(envoy, "/api", keys.token("ES256", sub="bob@other.example")))
    assert stat(envoy, "denied.subject_mismatch") == before + 1


def test_max_lifetime_refuses_a_long_lived_token(envoy, keys):
    now = int(time.time())
    assert send(envoy, "/api", corp_token(keys, iat=now - 86_400, exp=now + 1800)).status == 200
    refused_for(envoy, "lifetime_too_long", send(envoy, "/api", corp_token(keys, exp=now + 7200)))


def test_forward_payload_header_carries_the_padded_payload(envoy, keys):
    # A `sub` that makes the payload's base64url need padding.
    token = next(t for t in (corp_token(keys, sub=f"{name}{CORP}") for name in ("al", "ali", "alic"))
                 if len(t.split(".")[1]) % 4)
    segment = token.split(".")[1]
    got = seen(send(envoy, "/api", token, headers=[("x-jwt-payload", "e30")]))
    assert got["x-jwt-payload"] == [segment + "=" * (-len(segment) % 4)]
    assert json.loads(base64.urlsafe_b64decode(got["x-jwt-payload"][0]))["sub"].endswith(CORP)
    # Unpadded where the provider does not ask for padding.
    unpadded = next(t for t in (corp_token(keys, sub=f"{name}{CORP}") for name in ("al", "ali", "alic"))
                    if len(t.split(".")[1]) % 4)
    got = seen(send(envoy, "/plain/x", unpadded))
    assert got["x-plain-payload"] == [unpadded.split(".")[1]]
    # The header is the filter's own: a client's copy never reaches the upstream.
    got = seen(send(envoy, "/open/x", headers=[("x-jwt-payload", "e30"), ("x-plain-payload", "e30")]))
    assert "x-jwt-payload" not in got and "x-plain-payload" not in got


def test_clear_route_cache_routes_on_the_claim_header_the_filter_set(envoy, keys):
    gold = seen(send(envoy, "/api", corp_token(keys, tier="gold")))
    assert gold["x-jwt-tier"] == ["gold"]
    assert gold["x-routed"] == ["gold"]
    silver = seen(send(envoy, "/api", corp_token(keys, tier="silver")))
    assert silver["x-routed"] == ["upstream"]
    # A client cannot pick the route with its own copy of the header: it is removed first.
    spoofed = seen(send(envoy, "/open/x", headers=[("x-jwt-tier", "gold")]))
    assert "x-jwt-tier" not in spoofed
    assert spoofed["x-routed"] == ["upstream"]


def test_this_envoy_repicks_the_route_after_any_wasm_header_edit(envoy, keys):
    # A fact about the Envoy under test, which the README states: its wasm host clears the route
    # cache whenever a filter edits request headers, so `plain` (no `clear_route_cache`) routes on
    # the claim header too. `clear_route_cache` is for proxies that do not (Envoy's
    # `clear_route_cache` foreign function, envoy#36671).
    plain = seen(send(envoy, "/plain/x", corp_token(keys, tier="gold")))
    assert plain["x-jwt-tier"] == ["gold"]
    assert plain["x-routed"] == ["gold"]


def test_cors_preflight_is_forwarded_without_a_token(envoy):
    before = stat(envoy, "cors_preflight_bypassed")
    preflight = [("origin", "https://app.example"), ("access-control-request-method", "POST"),
                 ("x-jwt-sub", "mallory")]
    got = seen(send(envoy, "/api", method="OPTIONS", headers=preflight))
    assert "x-jwt-sub" not in got
    harness.wait_until(lambda: stat(envoy, "cors_preflight_bypassed") == before + 1, "bypass counted",
                       timeout=10)
    # Not a preflight without Access-Control-Request-Method: the rule applies.
    assert send(envoy, "/api", method="OPTIONS", headers=preflight[:1]).status == 401


def test_token_cache_off_and_stat_prefix(envoy, keys):
    token = corp_token(keys)
    for _ in range(3):
        assert send(envoy, "/api", token).status == 200
    assert stat(envoy, "cache.miss") >= 3
    assert stat(envoy, "cache.hit") == 0
    assert stat(envoy, "allowed") >= 3
    # Every counter carries the prefix; none is left under the bare name.
    bare = harness.stat_name("warden.allowed")
    plain = harness.http_request(envoy.admin_port, "GET", f"/stats?filter=^{bare}$")
    assert bare.encode() not in plain.body


def test_fetch_at_start_fetches_when_configured(envoy, keys):
    # Sent from on_configure: Envoy accepts the call there (a refused dispatch would be a failed
    # fetch of `idp`; the only failures are the dead provider's, counted below).
    harness.wait_until(lambda: stat(envoy, "jwks.fetch_success") >= 1, "idp keys fetched", timeout=20)
    assert send(envoy, "/idp/x", keys.token("ES256")).status == 200


def flaky_failures(envoy: CustomEnvoy) -> dict[str, int]:
    """Failed fetches of `flaky` per VM (Envoy log thread id): the main thread's VM and the
    worker's each keep their own key sets and fetch them."""
    counts: dict[str, int] = {}
    for line in envoy.proc.log_text().splitlines():
        if "providers.flaky.remote_jwks: fetch failed" in line:
            thread = line.split("][")[1]
            counts[thread] = counts.get(thread, 0) + 1
    return counts


def test_retry_tries_a_dead_jwks_then_waits_for_the_refresh(envoy):
    # The first fetch on the first tick, then `num_retries` retries (each within 200 ms, sent on
    # the next 1 s tick), then nothing until the regular refresh an hour later.
    def spent():
        counts = flaky_failures(envoy)
        return bool(counts) and all(n >= 1 + RETRIES for n in counts.values()) and counts
    counts = harness.wait_until(spent, f"{1 + RETRIES} failed fetches per VM", timeout=20)
    time.sleep(3)
    assert flaky_failures(envoy) == counts
    assert set(counts.values()) == {1 + RETRIES}, counts
