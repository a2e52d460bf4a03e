"""`scripts/from-jwt-authn` on real configurations: each source is first accepted by the real Envoy
(`--mode validate`, so it is a jwt_authn configuration Envoy really runs), then converted, and the
result must be exactly the expected Warden configuration, accepted by the real plugin in Envoy,
with every field left behind or changed named on stderr.

One test per jwt_authn / Istio field (FIELDS). The sources of every case are validated in one Envoy
run and the converted configurations in another (each in its own listener); when a batch fails, each
case is validated alone so the failure names its case."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

import harness

CONVERTER = harness.ROOT / "scripts" / "from-jwt-authn"
VALIDATE = harness.ROOT / "scripts" / "validate-plugin-config.py"
JWKS = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
                             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})
JWT_AUTHN_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
PER_ROUTE_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"

JWT_AUTHN = {
    "@type": JWT_AUTHN_TYPE,
    "providers": {
        "auth0": {
            "issuer": "https://example.auth0.com/",
            "audiences": ["orders"],
            "remote_jwks": {
                "http_uri": {"uri": "https://example.auth0.com/.well-known/jwks.json", "cluster": "auth0_jwks",
                             "timeout": "5s"},
                "cache_duration": "300s",
                "async_fetch": {"fast_listener": True},
            },
            "forward": True,
            "payload_in_metadata": "jwt_payload",
            "claim_to_headers": [{"header_name": "x-user", "claim_name": "sub"}],
        },
        "local": {
            "issuer": "https://local.test",
            "local_jwks": {"inline_string": JWKS},
            "from_headers": [{"name": "x-jwt", "value_prefix": "JWT "}],
            "from_cookies": ["session"],
            "require_expiration": True,
            "clock_skew_seconds": 30,
            "jwt_cache_config": {"jwt_cache_size": 100},
        },
    },
    "rules": [
        {"match": {"prefix": "/healthz"}},
        {"match": {"path_separated_prefix": "/admin"}, "requires": {"provider_name": "local"}},
        {"match": {"prefix": "/v2"}, "requirement_name": "either"},
        {"match": {"prefix": "/", "headers": [{"name": "x-internal", "present_match": True}]},
         "requires": {"provider_and_audiences": {"provider_name": "auth0", "audiences": ["internal"]}}},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "auth0"}},
    ],
    "requirement_map": {"either": {"requires_any": {"requirements": [
        {"provider_name": "auth0"}, {"provider_name": "local"}]}}},
    "bypass_cors_preflight": True,
}

AUTH0 = {
    "issuer": "https://example.auth0.com/",
    "audiences": ["orders"],
    "remote_jwks": {"cluster": "auth0_jwks", "path": "/.well-known/jwks.json", "authority": "example.auth0.com",
                    "timeout_ms": 5000, "cache_duration_seconds": 300, "fetch_at_start": True},
    "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
    "from_params": ["access_token"],
    "forward": True,
    "claim_to_headers": [{"header_name": "x-user", "claim_name": "sub"}],
    "payload_in_filter_state": "jwt_payload",
}

EXPECTED = {
    "providers": {
        "auth0": AUTH0,
        "local": {
            "issuer": "https://local.test",
            "local_jwks": {"inline_string": JWKS},
            "from_headers": [{"name": "x-jwt", "value_prefix": "JWT "}],
            "from_cookies": ["session"],
            "clock_skew_seconds": 30,
            "require_expiration": True,
        },
        "auth0-aud-2": dict(AUTH0, audiences=["internal"]),
    },
    "requirements": {"either": {"requires_any": ["auth0", "local"]}},
    "rules": [
        {"match": {"prefix": "/healthz"}},
        {"match": {"path": "/admin"}, "requires": {"provider_name": "local"}},
        {"match": {"prefix": "/admin/"}, "requires": {"provider_name": "local"}},
        {"match": {"prefix": "/v2"}, "requirement_name": "either"},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "auth0-aud-2"}},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "auth0"}},
    ],
    "bypass_cors_preflight": True,
    "token_cache_size": 100,
}


def bootstrap(jwt_authn: dict, routes: list | None = None, port: int = 10000, name: str = "main") -> dict:
    """An Envoy bootstrap with the filter in a listener and the JWKS cluster it names."""
    return {
        "static_resources": {
            "listeners": [listener(name, port, jwt_authn, routes)],
            "clusters": [{
                "name": "auth0_jwks", "type": "STRICT_DNS", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "auth0_jwks", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": 443}}}}]}]},
            }],
        }
    }


def listener(name: str, port: int, http_filter_config: dict, routes: list | None = None, wasm: bool = False) -> dict:
    http_filter = (harness.to_build({"name": "envoy.filters.http.wasm", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {"root_id": "warden", "vm_config": {"runtime": "envoy.wasm.runtime.v8", "code": {
            "local": {"filename": str(harness.WASM_FILE)}}},
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": json.dumps(http_filter_config)}}}})
                   if wasm else {"name": "envoy.filters.http.jwt_authn", "typed_config": http_filter_config})
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                         ".HttpConnectionManager",
                "stat_prefix": name,
                "route_config": {"name": f"{name}_routes", "virtual_hosts": [{
                    "name": "all", "domains": ["*"],
                    "routes": routes or [{"match": {"prefix": "/"}, "direct_response": {"status": 200}}]}]},
                "http_filters": [http_filter, {"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
            },
        }]}],
    }


def convert(tmp_path, text: str, name: str = "source.yaml", *extra: str) -> subprocess.CompletedProcess:
    source = tmp_path / name
    source.write_text(text)
    return subprocess.run([sys.executable, str(CONVERTER), str(source), *extra], capture_output=True, text=True,
                          timeout=60)


def plugin_accepts(tmp_path, config: dict) -> None:
    path = tmp_path / "warden.json"
    path.write_text(json.dumps(config))
    result = subprocess.run([sys.executable, str(VALIDATE), str(path)], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


def envoy_accepts(tmp_path, config: dict, name: str = "envoy-source.yaml") -> None:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    result = harness.envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("shape", ["bootstrap-yaml", "bootstrap-json", "ecds", "bare"])
def test_envoy_configurations_convert_exactly(tmp_path, shape):
    if shape == "bootstrap-yaml":
        envoy_accepts(tmp_path, bootstrap(JWT_AUTHN))
        text = yaml.safe_dump(bootstrap(JWT_AUTHN))
    elif shape == "bootstrap-json":
        text = json.dumps(bootstrap(JWT_AUTHN))
    elif shape == "ecds":
        # An ECDS resource as a discovery response carries it.
        text = yaml.safe_dump({"version_info": "1", "resources": [{
            "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
            "name": "jwt", "typed_config": JWT_AUTHN}]})
    else:
        text = json.dumps({k: v for k, v in JWT_AUTHN.items() if k != "@type"})
    result = convert(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED
    notes = result.stderr
    for field in ("providers.auth0.require_expiration", "providers.auth0.payload_in_metadata",
                  "providers.*.jwt_cache_config.jwt_cache_size",
                  "rules[1].match.path_separated_prefix", "rules[3].match",
                  "rules[3].requires.provider_and_audiences"):
        assert f"different: {field}:" in notes, notes
    # `local` sets require_expiration itself, and fast_listener: true is what Warden does anyway.
    assert "providers.local.require_expiration" not in notes
    assert "fast_listener" not in notes
    assert "not carried over" not in notes, notes
    if shape == "bootstrap-yaml":
        plugin_accepts(tmp_path, json.loads(result.stdout))


# ---- one case per field ----

def base_source() -> dict:
    return {
        "@type": JWT_AUTHN_TYPE,
        "providers": {
            "a": {"issuer": "https://a.test", "local_jwks": {"inline_string": JWKS}, "require_expiration": True},
            "b": {"issuer": "https://b.test", "local_jwks": {"inline_string": JWKS}, "require_expiration": True,
                  "from_headers": [{"name": "x-b"}]},
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}],
    }


def provider(**fields):
    def patch(src):
        src["providers"]["a"].update(fields)
    return patch


def top(**fields):
    def patch(src):
        src.update(fields)
    return patch


def requires(req):
    def patch(src):
        src["rules"][0]["requires"] = req
    return patch


def any_of(*reqs):
    return {"requires_any": {"requirements": list(reqs)}}


def all_of(*reqs):
    return {"requires_all": {"requirements": list(reqs)}}


A, B = {"provider_name": "a"}, {"provider_name": "b"}
MISSING, MISSING_OR_FAILED = {"allow_missing": {}}, {"allow_missing_or_failed": {}}

# id -> (patch of base_source, {path in the output: expected value}, stderr lines expected)
FIELDS = {
    "requires_all": (requires(all_of(A, B)), {("rules", 0, "requires"): {"requires_all": ["a", "b"]}}, []),
    "allow_missing": (requires(MISSING), {("rules", 0, "requires"): {"allow_missing": {}}}, []),
    "allow_missing_or_failed": (requires(MISSING_OR_FAILED),
                                {("rules", 0, "requires"): {"allow_missing_or_failed": {}}}, []),
    "nesting": (requires(all_of(any_of(A, MISSING), any_of(B, all_of(A, B)))),
                {("rules", 0, "requires"): {"requires_all": [
                    {"requires_any": ["a", {"allow_missing": {}}]},
                    {"requires_any": ["b", {"requires_all": ["a", "b"]}]}]}}, []),
    "empty_inside_list": (requires(any_of(A, {})),
                          {("rules", 0, "requires"): {"requires_any": ["a", {"allow_missing_or_failed": {}}]}},
                          ["different: rules[0].requires.requires_any.requirements[1]: an empty requirement"]),
    "requirement_map": (lambda s: (s.update(requirement_map={"both": all_of(A, B), "open": {}}),
                                   s["rules"].insert(0, {"match": {"prefix": "/both"}, "requirement_name": "both"})),
                        {("requirements",): {"both": {"requires_all": ["a", "b"]},
                                             "open": {"allow_missing_or_failed": {}}},
                         ("rules", 0): {"match": {"prefix": "/both"}, "requirement_name": "both"}},
                        ["different: requirement_map.open: an empty requirement always passes"]),
    "filter_state_rules": (top(filter_state_rules={"name": "jwt_selector", "requires": {
                               "issuer_a": A, "both": all_of(A, B)}}),
                           {("filter_state_rules",): {"name": "jwt_selector", "requires": {
                               "issuer_a": {"provider_name": "a"}, "both": {"requires_all": ["a", "b"]}}}}, []),
    "payload_in_metadata": (provider(payload_in_metadata="jwt_payload"),
                            {("providers", "a", "payload_in_filter_state"): "jwt_payload"},
                            ["different: providers.a.payload_in_metadata: written to filter state `wasm.jwt_payload`"]),
    "header_in_metadata": (provider(header_in_metadata="jwt_header"),
                           {("providers", "a", "header_in_filter_state"): "jwt_header"},
                           ["different: providers.a.header_in_metadata: written to filter state `wasm.jwt_header`"]),
    "failed_status_in_metadata": (provider(failed_status_in_metadata="jwt_failure"),
                                  {("providers", "a", "failed_status_in_filter_state"): "jwt_failure"},
                                  ["different: providers.a.failed_status_in_metadata: written to filter state",
                                   "Its code is the HTTP status"]),
    "normalize_payload_in_metadata": (provider(payload_in_metadata="p", normalize_payload_in_metadata={
                                          "space_delimited_claims": ["scope", "roles"]}),
                                      {("providers", "a", "normalize_payload_in_filter_state"): {
                                          "space_delimited_claims": ["scope", "roles"]}}, []),
    "forward_payload_header": (provider(forward_payload_header="x-jwt-payload", pad_forward_payload_header=True),
                               {("providers", "a", "forward_payload_header"): "x-jwt-payload",
                                ("providers", "a", "pad_forward_payload_header"): True}, []),
    "clear_route_cache": (provider(clear_route_cache=True, claim_to_headers=[
                              {"header_name": "x-tier", "claim_name": "tier"}]),
                          {("providers", "a", "clear_route_cache"): True}, []),
    "bypass_cors_preflight": (top(bypass_cors_preflight=True), {("bypass_cors_preflight",): True}, []),
    "strip_failure_response": (top(strip_failure_response=True), {("strip_failure_response",): True}, []),
    "subjects": (provider(subjects={"prefix": "spiffe://example.org/", "ignore_case": True}),
                 {("providers", "a", "subjects"): {"prefix": "spiffe://example.org/", "ignore_case": True}}, []),
    "subjects_exact": (provider(subjects={"exact": "alice"}),
                       {("providers", "a", "subjects"): {"exact": "alice"}}, []),
    "subjects_suffix": (provider(subjects={"suffix": "@example.org"}),
                        {("providers", "a", "subjects"): {"suffix": "@example.org"}}, []),
    "subjects_contains": (provider(subjects={"contains": "/ns/prod/"}),
                          {("providers", "a", "subjects"): {"contains": "/ns/prod/"}}, []),
    "subjects_literal_regex": (provider(subjects={"safe_regex": {"regex": r"spiffe://example\.org/.*"}}),
                               {("providers", "a", "subjects"): {"prefix": "spiffe://example.org/"}}, []),
    "max_lifetime": (provider(max_lifetime="86400s"), {("providers", "a", "max_lifetime_seconds"): 86400}, []),
    "jwt_cache_size": (lambda s: (s["providers"]["a"].update(jwt_cache_config={"jwt_cache_size": 40000}),
                                  s["providers"]["b"].update(jwt_cache_config={"jwt_cache_size": 30000})),
                       {("token_cache_size",): 65536},
                       ["different: providers.*.jwt_cache_config.jwt_cache_size: one verified-token cache per VM",
                        "capped at 65536"]),
    "jwt_cache_default_size": (provider(jwt_cache_config={}), {("token_cache_size",): 100}, []),
    "retry_policy": (lambda s: s["providers"].update(r={"issuer": "https://r.test", "require_expiration": True,
                                                         "from_headers": [{"name": "x-r"}], "remote_jwks": {
        "http_uri": {"uri": "https://r.test/jwks", "cluster": "auth0_jwks", "timeout": "1s"},
        "retry_policy": {"num_retries": 10, "retry_back_off": {"base_interval": "0.01s", "max_interval": "20s"}}}}),
                     {("providers", "r", "remote_jwks", "retry"): {"num_retries": 10, "base_interval_ms": 10,
                                                                  "max_interval_ms": 20000}}, []),
    "retry_policy_defaults": (lambda s: s["providers"].update(r={
        "issuer": "https://r.test", "require_expiration": True, "from_headers": [{"name": "x-r"}], "remote_jwks": {
            "http_uri": {"uri": "https://r.test/jwks", "cluster": "auth0_jwks", "timeout": "1s"},
            "retry_policy": {}}}),
                              {("providers", "r", "remote_jwks", "retry"): {"num_retries": 1, "base_interval_ms": 1000,
                                                                           "max_interval_ms": 10000}}, []),
    "async_fetch": (lambda s: s["providers"].update(r={"issuer": "https://r.test", "require_expiration": True,
                                                        "from_headers": [{"name": "x-r"}], "remote_jwks": {
        "http_uri": {"uri": "https://r.test/jwks", "cluster": "auth0_jwks", "timeout": "1s"},
        "async_fetch": {}}}),
                    {("providers", "r", "remote_jwks", "fetch_at_start"): True},
                    ["different: providers.r.remote_jwks.async_fetch.fast_listener: a wasm filter cannot hold the "
                     "listener"]),
    "stat_prefix": (top(stat_prefix="edge_jwt."), {("stat_prefix",): "edge_jwt"},
                    ["different: stat_prefix: metrics are named warden.edge_jwt.<name>"]),
}


def dig(config, path):
    for key in path:
        config = config[key]
    return config


@pytest.fixture(scope="module")
def fields(tmp_path_factory):
    """Every FIELDS case: its source checked by Envoy, converted, the result checked by the plugin."""
    work = tmp_path_factory.mktemp("fields")
    sources, results = {}, {}
    for name, (patch, _, _) in FIELDS.items():
        src = base_source()
        patch(src)
        sources[name] = src
        results[name] = convert(work, json.dumps(src), f"{name}.json")
    converted = {n: json.loads(r.stdout) for n, r in results.items() if r.returncode == 0}
    return {
        "results": results,
        "envoy": batch_validate(work, "source", sources, wasm=False),
        "plugin": batch_validate(work, "warden", converted, wasm=True),
    }


def batch_validate(work, kind: str, configs: dict, wasm: bool) -> dict:
    """{case: None if accepted, else Envoy's complaint}, from one run (or one per case on failure)."""
    def run(items, tag) -> subprocess.CompletedProcess:
        listeners = [listener(f"{kind}_{n}", 20000 + i, cfg, wasm=wasm) for i, (n, cfg) in enumerate(items)]
        doc = bootstrap(base_source())
        doc["static_resources"]["listeners"] = listeners
        path = work / f"{kind}-{tag}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return harness.envoy_validate(path)

    if not configs:
        return {}
    whole = run(list(configs.items()), "all")
    if whole.returncode == 0:
        return {n: None for n in configs}
    verdicts = {}
    for n, cfg in configs.items():
        alone = run([(n, cfg)], n)
        lines = (alone.stdout + alone.stderr).splitlines()
        reasons = [line[line.index("warden: invalid configuration: "):] for line in lines
                   if "warden: invalid configuration: " in line]
        verdicts[n] = None if alone.returncode == 0 else "\n".join(
            reasons or [line for line in lines if "critical" in line])[-2000:]
    return verdicts


@pytest.mark.parametrize("case", list(FIELDS))
def test_field_converts(fields, case):
    _, expected, notes = FIELDS[case]
    assert fields["envoy"][case] is None, f"Envoy refuses the jwt_authn source: {fields['envoy'][case]}"
    result = fields["results"][case]
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for path, value in expected.items():
        assert dig(out, path) == value, (path, out)
    for line in notes:
        assert line in result.stderr, result.stderr
    assert "unknown to this converter" not in result.stderr
    assert fields["plugin"][case] is None, f"the plugin refuses the converted configuration: {fields['plugin'][case]}"


def test_every_field_is_said_when_not_carried_over(tmp_path):
    """Fields Warden has no place for are named on stderr, each with why."""
    src = base_source()
    src["providers"]["r"] = {"issuer": "https://r.test", "require_expiration": True, "remote_jwks": {
        "http_uri": {"uri": "https://r.test/jwks", "cluster": "auth0_jwks", "timeout": "1s"},
        "async_fetch": {"failed_refetch_duration": "3s"},
        "retry_policy": {"retry_on": "5xx", "num_retries": 2}}}
    src["providers"]["a"]["pad_forward_payload_header"] = True
    result = convert(tmp_path, json.dumps(src), "dropped.json")
    assert result.returncode == 0, result.stderr
    for line in ("not carried over: providers.r.remote_jwks.async_fetch.failed_refetch_duration: ",
                 "not carried over: providers.r.remote_jwks.retry_policy.retry_on: Warden retries every failed fetch",
                 "not carried over: providers.a.pad_forward_payload_header: no forward_payload_header"):
        assert line in result.stderr, result.stderr


def test_what_would_weaken_the_policy_is_refused(tmp_path):
    # A subjects regex Warden cannot say: dropping it would accept subjects jwt_authn refuses.
    src = base_source()
    src["providers"]["a"]["subjects"] = {"safe_regex": {"regex": "spiffe://example\\.org/(ns|team)/[a-z]+"}}
    result = convert(tmp_path, json.dumps(src), "regex.json")
    assert result.returncode == 2 and result.stdout == ""
    assert "refused: providers.a.subjects.safe_regex" in result.stderr
    # Deeper than Warden's 8 levels.
    deep = A
    for _ in range(8):
        deep = all_of(deep, B)
    src = base_source()
    src["rules"][0]["requires"] = deep
    result = convert(tmp_path, json.dumps(src), "deep.json")
    assert result.returncode == 2 and "refused: rules[0].requires: 9 levels" in result.stderr
    # A requirement naming no provider of the configuration.
    src = base_source()
    src["rules"][0]["requires"] = {"provider_name": "nobody"}
    result = convert(tmp_path, json.dumps(src), "nobody.json")
    assert result.returncode == 2 and "provider_name 'nobody' is not in providers" in result.stderr
    # Nothing recognisable at all.
    result = convert(tmp_path, "just: yaml\n", "nothing.yaml")
    assert result.returncode == 2 and "no jwt_authn configuration" in result.stderr


def test_a_header_conditioned_exemption_is_left_out(tmp_path):
    source = dict(JWT_AUTHN, rules=[
        {"match": {"prefix": "/", "headers": [{"name": "x-skip", "present_match": True}]}},
        {"match": {"prefix": "/", "headers": [{"name": "x-soft", "present_match": True}]},
         "requires": {"allow_missing_or_failed": {}}},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "local"}},
    ])
    result = convert(tmp_path, json.dumps(source), "exempt.json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rules"] == [{"match": {"prefix": "/"}, "requires": {"provider_name": "local"}}]
    assert "not carried over: rules[0].match: headers cannot be matched" in result.stderr
    assert "not carried over: rules[1].match: headers cannot be matched" in result.stderr


