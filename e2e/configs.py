"""Plugin configurations (the Warden contract) used by the end-to-end tests."""

from __future__ import annotations

import copy
import json

from tokens import AUDIENCE, ISSUER

CLAIM_HEADERS = [
    {"header_name": "x-jwt-sub", "claim_name": "sub"},
    {"header_name": "x-jwt-iss", "claim_name": "iss"},
]


def provider(jwks: dict, **overrides) -> dict:
    base = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "local_jwks": {"inline_string": json.dumps(jwks)},
        "claim_to_headers": copy.deepcopy(CLAIM_HEADERS),
    }
    base.update(overrides)
    return base


def plugin_config(jwks: dict, *, failure_mode: str = "deny", verifier_cluster: str = "warden_verifier",
                  verifier_timeout_ms: int = 1000, mode: str = "callout", stream: dict | None = None) -> dict:
    """Routes used by the suite:
    /healthz (exact) and /public/* need no token; /fwd/* keeps the token (forward: true);
    /es256/* only accepts ES256; /q/* reads the token from ?access_token=; /c/* from the cookie
    `session`; /any/* accepts a token of `es256` or `fwd`; everything else requires `main`."""
    config = {
        "providers": {
            "main": provider(jwks),
            "fwd": provider(jwks, forward=True),
            "es256": provider(jwks, algorithms=["ES256"]),
            "query": provider(jwks, from_params=["access_token"]),
            "cookie": provider(jwks, from_cookies=["session"]),
        },
        "rules": [
            {"match": {"path": "/healthz"}},
            {"match": {"prefix": "/public/"}},
            {"match": {"prefix": "/fwd/"}, "requires": {"provider_name": "fwd"}},
            {"match": {"prefix": "/es256/"}, "requires": {"provider_name": "es256"}},
            {"match": {"prefix": "/q/"}, "requires": {"provider_name": "query"}},
            {"match": {"prefix": "/c/"}, "requires": {"provider_name": "cookie"}},
            {"match": {"prefix": "/any/"}, "requires": {"requires_any": ["es256", "fwd"]}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
        ],
        "verifier": {
            "cluster": verifier_cluster,
            "authority": "warden-verifier",
            "path": "/v1/check",
            "timeout_ms": verifier_timeout_ms,
            "failure_mode": failure_mode,
        },
    }
    if mode != "callout" or stream is not None:
        # Stream mode: revocations from the verifier's feed (GET /v1/revocations), decided locally.
        config["verifier"]["mode"] = mode
        config["verifier"]["stream"] = stream or {"path": "/v1/revocations", "max_staleness_ms": 1000,
                                                  "max_entries": 100000}
    return config
