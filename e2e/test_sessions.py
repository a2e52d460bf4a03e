"""Sessions end to end on the real Envoy: the verifier issues the tokens and publishes its JWKS, the
filter fetches that JWKS (`remote_jwks` at the verifier's check listener) and asks the verifier about
every token; Envoy routes the public token paths (`/v1/token`, `/v1/token/revoke`) to the verifier.

Create a session → request 200 → refresh through Envoy → the new token 200 → replay of the old
refresh token → both of the session's access tokens 401 `session_missing`. Key rotation: a second key
file listed first and the verifier restarted → tokens of the new key pass (the filter refetches the
JWKS for the unknown kid) and tokens of the old key still pass while its file is listed. The JWKS is
checked with an independent JWT library (PyJWT).

Every test runs in both verifier modes with the same answers: in stream mode a session's end reaches
the filter within the staleness bound, and a live session's tokens pass with no check call."""

from __future__ import annotations

import json
import subprocess
import time

import jwt
import pytest

import harness
from answers import assert_denied, echoed_headers

ISSUER = "https://sessions.e2e.test"
AUDIENCE = "sessions.e2e.api"
FORM = {"content-type": "application/x-www-form-urlencoded"}
MAX_STALENESS_MS = 1000
# Correctness bound for stream mode (not a speed claim): the staleness bound and a generous margin.
BOUND_S = MAX_STALENESS_MS / 1000 + 3.0


def keygen(workdir, alg: str, name: str):
    private = workdir / f"{name}.jwk"
    subprocess.run([str(harness.VERIFIER_BIN), "keygen", "--alg", alg, "--private-out", str(private),
                    "--jwks-out", str(workdir / f"{name}.jwks.json")], check=True, timeout=120)
    return private


def verifier_args(*key_files) -> list[str]:
    argv = ["--issuer", ISSUER, "--audience", AUDIENCE, "--refresh-retry-grace-seconds", "0"]
    for key in key_files:
        argv += ["--signing-key-file", str(key)]
    return argv


def plugin_config(mode: str = "callout", max_entries: int = 100000,
                  max_staleness_ms: int = MAX_STALENESS_MS) -> dict:
    provider = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "remote_jwks": {"cluster": "warden_verifier", "authority": "warden-verifier",
                        "path": "/.well-known/jwks.json", "timeout_ms": 1000, "cache_duration_seconds": 300},
        "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}],
    }
    return {
        "providers": {"sessions": provider},
        "rules": [
            # The public token routes need no access token (they carry a refresh token).
            {"match": {"path": "/v1/token"}},
            {"match": {"path": "/v1/token/revoke"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "sessions"}},
        ],
        "verifier": {"cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
                     "timeout_ms": 1000, "failure_mode": "deny", "mode": mode,
                     **({"stream": {"path": "/v1/revocations", "max_staleness_ms": max_staleness_ms,
                                    "max_entries": max_entries}} if mode == "stream" else {})},
    }


def route_config() -> dict:
    """Only the public token paths go to the verifier; the check and admin APIs are not exposed."""
    to_verifier = [{"match": {"path": path}, "route": {"cluster": "warden_verifier"}}
                   for path in ("/v1/token", "/v1/token/revoke")]
    return {"name": "sessions", "virtual_hosts": [{
        "name": "all", "domains": ["*"],
        "routes": to_verifier + [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}],
    }]}


class Life:
    def __init__(self, workdir, mode: str = "callout"):
        self.workdir = workdir
        self.mode = mode
        self.old_key = keygen(workdir, "ES256", "old")
        self.new_key = keygen(workdir, "EdDSA", "new")
        self.redis = harness.Redis(workdir).start()
        self.verifier = harness.Verifier(workdir, self.redis.url, extra_args=verifier_args(self.old_key)).start()
        self.upstream = harness.EchoUpstream(workdir).start()
        self.envoy = harness.Envoy(workdir, plugin_config(mode), upstream_port=self.upstream.port,
                                   verifier_port=self.verifier.port,
                                   hcm_overrides={"route_config": route_config()}).start()

    def restart_verifier(self, *key_files) -> None:
        port, admin_port = self.verifier.port, self.verifier.admin_port
        self.verifier.stop()
        self.verifier = harness.Verifier(self.workdir, self.redis.url, extra_args=verifier_args(*key_files),
                                         port=port, admin_port=admin_port).start()

    def session(self, sub: str) -> dict:
        answer = self.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub, "device": "e2e"})
        assert answer.status == 201, answer
        return answer.json()

    def refresh(self, refresh_token: str) -> harness.Response:
        return harness.http_request(self.envoy.port, "POST", "/v1/token", FORM,
                                    f"grant_type=refresh_token&refresh_token={refresh_token}")

    def jwks(self) -> dict:
        answer = harness.http_request(self.verifier.port, "GET", "/.well-known/jwks.json")
        assert answer.status == 200, answer
        assert "max-age=" in (answer.header("cache-control") or ""), answer
        return answer.json()

    def stop(self) -> None:
        for part in (self.envoy, self.upstream, self.verifier, self.redis):
            part.stop()


