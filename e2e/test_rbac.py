"""Claims for Envoy's RBAC filter and the access log, on real Envoy: Warden (the release .wasm)
writes a verified token's claims as filter state, the real RBAC filter after it
(`envoy.filters.http.rbac`) allows or refuses on them, and the access log prints them with
`%FILTER_STATE(wasm.<key>:PLAIN)%`. The RBAC filter, the access log and the provider fields are
the ones envoy/rbac-claims.yaml ships."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

import harness
import rbackit
from answers import assert_denied, echoed_headers
from configs import provider
from rbackit import get
from tokens import KeySet

FRAGMENT = harness.ROOT / "envoy/rbac-claims.yaml"
RBAC_DENIED = b"RBAC: access denied"


def plugin_config(keys: KeySet) -> dict:
    fields = yaml.safe_load(FRAGMENT.read_text())["warden_provider_fields"]
    return {
        "providers": {"idp": provider(keys.jwks(), **fields)},
        "rules": [
            {"match": {"path": "/healthz"}},
            # Warden lets this through without a token; RBAC still asks for `sub` = alice.
            {"match": {"prefix": "/sub/open"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}},
        ],
    }


@pytest.fixture(scope="module")
def rbac(tmp_path_factory, keys):
    work = tmp_path_factory.mktemp("rbac")
    access_log = work / "access.log"
    fragment = yaml.safe_load(FRAGMENT.read_text())
    (log,) = fragment["access_log"]
    log["typed_config"]["path"] = str(access_log)
    parts = []
    try:
        upstream = harness.EchoUpstream(work).start()
        parts.append(upstream)
        config, listen, admin = rbackit.bootstrap(
            work, plugin_config(keys), upstream.port, fragment["http_filters_after_warden"], [log])
        parts.append(rbackit.start(work, config, listen, admin))
        yield listen, access_log
    finally:
        for part in reversed(parts):
            part.stop()


def log_line(access_log, path: str) -> str:
    """The access log line of the one request made to `path` (the file logger flushes on a timer)."""
    def found():
        lines = [l for l in access_log.read_text().splitlines() if l.startswith(path + " ")] \
            if access_log.exists() else []
        assert len(lines) <= 1, lines
        return lines[0] if lines else None
    return harness.wait_until(found, f"the access log line of {path}", timeout=10)


def field(line: str, name: str) -> str:
    """A `name=value` field of the shipped format (values hold no spaces except the payload, last)."""
    if name == "payload":
        return line.split(" payload=", 1)[1]
    (value,) = [part.split("=", 1)[1] for part in line.split(" ") if part.startswith(name + "=")]
    return value


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def test_a_policy_on_sub_allows_alice_and_refuses_bob(rbac, keys):
    port, access_log = rbac
    alice, bob = unique("/sub/a"), unique("/sub/b")
    allowed = get(port, alice, keys.token(sub="alice"))
    assert allowed.status == 200, allowed
    assert echoed_headers(allowed)["x-jwt-sub"] == ["alice"]
    refused = get(port, bob, keys.token(sub="bob"))
    assert refused.status == 403 and refused.body == RBAC_DENIED, refused
    assert field(log_line(access_log, alice), "sub") == "alice"
    bob_line = log_line(access_log, bob)
    assert field(bob_line, "sub") == "bob" and " 403 " in bob_line


def test_a_policy_on_a_group_in_an_array_claim(rbac, keys):
    port, access_log = rbac
    admin, dev, lookalike = unique("/admin/a"), unique("/admin/d"), unique("/admin/l")
    assert get(port, admin, keys.token(sub="carol", groups=["dev", "admins"])).status == 200
    refused = get(port, dev, keys.token(sub="dave", groups=["dev", "admins-readonly"]))
    assert refused.status == 403 and refused.body == RBAC_DENIED, refused
    # An element holding a `,` would make the joined list ambiguous: the key is left out.
    forged = get(port, lookalike, keys.token(sub="eve", groups=["x,admins"]))
    assert forged.status == 403, forged
    assert field(log_line(access_log, admin), "groups") == "dev,admins"
    assert field(log_line(access_log, dev), "groups") == "dev,admins-readonly"
    lookalike_line = log_line(access_log, lookalike)
    assert field(lookalike_line, "groups") == "-"
    assert json.loads(field(lookalike_line, "payload"))["groups"] == ["x,admins"]


def test_a_policy_on_a_scope_word(rbac, keys):
    port, access_log = rbac
    writer, reader, prefix = unique("/write/w"), unique("/write/r"), unique("/write/p")
    assert get(port, writer, keys.token(sub="frank", scope="read write")).status == 200
    assert get(port, reader, keys.token(sub="grace", scope="read")).status == 403
    # `writes` is not the word `write`.
    assert get(port, prefix, keys.token(sub="heidi", scope="read writes")).status == 403
    line = log_line(access_log, writer)
    assert field(line, "scope") == "read,write"
    payload = json.loads(field(line, "payload"))
    assert payload["scope"] == ["read", "write"] and payload["sub"] == "frank"
    assert json.loads(field(line, "header"))["alg"] == "ES256"
    assert field(line, "failure") == "-"
    assert field(log_line(access_log, reader), "scope") == "read"


def test_a_failed_token_leaves_its_status_and_no_claims(rbac, keys):
    port, access_log = rbac
    path = unique("/sub/expired")
    expired = keys.token(sub="alice", exp=1_000_000, iat=999_000)
    assert_denied(get(port, path, expired), "token_expired")
    line = log_line(access_log, path)
    assert json.loads(field(line, "failure")) == {"code": 401, "message": "token_expired"}
    assert field(line, "sub") == "-" and field(line, "payload") == "-"


def test_a_forged_request_cannot_preset_the_claims(rbac, keys):
    """Filter state is set only by filters: no header, unverified token or claim header of the
    client's makes RBAC see `sub` = alice. `/sub/open` needs no token at Warden, so Warden writes
    nothing there and RBAC refuses whatever the request carries."""
    port, access_log = rbac
    stranger = KeySet()
    forged_headers = {"x-jwt-sub": "alice", "wasm.jwt.sub": "alice", "jwt.sub": "alice",
                      "x-envoy-filter-state": "wasm.jwt.sub=alice"}
    open_path = unique("/sub/open")
    refused = get(port, open_path, stranger.token(sub="alice"), forged_headers)
    assert refused.status == 403 and refused.body == RBAC_DENIED, refused
    line = log_line(access_log, open_path)
    assert field(line, "sub") == "-" and field(line, "payload") == "-"
    # Even a valid token is not read where Warden needs none: claims come from verification only.
    valid_open = unique("/sub/open-valid")
    assert get(port, valid_open, keys.token(sub="alice")).status == 403
    assert field(log_line(access_log, valid_open), "sub") == "-"
    # Bob's valid token with alice's claim header: the claims are bob's.
    as_bob = unique("/sub/bob-forges")
    refused = get(port, as_bob, keys.token(sub="bob"), forged_headers)
    assert refused.status == 403 and refused.body == RBAC_DENIED, refused
    assert field(log_line(access_log, as_bob), "sub") == "bob"
    # A token signed by another key never gets past Warden.
    signed_elsewhere = unique("/sub/elsewhere")
    assert get(port, signed_elsewhere, stranger.token(sub="alice")).status == 401
    assert field(log_line(access_log, signed_elsewhere), "sub") == "-"
