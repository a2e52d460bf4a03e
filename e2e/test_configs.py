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
    "unknown verifier mode": (
        lambda cfg: cfg["verifier"].update(mode="push"),
        "verifier.mode",
    ),
    "stream staleness out of range": (
        lambda cfg: cfg["verifier"].update(mode="stream", stream={"max_staleness_ms": 0}),
        "verifier.stream.max_staleness_ms",
    ),
}


def invalid_configuration_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "warden: invalid configuration: " in line]


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_plugin_config_is_refused_and_the_field_named(tmp_path, keys, case):
    """Envoy runs the plugin's on_configure both in `--mode validate` and at startup; a refused
    configuration fails validation and stops Envoy from starting, and the log names the field."""
    break_it, field = BAD_CONFIGS[case]
    config = plugin_config(keys.jwks())
    break_it(config)

    envoy = harness.Envoy(tmp_path, config, upstream_port=harness.free_port(), verifier_port=harness.free_port())
    validation = harness.envoy_validate(envoy.config_path)
    output = validation.stdout + validation.stderr
    assert validation.returncode != 0, output
    lines = invalid_configuration_lines(output)
    assert lines and any(field in line for line in lines), output[-3000:]

    try:
        with pytest.raises(RuntimeError, match="exited"):
            envoy.start()
        log = envoy.proc.log_text()
        assert "Unable to create Wasm plugin warden" in log, envoy.proc.log_tail()
        lines = invalid_configuration_lines(log)
        assert lines and any(field in line for line in lines), envoy.proc.log_tail()
    finally:
        envoy.stop()


def test_good_plugin_config_passes_validation(tmp_path, keys):
    """The counterpart of the test above: the suite's own configuration is accepted."""
    envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks()), upstream_port=harness.free_port(),
                          verifier_port=harness.free_port())
    validation = harness.envoy_validate(envoy.config_path)
    output = validation.stdout + validation.stderr
    assert validation.returncode == 0, output
    assert not invalid_configuration_lines(output)


def run_validator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(harness.ROOT / "scripts/validate-plugin-config.py"), *args],
                          capture_output=True, text=True, timeout=180)


def test_validate_plugin_config_script(tmp_path, keys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(plugin_config(keys.jwks())))
    result = run_validator(str(good))
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stdout + result.stderr

    config = plugin_config(keys.jwks())
    config["providers"]["main"]["local_jwks"] = {"inline_string": '{"keys":[]}'}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    result = run_validator(str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("warden: invalid configuration: providers.main.local_jwks"), result.stdout


def test_validate_plugin_config_script_reads_the_istio_wasm_plugin():
    result = run_validator(str(harness.ROOT / "istio/wasmplugin.yaml"))
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stdout + result.stderr