@pytest.fixture(scope="module", params=["callout", "stream"])
def life(request, tmp_path_factory):
    life = Life(tmp_path_factory.mktemp(f"sessions-{request.param}"), request.param)
    try:
        yield life
    finally:
        life.stop()


def denied(life, token: str, reason: str) -> None:
    """Callout mode: the very next request is refused. Stream mode: requests may pass only until the
    end reaches the filter (within the bound); then the same refusal."""
    if life.mode == "stream":
        started = time.monotonic()
        while life.envoy.request("/hello", token).status == 200:
            assert time.monotonic() - started < BOUND_S, "still allowed past the staleness bound"
            time.sleep(0.01)
    assert_denied(life.envoy.request("/hello", token), reason)


def verify_with_pyjwt(token: str, jwks: dict) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt", header
    return jwt.decode(token, key.key, algorithms=[header["alg"]], audience=AUDIENCE, issuer=ISSUER)


def test_create_refresh_replay_ends_the_session_at_the_edge(life):
    sub = harness.fresh_user("alice")
    created = life.session(sub)
    first_access, first_refresh = created["access_token"], created["refresh_token"]
    claims = verify_with_pyjwt(first_access, life.jwks())
    assert claims["sub"] == sub and claims["sid"] == created["sid"]

    response = harness.wait_until(lambda: (r := life.envoy.request("/hello", first_access)).status == 200 and r,
                                  "the first JWKS fetch", timeout=30)
    assert echoed_headers(response)["x-jwt-sub"] == [sub]

    refreshed = life.refresh(first_refresh)
    assert refreshed.status == 200, refreshed
    assert refreshed.header("cache-control") == "no-store"
    second_access = refreshed.json()["access_token"]
    assert refreshed.json()["refresh_token"] != first_refresh
    assert life.envoy.request("/hello", second_access).status == 200

    replay = life.refresh(first_refresh)
    assert replay.status == 400, replay
    assert replay.json()["error"] == "invalid_grant", replay
    for access in (first_access, second_access):
        denied(life, access, "session_missing")

    # Only the public token paths reach the verifier: its admin API is not exposed through Envoy.
    other = life.session(sub)["access_token"]
    answer = life.envoy.request("/v1/admin/revoke/all", other, method="POST")
    assert answer.status == 200 and "x-jwt-sub" in answer.body.decode(), answer


def test_logout_one_device_leaves_the_other(life):
    sub = harness.fresh_user("bob")
    laptop, phone = life.session(sub), life.session(sub)
    harness.wait_until(lambda: life.envoy.request("/hello", laptop["access_token"]).status == 200, "ready")
    revoked = harness.http_request(life.envoy.port, "POST", "/v1/token/revoke", FORM,
                                   f"token={laptop['refresh_token']}")
    assert revoked.status == 200, revoked
    denied(life, laptop["access_token"], "session_missing")
    assert life.envoy.request("/hello", phone["access_token"]).status == 200


