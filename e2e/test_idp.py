"""Bring your own identity provider, against a real one: node `oidc-provider` (e2e/idp/provider.mjs)
issues RS256 JWT access tokens for the API (resource indicators) carrying its session's `sid`, and
sends OpenID Connect Back-Channel Logout tokens to the verifier's
`POST /v1/backchannel-logout/corp` when a session ends. Envoy runs the Warden filter with the
provider's JWKS fetched remotely, in callout mode and in stream mode (one Envoy each, one verifier).

The six steps, in both modes: log a user in (authorization code flow over HTTP through the
provider's login and consent pages) → 200 through Envoy → end the session at the provider
(RP-initiated logout) → the same token 401 within 1 s (measured, printed) → the same user logs in
again and is accepted → forged, replayed, wrongly addressed or expired logout tokens are refused
with 400 `invalid_request` and revoke nothing.

And Shared Signals: Security Event Tokens (RFC 8417) signed with node `jose` by a transmitter key
the test controls (e2e/idp/transmitter.mjs, also the issuer of the tokens they revoke), pushed to
`POST /v1/ssf/tx` (RFC 8935): CAEP session-revoked → that session; credential-change and RISC
account-disabled / account-purged / sessions-revoked → the user; unknown events acknowledged and
ignored; bad signature / issuer / audience → 400 with RFC 8935's error body.

The provider, the transmitter, Redis, the verifier and both Envoys start once for the module."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass

import pytest

import harness
import idpkit
from answers import assert_denied, echoed_headers
from configs import CLAIM_HEADERS
from harness import fresh_user, verifier_checks

RESOURCE = "https://api.idp.e2e.test"
API_CLIENT = "api-client"
SET_AUDIENCE = "warden-ssf-receiver"
ACCESS_TOKEN_TTL_S = 600
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
MODES = ["callout", "stream"]
# The bound from the end of the logout at the provider to the refusal at the edge.
LOGOUT_BOUND_S = 1.0
# Measured logout → 401 latencies, per mode (printed by each test; `pytest -s` shows them).
LATENCIES: dict[str, list[float]] = {}


@dataclass
class IdpStack:
    redis: harness.Redis
    provider: idpkit.OidcProvider
    transmitter: idpkit.Transmitter
    verifier: harness.Verifier
    upstream: harness.EchoUpstream
    envoys: dict[str, harness.Envoy]

    def stop(self) -> None:
        for part in (*self.envoys.values(), self.upstream, self.verifier, self.transmitter, self.provider, self.redis):
            part.stop()


def remote_provider(issuer: str, cluster: str, jwks_uri: str) -> dict:
    split = urllib.parse.urlsplit(jwks_uri)
    return {
        "issuer": issuer,
        "audiences": [RESOURCE],
        "remote_jwks": {"cluster": cluster, "authority": split.netloc, "path": split.path,
                        "timeout_ms": 1000, "cache_duration_seconds": 300},
        "claim_to_headers": [dict(h) for h in CLAIM_HEADERS],
    }


def idp_plugin_config(provider: idpkit.OidcProvider, transmitter: idpkit.Transmitter, mode: str) -> dict:
    config = {
        "providers": {
            "corp": remote_provider(provider.issuer, "idp", provider.discovery["jwks_uri"]),
            "tx": remote_provider(transmitter.issuer, "tx", transmitter.jwks_uri),
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": ["corp", "tx"]}}],
        "verifier": {"cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
                     "timeout_ms": 1000, "failure_mode": "deny"},
    }
    if mode == "stream":
        config["verifier"]["mode"] = "stream"
        config["verifier"]["stream"] = {"path": "/v1/revocations", "max_staleness_ms": 1000, "max_entries": 100000}
    return config


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> IdpStack:
    workdir = tmp_path_factory.mktemp("idp")
    started: list = []

    def start(part):
        started.append(part)
        return part.start()

    try:
        redis = start(harness.Redis(workdir))
        verifier_port = harness.free_port()
        logout_uri = f"http://127.0.0.1:{verifier_port}/v1/backchannel-logout/corp"
        client = idpkit.Client(API_CLIENT, secrets.token_urlsafe(24), "http://127.0.0.1:9/callback", logout_uri)
        provider = start(idpkit.OidcProvider(workdir, [client], RESOURCE, access_token_ttl=ACCESS_TOKEN_TTL_S))
        transmitter = start(idpkit.Transmitter(workdir))
        providers_file = workdir / "identity-providers.json"
        providers_file.write_text(json.dumps({"providers": [
            {"name": "corp", "issuer": provider.issuer, "discovery_url": provider.discovery_url,
             "client_ids": [API_CLIENT], "max_token_lifetime_seconds": ACCESS_TOKEN_TTL_S},
            {"name": "tx", "issuer": transmitter.issuer, "jwks_uri": transmitter.jwks_uri,
             "client_ids": [SET_AUDIENCE], "max_token_lifetime_seconds": ACCESS_TOKEN_TTL_S},
        ]}))
        verifier = start(harness.Verifier(workdir, redis.url, port=verifier_port,
                                          extra_args=["--identity-providers", str(providers_file)]))
        upstream = start(harness.EchoUpstream(workdir))
        envoys = {}
        for mode in MODES:
            envoys[mode] = start(harness.Envoy(workdir, idp_plugin_config(provider, transmitter, mode),
                                               upstream_port=upstream.port, verifier_port=verifier.port,
                                               extra_clusters={"idp": provider.port, "tx": transmitter.port}))
    except BaseException:
        for part in reversed(started):
            part.stop()
        raise
    stack = IdpStack(redis, provider, transmitter, verifier, upstream, envoys)
    try:
        yield stack
    finally:
        stack.stop()
        if LATENCIES:
            print("\nlogout at the provider → 401 at the edge: " + "; ".join(
                f"{mode} max {max(v) * 1000:.1f} ms over {len(v)}" for mode, v in LATENCIES.items()))


# --- helpers ----------------------------------------------------------------------------------------


def accepted(envoy: harness.Envoy, token: str, timeout: float = 30.0) -> harness.Response:
    """Until `token` passes (the first requests may find the remote JWKS not fetched yet); returns
    the 200. Any other refusal fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        response = envoy.request("/", token)
        transient = response.status == 503 or (
            response.status == 401 and "key_not_found" in (response.header("www-authenticate") or ""))
        if not transient or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status == 200, f"the token was not accepted through Envoy: {response}"
    return response


