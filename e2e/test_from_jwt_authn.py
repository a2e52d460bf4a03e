"""`scripts/from-jwt-authn` on real configurations: each source is first accepted by the real Envoy
(`--mode validate`, so it is a jwt_authn configuration Envoy really runs), then converted, and the
result must be exactly the expected Warden configuration, accepted by the real plugin in Envoy
(`scripts/validate-plugin-config.py`), with every field left behind named on stderr."""

from __future__ import annotations

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

JWT_AUTHN = {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
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

EXPECTED = {
    "providers": {
        "auth0": {
            "issuer": "https://example.auth0.com/",
            "audiences": ["orders"],
            "remote_jwks": {"cluster": "auth0_jwks", "path": "/.well-known/jwks.json",
                            "authority": "example.auth0.com", "timeout_ms": 5000, "cache_duration_seconds": 300},
            "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
            "from_params": ["access_token"],
            "forward": True,
            "claim_to_headers": [{"header_name": "x-user", "claim_name": "sub"}],
        },
        "local": {
            "issuer": "https://local.test",
            "local_jwks": {"inline_string": JWKS},
            "from_headers": [{"name": "x-jwt", "value_prefix": "JWT "}],
            "from_cookies": ["session"],
            "clock_skew_seconds": 30,
            "require_expiration": True,
        },
        "auth0-aud-2": {
            "issuer": "https://example.auth0.com/",
            "audiences": ["internal"],
            "remote_jwks": {"cluster": "auth0_jwks", "path": "/.well-known/jwks.json",
                            "authority": "example.auth0.com", "timeout_ms": 5000, "cache_duration_seconds": 300},
            "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
            "from_params": ["access_token"],
            "forward": True,
            "claim_to_headers": [{"header_name": "x-user", "claim_name": "sub"}],
        },
    },
    "rules": [
        {"match": {"prefix": "/healthz"}},
        {"match": {"path": "/admin"}, "requires": {"provider_name": "local"}},
        {"match": {"prefix": "/admin/"}, "requires": {"provider_name": "local"}},
        {"match": {"prefix": "/v2"}, "requires": {"requires_any": ["auth0", "local"]}},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "auth0-aud-2"}},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "auth0"}},
    ],
}


def bootstrap(jwt_authn: dict) -> dict:
    """An Envoy bootstrap with the filter in a listener and the JWKS cluster it names."""
    return {
        "static_resources": {
            "listeners": [{
                "name": "main",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                                 ".HttpConnectionManager",
                        "stat_prefix": "main",
                        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                            {"match": {"prefix": "/"}, "direct_response": {"status": 200}}]}]},
                        "http_filters": [
                            {"name": "envoy.filters.http.jwt_authn", "typed_config": jwt_authn},
                            {"name": "envoy.filters.http.router", "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
                        ],
                    },
                }]}],
            }],
            "clusters": [{
                "name": "auth0_jwks", "type": "STRICT_DNS", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "auth0_jwks", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": 443}}}}]}]},
            }],
        }
    }


def convert(tmp_path, text: str, name: str = "source.yaml") -> subprocess.CompletedProcess:
    source = tmp_path / name
    source.write_text(text)
    return subprocess.run([sys.executable, str(CONVERTER), str(source)], capture_output=True, text=True,
                          timeout=60)


def plugin_accepts(tmp_path, config: dict) -> None:
    path = tmp_path / "warden.json"
    path.write_text(json.dumps(config))
    result = subprocess.run([sys.executable, str(VALIDATE), str(path)], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


def envoy_accepts(tmp_path, config: dict) -> None:
    path = tmp_path / "envoy-source.yaml"
    path.write_text(yaml.safe_dump(config))
    result = harness.envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("shape", ["bootstrap-yaml", "bootstrap-json", "ecds", "bare"])
def test_envoy_configurations_convert_exactly(tmp_path, shape):
    envoy_accepts(tmp_path, bootstrap(JWT_AUTHN))
    if shape == "bootstrap-yaml":
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
    for field in ("providers.auth0.payload_in_metadata", "providers.local.jwt_cache_config",
                  "bypass_cors_preflight"):
        assert f"not carried over: {field}:" in notes, notes
    for field in ("providers.auth0.require_expiration", "providers.auth0.remote_jwks.async_fetch",
                  "rules[1].match.path_separated_prefix", "rules[3].match",
                  "rules[3].requires.provider_and_audiences"):
        assert f"different: {field}:" in notes, notes
    # `local` sets require_expiration itself: nothing to say about it.
    assert "providers.local.require_expiration" not in notes
    if shape == "bootstrap-yaml":
        plugin_accepts(tmp_path, json.loads(result.stdout))


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
    fromHeaders:
    - name: x-token
      prefix: "Bearer "
    fromParams: ["token"]
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
                                "authority": "raw.githubusercontent.com"},
                "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
                "from_params": ["access_token"],
                "forward": True,
                "claim_to_headers": [{"header_name": "x-jwt-claim-foo", "claim_name": "foo"}],
            },
            "accounts-example-com": {
                "issuer": "https://accounts.example.com",
                "audiences": ["orders"],
                "local_jwks": {"inline_string": JWKS},
                "from_headers": [{"name": "x-token", "value_prefix": "Bearer "}],
                "from_params": ["token"],
            },
        },
        "rules": [{"match": {"prefix": "/"},
                   "requires": {"requires_any": ["testing-secure-istio-io", "accounts-example-com"]}}],
    }
    notes = result.stderr
    assert "not carried over: RequestAuthentication foo/jwt-example: spec.jwtRules[0].outputPayloadToHeader" in notes
    assert "different: RequestAuthentication foo/jwt-example: spec.selector" in notes
    assert "different: rules: RequestAuthentication only refuses invalid tokens" in notes
    plugin_accepts(tmp_path, config)


def test_what_would_weaken_the_policy_is_refused(tmp_path):
    source = dict(JWT_AUTHN, rules=[{"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [
        {"provider_name": "auth0"}, {"provider_name": "local"}]}}}])
    result = convert(tmp_path, json.dumps(source), "all.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "refused: rules[0].requires.requires_all" in result.stderr
    # Nothing recognisable at all.
    result = convert(tmp_path, "just: yaml\n", "nothing.yaml")
    assert result.returncode == 2 and "no jwt_authn configuration" in result.stderr


def test_a_header_conditioned_exemption_is_left_out(tmp_path):
    source = dict(JWT_AUTHN, rules=[
        {"match": {"prefix": "/", "headers": [{"name": "x-skip", "present_match": True}]}},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "local"}},
    ])
    result = convert(tmp_path, json.dumps(source), "exempt.json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rules"] == [{"match": {"prefix": "/"}, "requires": {"provider_name": "local"}}]
    assert "not carried over: rules[0].match: headers cannot be matched" in result.stderr
