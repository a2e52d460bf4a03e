"""Traces and structured logs of the verifier, through real Envoy and the real .wasm.

A request with a W3C `traceparent` goes through Envoy; the filter forwards the trace context on
its callout, and the verifier (started with `--otlp-endpoint`) exports its span over OTLP/HTTP to
a small receiver here that decodes the real protobuf (`otlp_receiver.py`): the span carries the
request's trace id, the client's span as parent, the route and the decision, and Redis round
trips are its children. Without `--otlp-endpoint` nothing is sent (not even with the standard
`OTEL_EXPORTER_OTLP_ENDPOINT` set). With `--log-format json` the verifier writes one JSON line per
check decision (debug) and per admin action (info), never a token."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import pytest

import harness
from configs import plugin_config
from otlp_receiver import OtlpReceiver

SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
STATUS_ERROR = 2


def new_traceparent() -> tuple[str, str, str]:
    trace_id = secrets.token_hex(16)
    parent_id = secrets.token_hex(8)
    return f"00-{trace_id}-{parent_id}-01", trace_id, parent_id


def verifier_env() -> dict[str, str]:
    # Decision lines are at debug; batches go out every 100 ms instead of 5 s.
    return {"WARDEN_LOG": "info,warden_verifier::decision=debug", "OTEL_BSP_SCHEDULE_DELAY": "100"}


@pytest.fixture(scope="module")
def receiver():
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def traced(tmp_path_factory, keys, receiver):
    """Redis, the verifier exporting to the receiver (JSON logs), the echo upstream, Envoy."""
    workdir = tmp_path_factory.mktemp("traces")
    parts = []
    try:
        redis = harness.Redis(workdir)
        parts.append(redis)
        redis.start()
        with pytest.MonkeyPatch.context() as env:
            for name, value in verifier_env().items():
                env.setenv(name, value)
            verifier = harness.Verifier(workdir, redis.url, extra_args=[
                "--otlp-endpoint", receiver.url, "--otlp-service-name", "warden-e2e",
                "--log-format", "json"])
            parts.append(verifier)
            verifier.start()
        upstream = harness.EchoUpstream(workdir)
        parts.append(upstream)
        upstream.start()
        envoy = harness.Envoy(workdir, plugin_config(keys.jwks()), upstream_port=upstream.port,
                              verifier_port=verifier.port)
        parts.append(envoy)
        envoy.start()
        yield verifier, envoy
    finally:
        for part in reversed(parts):
            part.stop()


def spans_of(receiver: OtlpReceiver, trace_id: str, until) -> list:
    """The spans of `trace_id` once `until(spans)` holds (a deadline only to fail on)."""
    found: list = []

    def arrived() -> bool:
        found[:] = [s for s in receiver.received() if s.trace_id == trace_id]
        return until(found)

    harness.wait_until(arrived, f"spans of trace {trace_id} at the OTLP receiver")
    return found


def server_span(receiver: OtlpReceiver, trace_id: str):
    """The verifier's request span in `trace_id`, once it arrived."""
    spans = spans_of(receiver, trace_id, lambda found: any(s.kind == SPAN_KIND_SERVER for s in found))
    [server] = [s for s in spans if s.kind == SPAN_KIND_SERVER]
    return server


def json_lines(proc: harness.Process) -> list[dict]:
    lines = []
    for line in proc.log_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_the_verifier_span_joins_the_requests_trace_with_redis_children(traced, keys, receiver):
    verifier, envoy = traced
    traceparent, trace_id, parent_id = new_traceparent()
    sub = f"trace-{uuid.uuid4().hex[:8]}"
    answer = envoy.request("/", keys.token("ES256", sub=sub),
                           headers={"traceparent": traceparent, "tracestate": "e2e=1"})
    assert answer.status == 200, answer

    spans = spans_of(receiver, trace_id, lambda found: any(
        s.kind == SPAN_KIND_SERVER for s in found) and any(s.kind == SPAN_KIND_CLIENT for s in found))
    [server] = [s for s in spans if s.kind == SPAN_KIND_SERVER]
    assert server.service == "warden-e2e"
    assert server.name == "POST /v1/check"
    assert server.parent_span_id == parent_id, "the client's span is the parent"
    assert server.attributes["http.route"] == "/v1/check"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["warden.decision"] == "allow"
    redis_spans = [s for s in spans if s.kind == SPAN_KIND_CLIENT]
    assert redis_spans and all(s.parent_span_id == server.span_id for s in redis_spans), spans
    assert all(s.attributes["db.system.name"] == "redis" for s in redis_spans)
    # The check's one round trip: the per-user script in a pipeline.
    assert any("EVAL" in s.attributes["db.operation.name"] for s in redis_spans), redis_spans
    # OTLP/HTTP with protobuf, at the standard path.
    assert {r["path"] for r in receiver.requests} == {"/v1/traces"}
    assert {r["content_type"] for r in receiver.requests} == {"application/x-protobuf"}