def local(stack: IdpStack, mode: str, token: str) -> None:
    """In stream mode, until the view decides `token` with no check call (synchronised and trusted),
    so what follows measures the feed, not a fallback callout."""
    if mode != "stream":
        return
    envoy = stack.envoys[mode]

    def quiet() -> bool:
        before = verifier_checks(stack.verifier.port)
        ok = all(envoy.request("/", token).status == 200 for _ in range(5))
        return ok and verifier_checks(stack.verifier.port) == before
    harness.wait_until(quiet, "the stream view to answer locally", timeout=15)


def refused_within(envoy: harness.Envoy, token: str, reason: str, since: float, bound_s: float) -> float:
    """Requests `token` until the first refusal; asserts it is `reason` and came within `bound_s`
    of `since`; returns the seconds from `since` to that refusal."""
    return refusal(envoy, token, reason, since, bound_s)[0]


def refusal(envoy: harness.Envoy, token: str, reason: str, since: float, bound_s: float) -> tuple[float, int]:
    """As `refused_within`, also returning how many requests were allowed before the refusal."""
    allowed = -1
    while True:
        allowed += 1
        response = envoy.request("/", token)
        elapsed = time.monotonic() - since
        if response.status != 200 or elapsed > bound_s + 2:
            break
        time.sleep(0.002)
    assert_denied(response, reason)
    assert elapsed <= bound_s, f"refused after {elapsed * 1000:.0f} ms, bound {bound_s * 1000:.0f} ms"
    return elapsed, allowed


def settled(stack: IdpStack, mode: str) -> None:
    """Every revocation stored before this call is in force at the edge: in callout mode at once;
    in stream mode once a canary revoked after them is refused (the feed is ordered)."""
    if mode != "stream":
        return
    canary = stack.provider.browser().login(fresh_user("canary")).access_token
    envoy = stack.envoys[mode]
    accepted(envoy, canary)
    claims = idpkit.claims_of(canary)
    answer = stack.verifier.admin("POST", "/v1/admin/revoke/token",
                                  {"sub": claims["sub"], "jti": claims["jti"], "exp": claims["exp"]})
    assert answer.status == 200, answer
    refused_within(envoy, canary, "revoked", time.monotonic(), 5.0)


def post_logout_token(stack: IdpStack, token: str, name: str = "corp") -> harness.Response:
    return harness.http_request(stack.verifier.port, "POST", f"/v1/backchannel-logout/{name}",
                                {"content-type": "application/x-www-form-urlencoded"},
                                urllib.parse.urlencode({"logout_token": token}))


