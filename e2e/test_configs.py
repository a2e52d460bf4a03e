"""Every Envoy config we ship or generate passes `envoy --mode validate`; a bad plugin configuration
is refused by the real plugin with the field named in the log."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import harness
from configs import plugin_config


def test_demo_envoy_yaml_validates(tmp_path, keys):
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(keys.jwks()))
    rendered = tmp_path / "envoy.yaml"
    subprocess.run(
        [sys.executable, str(harness.ROOT / "scripts/render_config.py"), str(harness.ROOT / "envoy/envoy.yaml"),
         str(rendered), "--set-json-string", f"DEMO_JWKS={jwks_file}"],
        check=True,
    )
    result = harness.envoy_validate(rendered)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration '" in result.stdout + result.stderr and "OK" in result.stdout + result.stderr
    # The plugin configuration inside is valid JSON with the JWKS embedded as a string.
    import yaml
    config = yaml.safe_load(rendered.read_text())
    wasm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    value = wasm["http_filters"][0]["typed_config"]["config"]["configuration"]["value"]
    parsed = json.loads(value)
    assert json.loads(parsed["providers"]["demo"]["local_jwks"]["inline_string"]) == keys.jwks()


def test_render_refuses_a_missing_placeholder(tmp_path):
    result = subprocess.run(
        [sys.executable, str(harness.ROOT / "scripts/render_config.py"), str(harness.ROOT / "envoy/envoy.yaml"),
         str(tmp_path / "out.yaml")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "DEMO_JWKS" in result.stderr


def test_e2e_template_validates(tmp_path, keys):
    path = harness.render_envoy_config(
        tmp_path / "e2e.yaml", plugin_config(keys.jwks()),
        listen_port=harness.free_port(), admin_port=harness.free_port(),
        upstream_port=harness.free_port(), verifier_port=harness.free_port(),
    )
    result = harness.envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_catches_a_broken_envoy_config(tmp_path, keys):
    """The validation above can fail: a config referring to a missing .wasm is refused."""
    path = harness.render_envoy_config(
        tmp_path / "broken.yaml", plugin_config(keys.jwks()),
        listen_port=harness.free_port(), admin_port=harness.free_port(),
        upstream_port=harness.free_port(), verifier_port=harness.free_port(),
        wasm_file=tmp_path / "missing.wasm",
    )
    result = harness.envoy_validate(path)
    assert result.returncode != 0


BAD_CONFIGS = {
    "unknown provider in a rule": (
        lambda cfg: cfg["rules"].append({"match": {"prefix": "/x"}, "requires": {"provider_name": "ghost"}}),
        "rules",
    ),
    "JWKS without a usable key": (
        lambda cfg: cfg["providers"]["main"].update(local_jwks={"inline_string": '{"keys":[]}'}),
        "providers.main.local_jwks",
    ),
    "unknown algorithm": (
        lambda cfg: cfg["providers"]["main"].update(algorithms=["XS256"]),
        "providers.main.algorithms",
    ),
    "unknown field": (
        lambda cfg: cfg["providers"]["main"].update(isuer="typo"),
        "isuer",
    ),
    "verifier without cluster": (
        lambda cfg: cfg["verifier"].pop("cluster"),
        "verifier",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_plugin_config_is_refused_and_the_field_named(tmp_path, keys, case):
    break_it, field = BAD_CONFIGS[case]
    config = plugin_config(keys.jwks())
    break_it(config)
    envoy = harness.Envoy(tmp_path, config, upstream_port=harness.free_port(), verifier_port=harness.free_port())
    try:
        started = True
        try:
            envoy.start()
        except RuntimeError:
            started = False  # Envoy exited: the filter config was rejected at startup
        log = envoy.proc.log_text()
        lines = [line for line in log.splitlines() if "warden: invalid configuration: " in line]
        assert lines, f"no 'warden: invalid configuration' line in the log\n{envoy.proc.log_tail()}"
        assert any(field in line for line in lines), lines
        if started:
            # Envoy kept running: the filter must not let anything through.
            response = envoy.request("/anything")
            assert response.status >= 500 or response.status == 401, response
    finally:
        envoy.stop()