def test_key_rotation(life):
    sub = harness.fresh_user("carol")
    before = life.session(sub)
    harness.wait_until(lambda: life.envoy.request("/hello", before["access_token"]).status == 200, "old key")
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]

    # The new key signs; the old one is still listed, so still published.
    life.restart_verifier(life.new_key, life.old_key)
    jwks = life.jwks()
    assert len(jwks["keys"]) == 2, jwks
    assert all("d" not in key for key in jwks["keys"]), jwks
    after = life.session(sub)
    header = jwt.get_unverified_header(after["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"] != old_kid, header
    verify_with_pyjwt(after["access_token"], jwks)
    verify_with_pyjwt(before["access_token"], jwks)
    # The filter has only the old JWKS cached: the unknown kid makes it refetch.
    harness.wait_until(lambda: life.envoy.request("/hello", after["access_token"]).status == 200,
                       "the new kid to be fetched", timeout=30)
    assert life.envoy.request("/hello", before["access_token"]).status == 200
    # A refresh of the old session is signed by the new key too.
    refreshed = life.refresh(before["refresh_token"])
    assert refreshed.status == 200, refreshed
    assert jwt.get_unverified_header(refreshed.json()["access_token"])["kid"] == header["kid"]

    # The old key's file removed: its tokens are refused once the filter's JWKS no longer has it.
    life.restart_verifier(life.new_key)
    assert [k["kid"] for k in life.jwks()["keys"]] == [header["kid"]]
    assert json.dumps(life.jwks()).count('"kid"') == 1


def test_session_tokens_pass_without_a_check_call_in_stream_mode(life):
    """The verifier announces a session's start (and its extension by a refresh) in the feed: its
    access tokens are then decided locally. In callout mode every request is checked."""
    sub = harness.fresh_user("dora")
    created = life.session(sub)
    access = created["access_token"]
    harness.wait_until(lambda: life.envoy.request("/hello", access).status == 200, "ready", timeout=30)
    refreshed = life.refresh(created["refresh_token"])
    assert refreshed.status == 200, refreshed
    tokens = [access, refreshed.json()["access_token"]]

    def quiet() -> bool:
        before = harness.verifier_checks(life.verifier.port)
        ok = all(life.envoy.request("/hello", t).status == 200 for t in tokens for _ in range(5))
        return ok and harness.verifier_checks(life.verifier.port) == before

    if life.mode == "stream":
        harness.wait_until(quiet, "the session to be decided locally", timeout=10)
    else:
        before = harness.verifier_checks(life.verifier.port)
        assert all(life.envoy.request("/hello", t).status == 200 for t in tokens)
        assert harness.verifier_checks(life.verifier.port) - before == 2


def test_a_login_logout_loop_does_not_keep_stream_views_overflowed(tmp_path):
    """A session's end is announced only while a token it denies may still be valid (access TTL +
    skew after the end), not for the session's lifetime: after a burst of logouts larger than
    `max_entries`, the views stop holding the ends once that window passed and decide a live
    session's tokens locally again (a snapshot fits). Announced for the session's lifetime, the
    ends kept every view overflowed (a callout per request) for 30 days."""
    key = keygen(tmp_path, "ES256", "loop")
    redis = harness.Redis(tmp_path).start()
    verifier = harness.Verifier(tmp_path, redis.url, extra_args=verifier_args(key) + [
        "--access-ttl-seconds", "2", "--revocation-skew-seconds", "1"]).start()
    upstream = harness.EchoUpstream(tmp_path).start()
    # A generous staleness bound: the check below counts callouts, and a poll slowed by a loaded
    # machine must not pass for an overflowed view.
    envoy = harness.Envoy(tmp_path, plugin_config("stream", max_entries=8, max_staleness_ms=5000), upstream_port=upstream.port,
                          verifier_port=verifier.port, hcm_overrides={"route_config": route_config()}).start()

    def session(sub: str) -> dict:
        answer = verifier.admin("POST", "/v1/admin/sessions", {"sub": sub})
        assert answer.status == 201, answer
        return answer.json()

    try:
        for i in range(12):
            created = session(f"looper-{i}")
            out = harness.http_request(envoy.port, "POST", "/v1/token/revoke", FORM,
                                       f"token={created['refresh_token']}")
            assert out.status == 200, out

        keeper: dict = {}

        def quiet() -> bool:
            # A fresh session once a second (the access TTL is 2 s); its start reaches the view.
            # Not one per attempt: live sessions take only the room revocations leave (8 here), and
            # a view full of them records no newer one, so a session per attempt would fill the
            # room before the ends lapse and the check below could never pass.
            if time.monotonic() - keeper.get("at", -10.0) >= 1.0:
                keeper.update(token=session("keeper")["access_token"], at=time.monotonic())
            fresh = keeper["token"]
            if envoy.request("/hello", fresh).status != 200:
                return False
            time.sleep(0.3)
            before = harness.verifier_checks(verifier.port)
            ok = all(envoy.request("/hello", fresh).status == 200 for _ in range(5))
            return ok and harness.verifier_checks(verifier.port) == before

        # The ends lapse 3 s after the burst; an overflowed view asks for a snapshot every 5 s.
        harness.wait_until(quiet, "a live session decided locally after the burst of logouts", timeout=30)
    finally:
        for part in (envoy, upstream, verifier, redis):
            part.stop()

