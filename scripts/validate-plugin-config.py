#!/usr/bin/env python3
"""Check a Warden plugin configuration with the real plugin in the real Envoy, without serving.

    .venv/bin/python scripts/validate-plugin-config.py CONFIG [--wasm FILE]

CONFIG is a JSON file holding the plugin configuration (Envoy's `configuration` value), or a YAML
file with an Istio WasmPlugin (its spec.pluginConfig is checked). The configuration is put into
envoy/e2e.yaml.tmpl and run through `envoy --mode validate`, which loads the .wasm and calls the
plugin's configuration check. Prints `OK` (exit 0), or the plugin's
`warden: invalid configuration: <field>: <reason>` lines (exit 1).
"""

from __future__ import annotations

import argparse
import json
import string
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "envoy/e2e.yaml.tmpl"
ENVOY = ROOT / ".venv/bin/envoy"
DEFAULT_WASM = ROOT / "target/wasm32-wasip1/release/warden_plugin.wasm"


def load_plugin_config(path: Path) -> tuple[str, str]:
    """Returns (plugin config JSON, verifier cluster name to declare)."""
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml  # in the project venv (scripts/requirements.txt)

        docs = [doc for doc in yaml.safe_load_all(text) if doc]
        plugins = [doc for doc in docs if doc.get("kind") == "WasmPlugin"]
        if len(plugins) != 1:
            raise ValueError(f"{path}: expected exactly one WasmPlugin, found {len(plugins)}")
        config = plugins[0].get("spec", {}).get("pluginConfig")
        if config is None:
            raise ValueError(f"{path}: the WasmPlugin has no spec.pluginConfig")
    else:
        config = json.loads(text)
    cluster = "warden_verifier"
    if isinstance(config, dict) and isinstance(config.get("verifier"), dict):
        cluster = str(config["verifier"].get("cluster") or cluster)
    return json.dumps(config), cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--wasm", type=Path, default=DEFAULT_WASM)
    args = parser.parse_args()
    for needed, hint in ((args.wasm, "make wasm"), (ENVOY, "make setup")):
        if not needed.exists():
            print(f"validate-plugin-config: {needed} is missing (run: {hint})", file=sys.stderr)
            return 2
    try:
        config_json, cluster = load_plugin_config(args.config)
    except (OSError, ValueError) as err:
        print(f"validate-plugin-config: {err}", file=sys.stderr)
        return 2

    values = {
        # Validation binds nothing, so any ports do.
        "ADMIN_PORT": 9901, "LISTEN_PORT": 10000, "UPSTREAM_PORT": 8080, "VERIFIER_PORT": 8081,
        "VERIFIER_CLUSTER": cluster, "WASM_FILE": str(args.wasm.resolve()),
        "PLUGIN_CONFIG": json.dumps(config_json),
    }
    with tempfile.TemporaryDirectory() as tmp:
        envoy_config = Path(tmp) / "envoy.yaml"
        envoy_config.write_text(string.Template(TEMPLATE.read_text()).substitute(values))
        result = subprocess.run(
            [str(ENVOY), "--mode", "validate", "--disable-hot-restart", "-c", str(envoy_config)],
            capture_output=True, text=True, timeout=120,
        )
    output = result.stdout + result.stderr
    if result.returncode == 0:
        print("OK")
        return 0
    reasons = [line[line.index("warden: invalid configuration: "):]
               for line in output.splitlines() if "warden: invalid configuration: " in line]
    print("\n".join(reasons) if reasons else output.strip())
    return 1


if __name__ == "__main__":
    sys.exit(main())