def assert_logout_refused(answer: harness.Response, what: str) -> None:
    assert answer.status == 400, (what, answer)
    assert answer.header("content-type").startswith("application/json"), (what, answer)
    body = answer.json()
    assert body.get("error") == "invalid_request", (what, body)
    assert isinstance(body.get("error_description"), str) and body["error_description"], (what, body)


def delivery_for(stack: IdpStack, sid: str) -> dict:
    """The back-channel logout the provider sent for session `sid`."""
    found = [d for d in stack.provider.deliveries() if idpkit.claims_of(d["logout_token"]).get("sid") == sid]
    assert len(found) == 1, (sid, stack.provider.deliveries())
    return found[0]


# --- the six steps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_logout_at_the_provider_reaches_the_edge(idp: IdpStack, mode: str):
    """Steps 1-5: login → 200 → RP-initiated logout → 401 `session_revoked` within 1 s → a new
    login of the same user is accepted."""
    envoy = idp.envoys[mode]
    user = fresh_user("idp")
    browser = idp.provider.browser()

    # 1) Log in at the provider: a JWT access token for the API, with the session's sid.
    login = browser.login(user)
    header, claims = idpkit.header_of(login.access_token), login.claims
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt", header
    assert claims["iss"] == idp.provider.issuer and claims["aud"] == RESOURCE and claims["sub"] == user, claims
    assert claims["sid"] and claims["jti"] and "ver" not in claims, claims
    assert idpkit.claims_of(login.id_token)["sid"] == claims["sid"]

    # 2) Through Envoy: 200, the upstream sees the user.
    assert echoed_headers(accepted(envoy, login.access_token))["x-jwt-sub"] == [user]
    local(idp, mode, login.access_token)

    # 3) End the session at the provider; it sends the back-channel logout before it answers.
    started = time.monotonic()
    browser.logout(login)
    logged_out = time.monotonic()
    delivery = delivery_for(idp, claims["sid"])
    logout_claims = idpkit.claims_of(delivery["logout_token"])
    assert delivery["url"] == idp.provider.clients[API_CLIENT].backchannel_logout_uri
    assert logout_claims["sub"] == user and logout_claims["aud"] == API_CLIENT, logout_claims
    assert BACKCHANNEL_EVENT in logout_claims["events"], logout_claims
    assert delivery["status"] == 200, delivery

    # 4) The same access token: 401 within 1 s of the logout's answer.
    latency, allowed = refusal(envoy, login.access_token, "session_revoked", logged_out, LOGOUT_BOUND_S)
    LATENCIES.setdefault(mode, []).append(latency)
    print(f"\n{mode}: logout at the provider took {(logged_out - started) * 1000:.1f} ms (back-channel "
          f"included); its access token refused {latency * 1000:.1f} ms after the logout answered, "
          f"{allowed} request(s) allowed in between")

    # 5) The same user logs in again: a new session, its token accepted (no lockout).
    again = browser.login(user)
    assert again.claims["sub"] == user and again.claims["sid"] != claims["sid"]
    response = envoy.request("/", again.access_token)
    assert response.status == 200, response
    assert echoed_headers(response)["x-jwt-sub"] == [user]
    assert_denied(envoy.request("/", login.access_token), "session_revoked")


