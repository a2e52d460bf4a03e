#!/usr/bin/env python3
"""Fill ${NAME} placeholders in a config template (Python string.Template syntax).

    render_config.py TEMPLATE OUTPUT [--set NAME=VALUE]... [--set-json-string NAME=FILE]...

--set puts VALUE in literally; --set-json-string puts in the content of FILE (compacted when it is
JSON) escaped as the inside of a JSON string (for a JWKS embedded in the plugin's JSON configuration). A placeholder left
without a value is an error, so a rendered file never carries a stray ${...}.
"""

import argparse
import json
import string
import sys
from pathlib import Path


def parse_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--set", dest="values", action="append", type=parse_pair, default=[])
    parser.add_argument("--set-json-string", dest="json_files", action="append", type=parse_pair, default=[])
    args = parser.parse_args()

    values = dict(args.values)
    for name, file in args.json_files:
        content = Path(file).read_text().strip()
        try:  # a JSON document (e.g. a JWKS) goes in compact, on one line
            content = json.dumps(json.loads(content), separators=(",", ":"))
        except ValueError:
            pass
        values[name] = json.dumps(content)[1:-1]
    try:
        rendered = string.Template(args.template.read_text()).substitute(values)
    except KeyError as missing:
        print(f"render_config: no value for placeholder ${{{missing.args[0]}}} in {args.template}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
