"""Every Envoy config we ship or generate passes `envoy --mode validate` (for both builds of the
filter: the wasm plugin and the native module); a bad plugin configuration is refused by the real
filter with the field named in the log."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

import harness
from configs import plugin_config


DEMO_CONFIGS = {"wasm": "envoy/envoy.yaml", "native": "envoy/envoy-native.yaml"}


def render_demo(tmp_path, keys, build: str):
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(keys.jwks()))
    rendered = tmp_path / f"envoy-{build}.yaml"
    subprocess.run(
        [sys.executable, str(harness.ROOT / "scripts/render_config.py"), str(harness.ROOT / DEMO_CONFIGS[build]),
         str(rendered), "--set-json-string", f"DEMO_JWKS={jwks_file}"],
        check=True,
    )
    return rendered


def http_filters(config: dict) -> list[dict]:
    return config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"][
        "http_filters"]


# Validates the shipped demo config of each build, so it runs once (in the wasm pass).
@pytest.mark.build_independent("validates the demo config of each build")
@pytest.mark.parametrize("build", harness.BUILDS)
def test_demo_envoy_yaml_validates(tmp_path, keys, build):
    rendered = render_demo(tmp_path, keys, build)
    result = harness.envoy_validate(rendered)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration '" in result.stdout + result.stderr and "OK" in result.stdout + result.stderr
    # The plugin configuration inside is valid JSON with the JWKS embedded as a string.
    config = yaml.safe_load(rendered.read_text())
    typed = http_filters(config)[0]["typed_config"]
    value = typed["config"]["configuration"]["value"] if build == "wasm" else typed["filter_config"]["value"]
    parsed = json.loads(value)
    assert json.loads(parsed["providers"]["demo"]["local_jwks"]["inline_string"]) == keys.jwks()


@pytest.mark.build_independent("compares the two shipped demo configs")
def test_native_demo_config_is_the_wasm_one_with_the_module(tmp_path, keys):
    """envoy/envoy-native.yaml is envoy/envoy.yaml with the wasm filter replaced by the dynamic-module
    filter holding the very same configuration string: nothing else may drift."""
    wasm = yaml.safe_load(render_demo(tmp_path, keys, "wasm").read_text())
    native = yaml.safe_load(render_demo(tmp_path, keys, "native").read_text())
    assert http_filters(native)[0] == harness.native_filter(
        http_filters(wasm)[0]["typed_config"]["config"]["configuration"]["value"])
    assert native == harness.to_build(wasm, wasm_file=harness.WASM_FILE, build="native")


@pytest.mark.build_independent("the renderer of the demo config")
def test_render_refuses_a_missing_placeholder(tmp_path):
    result = subprocess.run(
        [sys.executable, str(harness.ROOT / "scripts/render_config.py"), str(harness.ROOT / "envoy/envoy.yaml"),
         str(tmp_path / "out.yaml")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "DEMO_JWKS" in result.stderr


@pytest.mark.build_independent("validates the template rendered for each build")
@pytest.mark.parametrize("build", harness.BUILDS)
def test_e2e_template_validates(tmp_path, keys, build):
    path = harness.render_envoy_config(
        tmp_path / "e2e.yaml", plugin_config(keys.jwks()),
        listen_port=harness.free_port(), admin_port=harness.free_port(),
        upstream_port=harness.free_port(), verifier_port=harness.free_port(), build=build,
    )
    filters = [f["name"] for f in http_filters(yaml.safe_load(path.read_text()))]
    assert filters == [{"wasm": harness.WASM_FILTER, "native": harness.NATIVE_FILTER}[build],
                       "envoy.filters.http.router"], filters
    result = harness.envoy_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.build_independent("breaks the config of each build")
@pytest.mark.parametrize("build", harness.BUILDS)
def test_validate_catches_a_broken_envoy_config(tmp_path, keys, build):
    """The validation above can fail: a config referring to a missing .wasm, or to a dynamic module
    Envoy cannot find, is refused."""
    path = harness.render_envoy_config(
        tmp_path / "broken.yaml", plugin_config(keys.jwks()),
        listen_port=harness.free_port(), admin_port=harness.free_port(),
        upstream_port=harness.free_port(), verifier_port=harness.free_port(),
        wasm_file=tmp_path / "missing.wasm", build=build,
    )
    if build == "native":
        text = path.read_text().replace(f'"name": "{harness.NATIVE_MODULE}"', '"name": "warden_missing"')
        assert "warden_missing" in text
        path.write_text(text)
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
        assert harness.REFUSED_CONFIG_LOG[harness.BUILD] in log, envoy.proc.log_tail()
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


@pytest.mark.build_independent("scripts/validate-plugin-config.py loads the .wasm")
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


@pytest.mark.build_independent("scripts/validate-plugin-config.py loads the .wasm")
def test_validate_plugin_config_script_reads_the_istio_wasm_plugin():
    result = run_validator(str(harness.ROOT / "istio/wasmplugin.yaml"))
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stdout + result.stderr
