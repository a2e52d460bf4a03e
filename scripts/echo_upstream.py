#!/usr/bin/env python3
"""A tiny upstream for the demo and the end-to-end tests: answers every request with 200 and a
JSON description of what it received (method, path, headers, body). Python stdlib only.

    python3 scripts/echo_upstream.py --port 8080 [--host 127.0.0.1]
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY_BYTES = 1 << 20


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "warden-echo/1"

    def _echo(self) -> None:
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

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _echo

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the tests read answers, not logs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), EchoHandler)
    server.daemon_threads = True
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
