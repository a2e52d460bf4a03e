"""Local verification in real Envoy: every algorithm, every rejection class, bypass rules, token
sources, claim headers and token forwarding."""

from __future__ import annotations

import hashlib
import hmac
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from answers import assert_denied, echoed_headers
from tokens import ALGORITHMS, AUDIENCE, ISSUER, b64url, default_claims, tamper_payload, unsigned_token


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_valid_token_per_algorithm_reaches_upstream(stack, alg):
    response = stack.envoy.request("/api/items", stack.keys.token(alg, sub="alice-" + alg))
    assert response.status == 200, response
    assert response.json()["path"] == "/api/items"
    assert echoed_headers(response)["x-jwt-sub"] == ["alice-" + alg]


def test_repeated_token_is_accepted_again(stack):
    token = stack.keys.token("RS256")
    for _ in range(3):
        assert stack.envoy.request("/", token).status == 200


def test_missing_token_gets_a_bare_challenge(stack):
    response = stack.envoy.request("/api/items")
    assert response.status == 401, response
    assert response.header("www-authenticate") == 'Bearer realm="warden"', response
    assert response.header("content-type") == "application/json"
    assert response.json() == {"error": "unauthorized", "error_description": "token_missing"}


def test_wrong_scheme_counts_as_missing_token(stack):
    token = stack.keys.token("ES256")
    response = stack.envoy.request("/", headers={"authorization": f"Basic {token}"})
    assert response.status == 401, response
    assert response.json()["error_description"] == "token_missing"


def test_scheme_is_case_insensitive(stack):
    token = stack.keys.token("ES256")
    assert stack.envoy.request("/", headers={"authorization": f"bearer {token}"}).status == 200


def hostile_cases(keys):
    now = int(time.time())
    rs = keys.token("RS256")
    yield "token_malformed", "not-a-jwt"
    yield "token_malformed", "a.b"
    yield "token_malformed", "%%%.%%%.%%%"
    yield "token_too_large", keys.token("ES256", padding="x" * 9000)
    yield "algorithm_not_allowed", unsigned_token({"alg": "none", "kid": "ec256-1"}, default_claims())
    yield "algorithm_not_allowed", unsigned_token({"alg": "nOnE"}, default_claims())
    yield "key_not_found", keys.token("ES256", headers={"kid": "no-such-key"})
    yield "signature_invalid", tamper_payload(rs, sub="mallory")
    yield "signature_invalid", rs.rsplit(".", 1)[0] + "." + b64url(b"\0" * 256)
    yield "signature_invalid", unsigned_token({"alg": "ES256", "kid": "ec256-1"}, default_claims(), b"\0" * 64)
    yield "token_expired", keys.token("ES256", iat=now - 7200, exp=now - 3600)
    yield "token_not_yet_valid", keys.token("ES256", nbf=now + 3600)
    yield "issuer_mismatch", keys.token("ES256", iss="https://evil.example")
    yield "audience_mismatch", keys.token("ES256", aud="other-api")
    yield "crit_unsupported", keys.token("ES256", headers={"crit": ["x-unknown"], "x-unknown": 1})
    yield "claim_missing", keys.token("ES256", jti=None)
    yield "claim_missing", keys.token("ES256", sub=None)


def test_each_rejection_class_is_a_401_with_its_reason(stack):
    failures = []
    for reason, token in hostile_cases(stack.keys):
        response = stack.envoy.request("/", token)
        try:
            assert_denied(response, reason)
        except AssertionError:
            failures.append(f"expected {reason} for {token[:60]}...: {response}")
    assert not failures, "\n".join(failures)


def test_hmac_signed_with_the_rsa_public_key_is_refused(stack):
    """RS256 -> HS256 confusion: the RSA public key can never serve as an HMAC secret."""
    signing_input = unsigned_token({"alg": "HS256", "kid": "rsa-1"}, default_claims()).rsplit(".", 1)[0]
    signature = hmac.new(stack.keys.rsa_public_pem(), signing_input.encode(), hashlib.sha256).digest()
    response = stack.envoy.request("/", f"{signing_input}.{b64url(signature)}")
    assert response.status == 401, response
    assert response.json()["error_description"] in {"key_not_found", "signature_invalid"}


def test_provider_algorithm_allow_list(stack):
    assert stack.envoy.request("/es256/x", stack.keys.token("ES256")).status == 200
    assert_denied(stack.envoy.request("/es256/x", stack.keys.token("RS256")), "algorithm_not_allowed")


@pytest.mark.parametrize("path", ["/healthz", "/public/docs/", "/public/docs?x=1"])
def test_bypass_rules_need_no_token(stack, path):
    response = stack.envoy.request(path)
    assert response.status == 200, response
    assert response.json()["path"] == path