@pytest.mark.parametrize("mode", MODES)
def test_bad_logout_tokens_are_refused_and_revoke_nothing(idp: IdpStack, mode: str):
    """Step 6: each bad logout token names the live session's sid and user, is refused with the
    spec's 400 `invalid_request`, and the session's token still passes; then the same token
    without its flaw revokes it (so each was refused for its flaw alone)."""
    envoy = idp.envoys[mode]
    user = fresh_user("idp")
    live = idp.provider.browser().login(user)
    accepted(envoy, live.access_token)
    sid = live.claims["sid"]

    # A real logout token the verifier accepted once, from another user's logout at the provider.
    other_browser = idp.provider.browser()
    other = other_browser.login(fresh_user("idp"))
    other_browser.logout(other)
    delivered = delivery_for(idp, other.claims["sid"])
    assert delivered["status"] == 200, delivered

    def logout_token(key: str = "provider", drop: tuple[str, ...] = (), **changes) -> str:
        now = int(time.time())
        claims = {"iss": idp.provider.issuer, "aud": API_CLIENT, "iat": now, "exp": now + 120,
                  "jti": secrets.token_urlsafe(16), "sub": user, "sid": sid, "events": {BACKCHANNEL_EVENT: {}}}
        claims.update(changes)
        for name in drop:
            del claims[name]
        return idp.provider.sign(claims, key=key)

    now = int(time.time())
    bad = {
        "forged (a key not in the provider's JWKS, same kid)": logout_token(key="forged"),
        "replayed (the provider's own, accepted once)": delivered["logout_token"],
        "wrongly addressed (aud another client)": logout_token(aud="other-client"),
        "expired (iat an hour ago, exp passed)": logout_token(iat=now - 3600, exp=now - 3000),
        "another issuer": logout_token(iss="https://elsewhere.idp.e2e.test"),
        "with a nonce": logout_token(nonce="n-0S6_WzA2Mj"),
        "without the back-channel logout event": logout_token(events={"http://example.com/other": {}}),
        "without events": logout_token(drop=("events",)),
        "with neither sid nor sub": logout_token(drop=("sid", "sub")),
        "without jti": logout_token(drop=("jti",)),
    }
    for what, token in bad.items():
        assert_logout_refused(post_logout_token(idp, token), what)
    # Signed by corp, posted to the transmitter's endpoint: not its issuer, not its keys.
    assert_logout_refused(post_logout_token(idp, logout_token(), name="tx"), "another provider's endpoint")
    unknown = post_logout_token(idp, logout_token(), name="nobody")
    assert unknown.status == 404, unknown

    settled(idp, mode)
    response = envoy.request("/", live.access_token)
    assert response.status == 200, ("a refused logout token revoked something", response)

    # The control: the same logout token without a flaw revokes the session.
    answer = post_logout_token(idp, logout_token())
    assert answer.status == 200, answer
    refused_within(envoy, live.access_token, "session_revoked", time.monotonic(), LOGOUT_BOUND_S)


@pytest.mark.parametrize("mode", MODES)
def test_admin_revokes_a_provider_session_and_user_without_lockout(idp: IdpStack, mode: str):
    """`revoke/session` ends one provider session at the edge; `revoke/user` refuses every token
    the provider issued to the user up to then (they carry no `ver`) and none issued after."""
    envoy = idp.envoys[mode]
    user = fresh_user("idp")
    first = idp.provider.browser().login(user)
    accepted(envoy, first.access_token)
    local(idp, mode, first.access_token)

    answer = idp.verifier.admin("POST", "/v1/admin/revoke/session",
                                {"iss": idp.provider.issuer, "sid": first.claims["sid"], "exp": first.claims["exp"]})
    assert answer.status == 200, answer
    refused_within(envoy, first.access_token, "session_revoked", time.monotonic(), LOGOUT_BOUND_S)

    # Another session of the same user (another browser): untouched.
    second = idp.provider.browser().login(user)
    assert second.claims["sid"] != first.claims["sid"]
    response = envoy.request("/", second.access_token)
    assert response.status == 200, response

    answer = idp.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": user})
    assert answer.status == 200, answer
    revoked_at = int(time.time())
    refused_within(envoy, second.access_token, "user_revoked", time.monotonic(), LOGOUT_BOUND_S)

    # A login in a later second than the revocation (iat is in whole seconds) is accepted.
    while int(time.time()) <= revoked_at:
        time.sleep(0.05)
    third = idp.provider.browser().login(user)
    assert third.claims["iat"] > revoked_at
    response = envoy.request("/", third.access_token)
    assert response.status == 200, ("locked out after revoke/user", response)
    assert_denied(envoy.request("/", second.access_token), "user_revoked")


# --- Shared Signals: Security Event Tokens pushed by a transmitter -----------------------------------


def tx_token(stack: IdpStack, sub: str, sid: str) -> str:
    """An access token of the transmitter's issuer (its own key, node jose)."""
    now = int(time.time())
    return stack.transmitter.sign({"iss": stack.transmitter.issuer, "aud": RESOURCE, "sub": sub, "sid": sid,
                                   "jti": secrets.token_urlsafe(12), "iat": now, "exp": now + 300}, typ="at+jwt")


def security_event(stack: IdpStack, events: dict, sub_id: dict, key: str = "transmitter", **changes) -> str:
    claims = {"iss": stack.transmitter.issuer, "aud": SET_AUDIENCE, "iat": int(time.time()),
              "jti": secrets.token_urlsafe(16), "sub_id": sub_id, "events": events}
    claims.update(changes)
    return stack.transmitter.sign(claims, typ="secevent+jwt", key=key)


def user_subject(stack: IdpStack, sub: str) -> dict:
    return {"format": "iss_sub", "iss": stack.transmitter.issuer, "sub": sub}


