"""A request whose decision is still out (the verifier has not answered) reaches the upstream with
none of its body: the body waits in Envoy's buffer until the filter lets the headers through, and
is dropped with them when it refuses. Runs against both builds (the native module answers its body
and trailers hooks with "stop and buffer" while a decision is out)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import harness
from tokens import AUDIENCE, ISSUER


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, int]] = []

    def do_POST(self):  # noqa: N802 - stdlib name
        length = int(self.headers.get("content-length") or 0)
        Recorder.seen.append((self.path, len(self.rfile.read(length))))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_the_body_waits_for_the_decision_and_is_dropped_with_a_refusal(tmp_path, keys):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    # A verifier that accepts connections and never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(silent.accept()[0]) for _ in iter(int, 1)],
                     daemon=True).start()
    config = {
        "providers": {"p": {"issuer": ISSUER, "audiences": [AUDIENCE],
                            "local_jwks": {"inline_string": json.dumps(keys.jwks())}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}],
        "verifier": {"cluster": "warden_verifier", "timeout_ms": 1500},
    }
    envoy = harness.Envoy(tmp_path, config, upstream_port=upstream.server_address[1],
                          verifier_port=silent.getsockname()[1]).start()
    try:
        token = keys.token("ES256")
        for size in (10, 300_000):
            Recorder.seen.clear()
            started = time.monotonic()
            answer = harness.http_request(envoy.port, "POST", "/upload",
                                          [("authorization", f"Bearer {token}")], body=b"x" * size)
            # failure_mode deny: the verifier's silence is a 503 after its timeout …
            assert answer.status == 503, answer
            assert time.monotonic() - started >= 1.4
            # … and nothing of the request, headers or body, reached the upstream meanwhile.
            assert Recorder.seen == [], (size, Recorder.seen)
    finally:
        envoy.stop()
        upstream.shutdown()
        silent.close()
