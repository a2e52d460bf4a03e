"""Checks of our own for the schemathesis runs in test_openapi.py, loaded through SCHEMATHESIS_HOOKS:
every error answer is the verifier's JSON error body with the code that belongs to its status."""

from __future__ import annotations

import json
import os

import schemathesis

ERROR_CODES = {
    400: {"bad_request"},
    401: {"unauthorized"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    413: {"payload_too_large"},
    503: {"unavailable", "replication_timeout"},
}


# The token routes answer RFC 6749 §5.2 bodies: `{"error": code, "error_description": text}`; so
# does the back-channel logout route (OpenID Connect Back-Channel Logout 1.0 §2.8).
OAUTH_PATHS = {"/v1/token", "/v1/token/revoke", "/v1/admin/introspect", "/v1/backchannel-logout/{name}"}
OAUTH_ERROR_CODES = {
    400: {"invalid_request", "invalid_grant", "unsupported_grant_type"},
    404: {"not_found"},
    429: {"rate_limited"},
    503: {"temporarily_unavailable"},
}
# The SET push route answers RFC 8935 §2.3 bodies: `{"err": code, "description": text}`.
SET_PUSH_PATHS = {"/v1/ssf/{name}"}
SET_PUSH_ERROR_CODES = {
    400: {"invalid_request", "invalid_key", "invalid_issuer", "invalid_audience", "authentication_failed",
          "access_denied"},
    404: {"not_found"},
    503: {"temporarily_unavailable"},
}
# Operations that cannot answer 2xx to generated input: a refresh needs a live refresh token, which
# only the admin listener hands out; a logout token or a SET must be signed by an identity
# provider's key.
NEEDS_STATE = {"POST /v1/token", "POST /v1/backchannel-logout/{name}", "POST /v1/ssf/{name}"}

# A SET travels as its compact serialization, text on the wire.
schemathesis.serializer.alias("application/secevent+jwt", "text/plain")


def _oauth_error(response, status):
    assert status in OAUTH_ERROR_CODES, f"undocumented error status {status}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error", "error_description"}, body
    assert body["error"] in OAUTH_ERROR_CODES[status], f"{status} with error code {body['error']!r}"
    assert isinstance(body["error_description"], str) and body["error_description"], body
    return None


@schemathesis.check
def error_answers_are_json_errors(ctx, response, case):
    """A 4xx or 5xx carries `{"error": code, "message": text}` with the code of its status."""
    status = response.status_code
    if status < 400 or (case.path == "/readyz" and status == 503):
        return None
    if case.path in OAUTH_PATHS and status not in (401, 405):
        return _oauth_error(response, status)
    if case.path in SET_PUSH_PATHS and status != 405:
        assert status in SET_PUSH_ERROR_CODES, f"undocumented error status {status}"
        body = json.loads(response.content)
        assert isinstance(body, dict) and set(body) == {"err", "description"}, body
        assert body["err"] in SET_PUSH_ERROR_CODES[status], f"{status} with err {body['err']!r}"
        assert isinstance(body["description"], str) and body["description"], body
        return None
    assert status in ERROR_CODES, f"undocumented error status {status}"
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.split(";")[0].strip() == "application/json", f"{status} answered as {content_type!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error", "message"}, body
    assert body["error"] in ERROR_CODES[status], f"{status} with error code {body['error']!r}"
    assert isinstance(body["message"], str) and body["message"], body
    if status == 401:
        challenge = response.headers.get("www-authenticate")
        assert challenge, "401 without WWW-Authenticate"
    return None


@schemathesis.check
class EveryOperationSucceedsOnce:
    """With Redis up (WARDEN_EXPECT_SUCCESS=1), every operation answered 2xx at least once: the run
    exercised the service's real work, not only its refusals."""

    def __init__(self):
        self.tested = set()
        self.succeeded = set()

    def after_response(self, ctx, response, case):
        self.tested.add(case.operation.label)
        if 200 <= response.status_code < 300:
            self.succeeded.add(case.operation.label)

    def after_run(self, ctx):
        if os.environ.get("WARDEN_EXPECT_SUCCESS") != "1":
            return
        missing = self.tested - self.succeeded - NEEDS_STATE
        assert not missing, "never answered 2xx: " + ", ".join(sorted(missing))