# ---- per-route configs ----

ROUTES = [
    {"name": "open", "match": {"prefix": "/open"}, "direct_response": {"status": 200},
     "typed_per_filter_config": {"envoy.filters.http.jwt_authn": {"@type": PER_ROUTE_TYPE, "disabled": True}}},
    {"name": "both", "match": {"prefix": "/both"}, "direct_response": {"status": 200},
     "typed_per_filter_config": {"envoy.filters.http.jwt_authn": {"@type": PER_ROUTE_TYPE,
                                                                   "requirement_name": "both"}}},
    {"name": "off", "match": {"prefix": "/off"}, "direct_response": {"status": 200},
     "typed_per_filter_config": {"envoy.filters.http.jwt_authn": {
         "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}}},
    {"name": "rest", "match": {"prefix": "/"}, "direct_response": {"status": 200}},
]


def per_route_source() -> dict:
    src = base_source()
    src["requirement_map"] = {"both": all_of(A, B)}
    return bootstrap(src, copy.deepcopy(ROUTES))


def test_per_route_configs_are_listed_as_route_metadata(tmp_path):
    source = per_route_source()
    envoy_accepts(tmp_path, source)
    result = convert(tmp_path, yaml.safe_dump(source), "routes.yaml")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["requirements"] == {"both": {"requires_all": ["a", "b"]}}
    lines = [line for line in result.stderr.splitlines() if line.startswith("route metadata: ")]
    assert lines == [
        'route metadata: main_routes/all/open: add {"filter_metadata": {"warden": {"disabled": true}}} '
        "(replaces route typed_per_filter_config.envoy.filters.http.jwt_authn)",
        'route metadata: main_routes/all/both: add {"filter_metadata": {"warden": {"requirement": "both"}}} '
        "(replaces route typed_per_filter_config.envoy.filters.http.jwt_authn)",
        'route metadata: main_routes/all/off: add {"filter_metadata": {"warden": {"disabled": true}}} '
        "(replaces route typed_per_filter_config.envoy.filters.http.jwt_authn)",
    ]


def test_virtual_host_per_route_config_reaches_each_route(tmp_path):
    src = base_source()
    src["requirement_map"] = {"both": all_of(A, B)}
    source = bootstrap(src, copy.deepcopy(ROUTES))
    vhost = source["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"][
        "route_config"]["virtual_hosts"][0]
    vhost["typed_per_filter_config"] = {"envoy.filters.http.jwt_authn": {"@type": PER_ROUTE_TYPE,
                                                                          "requirement_name": "both"}}
    out = tmp_path / "rewritten.yaml"
    result = convert(tmp_path, yaml.safe_dump(source), "vhost.yaml", "--bootstrap-out", str(out),
                     "--wasm", str(harness.WASM_FILE))
    assert result.returncode == 0, result.stderr
    routes = yaml.safe_load(out.read_text())["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"]["route_config"]["virtual_hosts"][0]
    assert "typed_per_filter_config" not in routes
    assert [r.get("metadata") for r in routes["routes"]] == [
        {"filter_metadata": {"warden": {"disabled": True}}},
        {"filter_metadata": {"warden": {"requirement": "both"}}},
        {"filter_metadata": {"warden": {"disabled": True}}},
        {"filter_metadata": {"warden": {"requirement": "both"}}},  # from the virtual host
    ]


def test_bootstrap_out_rewrites_a_bootstrap_envoy_runs(tmp_path):
    out = tmp_path / "rewritten.json"
    result = convert(tmp_path, json.dumps(per_route_source()), "routes.json", "--bootstrap-out", str(out),
                     "--wasm", str(harness.WASM_FILE))
    assert result.returncode == 0, result.stderr
    rewritten = json.loads(out.read_text())
    text = json.dumps(rewritten)
    assert "jwt_authn" not in text
    hcm = rewritten["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    wasm = hcm["http_filters"][0]["typed_config"]["config"]
    assert json.loads(wasm["configuration"]["value"]) == json.loads(result.stdout)
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert routes[1]["metadata"] == {"filter_metadata": {"warden": {"requirement": "both"}}}
    assert "typed_per_filter_config" not in routes[1]
    # The real Envoy loads it, with the real plugin accepting its configuration (under
    # WARDEN_BUILD=native the converter's wasm filter swapped for the module with the same JSON).
    loaded = tmp_path / "loaded.json"
    loaded.write_text(json.dumps(harness.to_build(rewritten)))
    result = harness.envoy_validate(loaded)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- Istio ----

ISTIO = """
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwksUri: "https://raw.githubusercontent.com/istio/istio/release-1.24/security/tools/jwt/samples/jwks.json"
    timeout: 2s
    forwardOriginalToken: true
    outputClaimToHeaders:
    - header: "x-jwt-claim-foo"
      claim: "foo"
    outputPayloadToHeader: x-jwt-payload
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: second
  namespace: foo
spec:
  jwtRules:
  - issuer: "https://accounts.example.com"
    audiences: ["orders"]
    jwks: '%s'
    jwksUri: "https://accounts.example.com/jwks"
    fromHeaders:
    - name: x-token
      prefix: "Bearer "
    fromParams: ["token"]
    fromCookies: ["session"]
""" % JWKS


def test_istio_request_authentication_converts(tmp_path):
    result = convert(tmp_path, ISTIO)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config == {
        "providers": {
            "testing-secure-istio-io": {
                "issuer": "testing@secure.istio.io",
                "remote_jwks": {"cluster": "outbound|443||raw.githubusercontent.com",
                                "path": "/istio/istio/release-1.24/security/tools/jwt/samples/jwks.json",
                                "authority": "raw.githubusercontent.com", "timeout_ms": 2000},
                "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
                "from_params": ["access_token"],
                "forward": True,
                "claim_to_headers": [{"header_name": "x-jwt-claim-foo", "claim_name": "foo"}],
                "forward_payload_header": "x-jwt-payload",
            },
            "accounts-example-com": {
                "issuer": "https://accounts.example.com",
                "audiences": ["orders"],
                "local_jwks": {"inline_string": JWKS},
                "from_headers": [{"name": "x-token", "value_prefix": "Bearer "}],
                "from_params": ["token"],
                "from_cookies": ["session"],
            },
        },
        # What Istio generates (convertToEnvoyJwtConfig): a present token must be valid, none is fine.
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": [
            "testing-secure-istio-io", "accounts-example-com", {"requires_all": [
                {"requires_any": ["testing-secure-istio-io", {"allow_missing": {}}]},
                {"requires_any": ["accounts-example-com", {"allow_missing": {}}]}]}]}}],
        "bypass_cors_preflight": True,
    }
    notes = result.stderr
    assert "different: RequestAuthentication foo/jwt-example: spec.selector" in notes
    assert "different: RequestAuthentication foo/second: spec.jwtRules[0].jwksUri: ignored: jwks is set" in notes
    assert "different: rules: as Istio: a request without a token passes" in notes
    assert "not carried over" not in notes
    plugin_accepts(tmp_path, config)


