#!/usr/bin/env python3
"""A tiny upstream for the demo and the end-to-end tests: answers every request with 200 and a
JSON description of what it received (method, path, headers, body). Python stdlib only.

    python3 scripts/echo_upstream.py --port 8080 [--host 127.0.0.1] [--jwks FILE]

With --jwks it also plays a small identity provider: GET /.well-known/jwks.json answers the file's
content (read on every request, so tests can rotate keys) and counts the fetches in the
x-jwks-fetches response header.
"""

import argparse
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY_BYTES = 1 << 20
JWKS_PATH = "/.well-known/jwks.json"


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "warden-echo/1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
        # delayed ACKs cap a keep-alive connection at ~25 requests/s.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _echo(self) -> None:
        if self.server.jwks_file is not None and self.path.split("?")[0] == JWKS_PATH:
            self._serve_jwks()
            return
        length = int(self.headers.get("content-length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            self.send_error(413, "body too large")
            return
        body = self.rfile.read(length) if length else b""
        answer = {
            "method": self.command,
            "path": self.path,
            # Lower-cased names; repeated headers keep every value, in order.
            "headers": [[name.lower(), value] for name, value in self.headers.items()],
            "body": body.decode("utf-8", errors="replace"),
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _serve_jwks(self) -> None:
        self.server.jwks_fetches += 1
        try:
            payload = open(self.server.jwks_file, "rb").read()
            status = 200
        except OSError:
            payload, status = b'{"error":"no jwks"}', 503
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-jwks-fetches", str(self.server.jwks_fetches))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _echo

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the tests read answers, not logs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--jwks", help=f"serve this file at {JWKS_PATH}")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), EchoHandler)
    server.daemon_threads = True
    server.jwks_file = args.jwks
    server.jwks_fetches = 0
    print(f"echo upstream listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
