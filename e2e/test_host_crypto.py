"""In the real Envoy, the wasm filter hands RS256/384/512 and ES256/384/512 signatures to Envoy's
own `verify_signature` foreign function (BoringSSL) and keeps PS* and EdDSA in wasm, because the
probes at configure time show Envoy's function cannot verify them (no PSS padding; an Ed25519 key
refuses a digest). The native module answers the same seam with aws-lc-rs for RS*, PS* and ES*
and keeps EdDSA with core. Either way the answers are the filter's usual ones."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

import harness
from tokens import ALGORITHMS, b64url

HOSTED = ({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"} if harness.NATIVE
          else {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
# How the start-up line names the backends: (the host's, the filter's own).
BACKEND_NAMES = ("aws-lc", "core") if harness.NATIVE else ("host", "wasm")
# The curve orders, for a malleated (r, n - s) signature, which ECDSA accepts.
ORDERS = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16),
    "ES512": int("1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
                 "A51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16),
}


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_signature(token: str, signature: bytes) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.{b64url(signature)}"


def host_calls(stack) -> int:
    return stack.envoy.stats().get(harness.stat_name("warden.signature.host_calls"), 0)


def test_envoy_verifies_pkcs1_and_ecdsa_and_the_filter_the_rest(stack):
    stats = stack.envoy.stats()
    for alg in ALGORITHMS:
        assert stats.get(harness.stat_name(f"warden.signature.host.{alg}")) == (1 if alg in HOSTED else 0), (alg, stats)
    hosted, own = BACKEND_NAMES
    assert f"signature backends: HS256={own}" in stack.envoy.proc.log_text()
    assert f"RS256={hosted}" in stack.envoy.proc.log_text()


@pytest.mark.wasm_only("counts calls of Envoy's verify_signature foreign function, which the native module has no use for")
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_new_token_costs_one_host_call_when_hosted_and_none_otherwise(stack, alg):
    token = stack.keys.token(alg)
    before = host_calls(stack)
    assert stack.envoy.request("/", token).status == 200
    assert host_calls(stack) - before == (1 if alg in HOSTED else 0)
    # The repeat is a cache hit: no signature check at all.
    assert stack.envoy.request("/", token).status == 200
    assert host_calls(stack) - before == (1 if alg in HOSTED else 0)


def _denied_reason(response) -> str | None:
    if response.status != 401:
        return None
    return response.json().get("error_description")


@pytest.mark.parametrize("alg", sorted(HOSTED))
def test_the_host_path_refuses_what_the_filter_refuses(stack, alg):
    token = stack.keys.token(alg)
    signature = unb64(token.split(".")[2])
    flipped = bytearray(signature)
    flipped[-1] ^= 1
    forged = [
        with_signature(token, bytes(flipped)),
        with_signature(token, signature[:-1]),
        with_signature(token, b""),
        with_signature(token, bytes(len(signature))),
        stack.keys.token(alg).rsplit(".", 1)[0] + "." + token.split(".")[2],
    ]
    if alg in ORDERS:
        size = len(signature) // 2
        # r ≥ n and s ≥ n: out of range, refused before the host is asked.
        forged.append(with_signature(token, b"\xff" * len(signature)))
        forged.append(with_signature(token, ORDERS[alg].to_bytes(size, "big") * 2))
    for bad in forged:
        assert _denied_reason(stack.envoy.request("/", bad)) == "signature_invalid", bad


@pytest.mark.parametrize("alg", sorted(ORDERS))
def test_a_malleated_ecdsa_signature_is_valid_on_the_host_as_in_wasm(stack, alg):
    # (r, n − s) is a valid ECDSA signature too; RFC 7518 does not forbid it and Warden's own
    # verifier accepts it as BoringSSL does.
    token = stack.keys.token(alg)
    signature = unb64(token.split(".")[2])
    size = len(signature) // 2
    r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
    malleated = r.to_bytes(size, "big") + (ORDERS[alg] - s).to_bytes(size, "big")
    assert decode_dss_signature(encode_dss_signature(r, ORDERS[alg] - s)) == (r, ORDERS[alg] - s)
    before = host_calls(stack)
    assert stack.envoy.request("/", with_signature(token, malleated)).status == 200
    if not harness.NATIVE:  # the native module's checks are no foreign-function calls
        assert host_calls(stack) > before