def test_istio_single_rule_allows_a_missing_token(tmp_path):
    one = ISTIO.split("---")[1]
    result = convert(tmp_path, one, "one.yaml")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rules"] == [{"match": {"prefix": "/"}, "requires": {"requires_any": [
        "accounts-example-com", {"allow_missing": {}}]}}]


# ---- inputs as real tools write them (found by the migration corpus, scripts/migration-corpus) ----

def test_camel_case_field_names_read_as_snake_case(tmp_path):
    """proto3 JSON lets xDS servers and config_dump write `remoteJwks`; map keys (provider and
    requirement names) stay as written."""
    src = {"@type": JWT_AUTHN_TYPE,
           "providers": {"myProvider": {"issuer": "https://a.test", "requireExpiration": True,
                                        "remoteJwks": {"httpUri": {"uri": "https://a.test/jwks", "cluster": "jwksCluster",
                                                                   "timeout": "1s"}},
                                        "payloadInMetadata": "jwtPayload",
                                        "fromHeaders": [{"name": "x-jwt", "valuePrefix": "JWT "}]}},
           "rules": [{"match": {"prefix": "/"}, "requirementName": "needsIt"}],
           "requirementMap": {"needsIt": {"providerName": "myProvider"}}}
    result = convert(tmp_path, json.dumps(src), "camel.json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["providers"]["myProvider"]["remote_jwks"]["cluster"] == "jwksCluster"
    assert out["providers"]["myProvider"]["payload_in_filter_state"] == "jwtPayload"
    assert out["providers"]["myProvider"]["from_headers"] == [{"name": "x-jwt", "value_prefix": "JWT "}]
    assert out["requirements"] == {"needsIt": {"provider_name": "myProvider"}}
    assert out["rules"] == [{"match": {"prefix": "/"}, "requirement_name": "needsIt"}]
    assert "unknown to this converter" not in result.stderr


def test_a_metadata_key_the_access_log_cannot_name_becomes_a_legal_filter_state_key(tmp_path):
    """Envoy Gateway names the payload's metadata key after the issuer URL; `:` and `/` would end
    `%FILTER_STATE(wasm.KEY:PLAIN)%`, so the plugin refuses such a key: the converter writes a legal
    one, says which, and the plugin accepts the result."""
    src = base_source()
    src["providers"]["a"]["payload_in_metadata"] = "https://www.example.com"
    src["providers"]["b"]["payload_in_metadata"] = "warden.claims"
    result = convert(tmp_path, json.dumps(src), "issuer-key.json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["providers"]["a"]["payload_in_filter_state"] == "https___www.example.com"
    assert out["providers"]["b"]["payload_in_filter_state"] == "jwt_warden.claims"
    assert "written as 'https___www.example.com'" in result.stderr
    plugin_accepts(tmp_path, out)


def test_a_scalar_where_a_list_is_expected_is_a_one_item_list(tmp_path):
    src = base_source()
    src["providers"]["a"]["audiences"] = "orders"
    src["providers"]["a"]["from_params"] = "tok"
    result = convert(tmp_path, yaml.safe_dump(src), "scalar.yaml")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["providers"]["a"]["audiences"] == ["orders"]
    assert json.loads(result.stdout)["providers"]["a"]["from_params"] == ["tok"]


def test_bad_inputs_name_the_field(tmp_path):
    cases = [
        ("providers:\n  a: {issuer: x\n  b: 1\n", 1, "cannot read this configuration: not YAML or JSON"),
        ("kind: RequestAuthentication\nspec:\n  jwtRules:\n  - \n", 1, "spec.jwtRules[0]: a rule needs an issuer"),
        ("kind: RequestAuthentication\nspec:\n  jwtRules:\n  - issuer: x\n    jwks: '{}'\n    fromHeaders: [x-jwt]\n",
         1, "spec.jwtRules[0].fromHeaders[0]: needs a name"),
        ("kind: RequestAuthentication\nspec:\n  jwtRules:\n  - issuer: x\n    jwks: '{}'\n    outputClaimToHeaders: [~]\n",
         1, "spec.jwtRules[0].outputClaimToHeaders[0]: needs header and claim"),
        (json.dumps({"providers": {"a": {"remote_jwks": {"http_uri": {"uri": "https://a/jwks"}}}}}), 2,
         "refused: providers.a.remote_jwks.http_uri.cluster is missing"),
        (json.dumps({"providers": {"a": {"local_jwks": {"inline_string": JWKS}}},
                     "rules": [{"match": {"prefix": "/"}, "requires": {"extract_only_without_validation": {}}}]}), 2,
         "refused: rules[0].requires.extract_only_without_validation: Warden never passes on the claims"),
    ]
    for i, (text, status, message) in enumerate(cases):
        result = convert(tmp_path, text, f"bad-{i}.yaml")
        assert result.returncode == status and message in result.stderr, (text, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr


def test_istio_presence_and_space_delimited_claims(tmp_path):
    text = f"""
kind: RequestAuthentication
metadata: {{name: p, namespace: ns}}
spec:
  jwtRules:
  - issuer: https://a.test
    jwks: '{JWKS}'
    presence: REQUIRED
    spaceDelimitedClaims: [scope]
  - issuer: https://b.test
    jwks: '{JWKS}'
    fromHeaders: [{{name: x-b}}]
---
kind: RequestAuthentication
metadata: {{name: empty, namespace: ns}}
spec:
  selector: {{matchLabels: {{app: x}}}}
"""
    result = convert(tmp_path, text, "presence.yaml")
    assert result.returncode == 0, result.stderr
    # The strictest reading: a's token must be there; b's, when present, must be valid.
    assert json.loads(result.stdout)["rules"][0]["requires"] == {"requires_all": [
        "a-test", {"requires_any": ["b-test", {"allow_missing": {}}]}]}
    assert "different: RequestAuthentication ns/p: spec.jwtRules[0].presence: REQUIRED" in result.stderr
    assert "not carried over: RequestAuthentication ns/p: spec.jwtRules[0].spaceDelimitedClaims" in result.stderr
    assert "different: RequestAuthentication ns/empty: spec.jwtRules: none" in result.stderr