def session_subject(stack: IdpStack, sub: str, sid: str) -> dict:
    return {"format": "complex", "user": user_subject(stack, sub), "session": {"format": "opaque", "id": sid}}


def push(stack: IdpStack, set_jwt: str, name: str = "tx") -> harness.Response:
    return harness.http_request(stack.verifier.port, "POST", f"/v1/ssf/{name}",
                                {"content-type": "application/secevent+jwt", "accept": "application/json"}, set_jwt)


def assert_set_refused(answer: harness.Response, errs: set[str], what: str) -> None:
    """RFC 8935 §2.3: 400 with {"err": code, "description": text}; `errs` the codes that fit."""
    assert answer.status == 400, (what, answer)
    body = answer.json()
    assert body.get("err") in errs, (what, body)
    assert isinstance(body.get("description"), str), (what, body)


@pytest.mark.parametrize("mode", MODES)
def test_security_events_revoke_sessions_and_users(idp: IdpStack, mode: str):
    envoy = idp.envoys[mode]

    # CAEP session-revoked: that session only.
    user = fresh_user("tx")
    revoked, kept = tx_token(idp, user, "tx-s-" + secrets.token_hex(6)), tx_token(idp, user, "tx-s-" + secrets.token_hex(6))
    accepted(envoy, revoked)
    accepted(envoy, kept)
    local(idp, mode, revoked)
    sid = idpkit.claims_of(revoked)["sid"]
    answer = push(idp, security_event(idp, {CAEP + "session-revoked": {"event_timestamp": int(time.time())}},
                                      session_subject(idp, user, sid)))
    assert answer.status == 202, answer
    refused_within(envoy, revoked, "session_revoked", time.monotonic(), LOGOUT_BOUND_S)
    assert envoy.request("/", kept).status == 200

    # The user events: every token of the user refused; a token issued after is accepted.
    user_events = {
        CAEP + "credential-change": {"credential_type": "password", "change_type": "update"},
        RISC + "account-disabled": {"reason": "hijacking"},
        RISC + "account-purged": {},
        RISC + "sessions-revoked": {},
    }
    for event, body in user_events.items():
        user = fresh_user("tx")
        tokens = [tx_token(idp, user, "tx-s-" + secrets.token_hex(6)) for _ in range(2)]
        for token in tokens:
            accepted(envoy, token)
        answer = push(idp, security_event(idp, {event: body}, user_subject(idp, user)))
        assert answer.status == 202, (event, answer)
        for token in tokens:
            refused_within(envoy, token, "user_revoked", time.monotonic(), LOGOUT_BOUND_S)
        # Issued in a later second than the revocation (iat is in whole seconds).
        time.sleep(1.05)
        later = tx_token(idp, user, "tx-s-" + secrets.token_hex(6))
        assert accepted(envoy, later, timeout=5).status == 200, event


@pytest.mark.parametrize("mode", MODES)
def test_unknown_and_bad_security_events_revoke_nothing(idp: IdpStack, mode: str):
    envoy = idp.envoys[mode]
    user = fresh_user("tx")
    token = tx_token(idp, user, "tx-s-" + secrets.token_hex(6))
    accepted(envoy, token)
    sid = idpkit.claims_of(token)["sid"]
    revoke_session = {CAEP + "session-revoked": {"event_timestamp": int(time.time())}}
    subject = session_subject(idp, user, sid)

    # An event type the receiver does not know: acknowledged, ignored (RFC 8935 §2.2, SSF).
    unheard_of = security_event(idp, {"https://schemas.example.com/event/unheard-of": {}}, user_subject(idp, user))
    unknown = push(idp, unheard_of)
    assert unknown.status == 202, unknown
    # The same SET again: its jti was used (RFC 8417 §2.2 single use).
    assert_set_refused(push(idp, unheard_of), {"invalid_request"}, "replayed")

    assert_set_refused(push(idp, security_event(idp, revoke_session, subject, key="forged")),
                       {"invalid_key"}, "bad signature")
    assert_set_refused(push(idp, security_event(idp, revoke_session, subject, iss="https://elsewhere.tx.e2e.test")),
                       {"invalid_issuer"}, "wrong iss")
    assert_set_refused(push(idp, security_event(idp, revoke_session, subject, aud="someone-else")),
                       {"invalid_audience"}, "wrong aud")
    unknown_name = push(idp, security_event(idp, revoke_session, subject), name="nobody")
    assert unknown_name.status == 404, unknown_name

    settled(idp, mode)
    response = envoy.request("/", token)
    assert response.status == 200, ("an ignored or refused event revoked something", response)
