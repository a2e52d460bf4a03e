#!/usr/bin/env python3
"""A CGI-style upstream (Python's wsgiref, like WSGI/Rack/PHP servers): it reads the request the
way such servers do — header names folded to `HTTP_X_JWT_SUB` (so `x-jwt-sub` and `x_jwt_sub` are
the same), the path percent-decoded into PATH_INFO — and answers 200 with what it read as JSON.

    python3 e2e/wsgi_upstream.py --port N
"""

import argparse
import json
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        sys.stderr.write("wsgi: " + (args[0] % args[1:]) + "\n")


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def app(environ, start_response):
    seen = {
        "path_info": environ.get("PATH_INFO", ""),
        "query_string": environ.get("QUERY_STRING", ""),
        "http": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    body = json.dumps(seen).encode()
    start_response("200 OK", [("content-type", "application/json"), ("content-length", str(len(body)))])
    return [body]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = make_server("127.0.0.1", args.port, app, server_class=ThreadingWSGIServer,
                         handler_class=QuietHandler)
    server.serve_forever()


if __name__ == "__main__":
    main()