def test_bypass_exact_path_does_not_cover_longer_paths(stack):
    assert stack.envoy.request("/healthz/deep").status == 401


def test_bare_directory_of_an_open_prefix_is_refused_when_its_name_is_protected(stack):
    # `prefix /public/` is open but `/public` falls to the protected catch-all; upstreams that serve
    # `/public` for `/public/` (Express, Spring MVC <= 5.3) would serve it unchecked.
    answer = stack.envoy.request("/public/")
    assert answer.status == 400, answer
    assert answer.json() == {"error": "invalid_request", "error_description": "path_rejected"}


def test_token_from_query_parameter(stack):
    token = stack.keys.token("EdDSA", sub="query-user")
    response = stack.envoy.request(f"/q/items?a=1&access_token={token}&b=2")
    assert response.status == 200, response
    assert echoed_headers(response)["x-jwt-sub"] == ["query-user"]
    # The token is taken out of the query (forward is false); other parameters stay.
    assert response.json()["path"] == "/q/items?a=1&b=2"
    assert stack.envoy.request("/q/items?access_token=garbage").status == 401


def test_token_from_cookie(stack):
    token = stack.keys.token("ES384", sub="cookie-user")
    response = stack.envoy.request("/c/items", headers={"cookie": f"theme=dark; session={token}"})
    assert response.status == 200, response
    seen = echoed_headers(response)
    assert seen["x-jwt-sub"] == ["cookie-user"]
    # The token cookie is removed (forward is false); other cookies stay.
    assert seen["cookie"] == ["theme=dark"]


def test_claim_headers_cannot_be_spoofed_on_routes_without_a_token(stack):
    response = stack.envoy.request("/public/x", headers=[("x-jwt-sub", "mallory"), ("x-jwt-iss", "evil")])
    assert response.status == 200, response
    seen = echoed_headers(response)
    assert "x-jwt-sub" not in seen and "x-jwt-iss" not in seen, seen


def test_claim_headers_are_set_and_client_spoofs_removed(stack):
    token = stack.keys.token("ES256", sub="alice")
    response = stack.envoy.request("/", token, headers=[
        ("x-jwt-sub", "mallory"), ("X-Jwt-Sub", "root"), ("x-jwt-iss", "https://evil.example"),
        ("x-other", "kept"),
    ])
    assert response.status == 200, response
    seen = echoed_headers(response)
    assert seen["x-jwt-sub"] == ["alice"]
    assert seen["x-jwt-iss"] == [ISSUER]
    assert seen["x-other"] == ["kept"]


def test_token_is_removed_before_the_upstream(stack):
    response = stack.envoy.request("/", stack.keys.token("ES256"))
    assert response.status == 200, response
    assert "authorization" not in echoed_headers(response)


def test_token_is_kept_with_forward(stack):
    token = stack.keys.token("ES256")
    response = stack.envoy.request("/fwd/x", token)
    assert response.status == 200, response
    assert echoed_headers(response)["authorization"] == [f"Bearer {token}"]


def test_bad_token_never_gets_a_5xx(stack):
    for token in ["", " ", "." * 10, "a" * 100, "eyJ.eyJ.x"]:
        response = stack.envoy.request("/", headers={"authorization": f"Bearer {token}"})
        assert response.status == 401, (token, response)


def test_audience_may_be_an_array(stack):
    token = stack.keys.token("ES256", aud=["something-else", AUDIENCE])
    assert stack.envoy.request("/", token).status == 200


def test_requires_any_accepts_a_token_of_either_provider(stack):
    # ES256 satisfies `es256`; RS256 is refused by `es256` but accepted by `fwd`.
    assert stack.envoy.request("/any/x", stack.keys.token("ES256")).status == 200
    response = stack.envoy.request("/any/x", stack.keys.token("RS256"))
    assert response.status == 200, response
    assert stack.envoy.request("/any/x").status == 401
    assert stack.envoy.request("/any/x", stack.keys.token("RS256", aud="other")).status == 401


def test_concurrent_clients_all_get_their_answer(stack):
    """Bounded concurrency: 8 clients x 40 requests, mixing valid and invalid tokens."""
    good = [stack.keys.token(alg, sub=f"c-{alg}") for alg in ("ES256", "RS256", "EdDSA", "HS256")]
    bad = stack.keys.token("ES256", iss="https://evil.example")

    def client(n: int) -> list[tuple[int, int]]:
        results = []
        for i in range(40):
            if i % 5 == 4:
                results.append((401, stack.envoy.request("/", bad).status))
            else:
                results.append((200, stack.envoy.request("/", good[(n + i) % len(good)]).status))
        return results

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [pair for result in pool.map(client, range(8)) for pair in result]
    wrong = [(want, got) for want, got in outcomes if want != got]
    assert len(outcomes) == 320 and not wrong, wrong[:10]