def test_a_denied_request_records_its_reason_and_the_admin_action_its_own_span(traced, keys, receiver):
    verifier, envoy = traced
    sub, jti = f"trace-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    token = keys.token("ES256", sub=sub, jti=jti)
    revoke_parent, revoke_trace, _ = new_traceparent()
    headers = {"authorization": f"Bearer {verifier.admin_token}", "content-type": "application/json",
               "traceparent": revoke_parent}
    revoked = harness.http_request(verifier.admin_port, "POST", "/v1/admin/revoke/token", headers,
                                   {"sub": sub, "jti": jti})
    assert revoked.status == 200, revoked
    traceparent, trace_id, _ = new_traceparent()
    assert envoy.request("/", token, headers={"traceparent": traceparent}).status == 401

    denied = server_span(receiver, trace_id)
    assert denied.attributes["warden.decision"] == "deny"
    assert denied.attributes["warden.reason"] == "revoked"
    admin = server_span(receiver, revoke_trace)
    assert admin.name == "POST /v1/admin/revoke/token"
    assert admin.attributes["warden.action"] == "revoke_token"


def test_json_logs_have_one_line_per_decision_and_per_admin_action(traced, keys, receiver):
    verifier, envoy = traced
    sub, jti = f"log-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    token = keys.token("ES256", sub=sub, jti=jti)
    assert envoy.request("/", token).status == 200
    assert verifier.admin("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": jti}).status == 200
    assert envoy.request("/", token).status == 401

    def mine() -> list[dict]:
        return [line for line in json_lines(verifier.proc) if line.get("fields", {}).get("sub") == sub]

    harness.wait_until(lambda: len(mine()) >= 3, "the verifier's log lines about the test's user")
    decisions = [line for line in mine() if line["target"] == "warden_verifier::decision"]
    actions = [line for line in mine() if line["target"] == "warden_verifier::admin"]
    assert [(d["level"], d["fields"]["decision"], d["fields"].get("reason")) for d in decisions] == [
        ("DEBUG", "allow", None), ("DEBUG", "deny", "revoked")], decisions
    assert all(d["fields"]["route"] == "/v1/check" and d["fields"]["jti"] == jti for d in decisions)
    [action] = actions
    assert action["level"] == "INFO"
    assert (action["fields"]["action"], action["fields"]["result"], action["fields"]["jti"]) == (
        "revoke_token", "ok", jti)
    # The token itself never reaches the log.
    assert token not in verifier.proc.log_text()
    assert token.split(".")[2] not in verifier.proc.log_text()


def test_without_otlp_endpoint_nothing_is_sent(tmp_path, keys, receiver, traced):
    """The standard OTEL_EXPORTER_OTLP_ENDPOINT alone does not turn exporting on."""
    _, envoy = traced
    redis = harness.Redis(tmp_path).start()
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in verifier_env().items():
                env.setenv(name, value)
            env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
            quiet = harness.Verifier(tmp_path, redis.url)
            quiet.start()
        try:
            before = len(receiver.requests)
            quiet_parent, quiet_trace, _ = new_traceparent()
            now = int(time.time())
            check = {"sub": "quiet", "jti": "j1", "iat": now, "exp": now + 600}
            answer = harness.http_request(quiet.port, "POST", "/v1/check",
                                          {"traceparent": quiet_parent, "content-type": "application/json"},
                                          check)
            assert answer.status == 200, answer
            # A traced request made after it: once its span is in, the quiet verifier had as long.
            traceparent, trace_id, _ = new_traceparent()
            assert envoy.request("/", keys.token("ES256"), headers={"traceparent": traceparent}).status == 200
            server_span(receiver, trace_id)
            time.sleep(0.5)  # several batch intervals of the quiet verifier (100 ms)
            assert not [s for s in receiver.received() if s.trace_id == quiet_trace]
            assert all(s.service == "warden-e2e" for s in receiver.received())
            assert len(receiver.requests) > before
        finally:
            quiet.stop()
    finally:
        redis.stop()
    assert "OTLP" not in quiet.proc.log_text()
