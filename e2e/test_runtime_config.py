"""A bad plugin configuration arriving at runtime: Envoy takes its listener from a file-based dynamic
listener (LDS through a watched directory; each update is an atomic rename into it). An update whose
plugin configuration the filter refuses is rejected as a whole, the log names the bad field, and the
listener already serving keeps serving with its old configuration."""

from __future__ import annotations

import copy
import json
import os

import pytest

import harness
from answers import assert_denied
from configs import plugin_config
from wasm_listener import CustomEnvoy, bootstrap, listener, wasm_filter

LISTENER_NAME = "warden_lds"


def local_config(keys) -> dict:
    """The suite's plugin configuration deciding locally (no verifier), so only Envoy is needed."""
    config = plugin_config(keys.jwks())
    del config["verifier"]
    return config


def publish(lds_file, port: int, config: dict | str) -> None:
    """Writes the listener resource next to `lds_file`, then renames it over: Envoy never reads a
    half-written file."""
    resources = {"resources": [listener(LISTENER_NAME, port, wasm_filter(config))]}
    staging = lds_file.parent / f".{lds_file.name}.tmp"
    staging.write_text(json.dumps(resources))
    os.rename(staging, lds_file)


def wait_for_stat(envoy: CustomEnvoy, name: str, above: int) -> int:
    return harness.wait_until(lambda: envoy.stat(name) > above and envoy.stat(name), f"{name} > {above}",
                              timeout=30, proc=envoy.proc)


@pytest.fixture
def lds_envoy(tmp_path, keys):
    upstream = harness.EchoUpstream(tmp_path).start()
    envoy = CustomEnvoy(tmp_path, "lds")
    lds_dir = tmp_path / "lds"
    lds_dir.mkdir()
    lds_file = lds_dir / "listeners.json"
    try:
        publish(lds_file, envoy.port, local_config(keys))
        envoy.start(bootstrap(envoy.admin_port, upstream.port, lds_file=lds_file), listener_name=LISTENER_NAME)
        yield envoy, lds_file
    finally:
        envoy.stop()
        upstream.stop()


def assert_serves_the_good_config(envoy: CustomEnvoy, keys) -> None:
    good = envoy.request("/orders", keys.token("ES256"))
    assert good.status == 200, good
    assert_denied(envoy.request("/orders", keys.token("ES256", aud="someone-else")), "audience_mismatch")
    missing = envoy.request("/orders")
    assert missing.status == 401, missing
    assert envoy.request("/healthz").status == 200


def bad_rule_reference(config: dict) -> tuple[dict, str]:
    bad = copy.deepcopy(config)
    last = len(bad["rules"]) - 1
    bad["rules"][last]["requires"]["provider_name"] = "mian"
    # The same update also opens /orders: were it applied, a request without a token would pass.
    bad["rules"].insert(0, {"match": {"prefix": "/orders"}})
    return bad, f'rules[{last + 1}].requires.provider_name: unknown provider "mian"'


def bad_unknown_field(config: dict) -> tuple[dict, str]:
    bad = copy.deepcopy(config)
    bad["providers"]["main"]["isuer"] = bad["providers"]["main"].pop("issuer")
    return bad, "providers.main.isuer: unknown field `isuer`"


@pytest.mark.parametrize("make_bad", [bad_rule_reference, bad_unknown_field],
                         ids=["unknown-provider", "unknown-field"])
def test_bad_plugin_config_update_is_rejected_and_the_old_one_keeps_serving(lds_envoy, keys, make_bad):
    envoy, lds_file = lds_envoy
    assert_serves_the_good_config(envoy, keys)
    rejected = envoy.stat("listener_manager.lds.update_rejected")
    succeeded = envoy.stat("listener_manager.lds.update_success")
    assert succeeded >= 1

    bad, field_message = make_bad(local_config(keys))
    publish(lds_file, envoy.port, bad)
    wait_for_stat(envoy, "listener_manager.lds.update_rejected", rejected)
    assert envoy.stat("listener_manager.lds.update_success") == succeeded

    log = envoy.proc.log_text()
    refusal = [line for line in log.splitlines() if "warden: invalid configuration:" in line]
    assert refusal and field_message in refusal[-1], "\n".join(refusal) or envoy.proc.log_tail()
    assert f"listener '{LISTENER_NAME}' config rejected" in log, envoy.proc.log_tail()

    # The old listener and its filter configuration keep serving.
    assert_serves_the_good_config(envoy, keys)
    assert envoy.stat("listener_manager.total_listeners_active") == 1


def test_a_good_update_after_a_rejected_one_is_applied(lds_envoy, keys):
    """The watch is live: after a refused update, a good one changes what the listener does."""
    envoy, lds_file = lds_envoy
    rejected = envoy.stat("listener_manager.lds.update_rejected")
    bad, _ = bad_rule_reference(local_config(keys))
    publish(lds_file, envoy.port, bad)
    wait_for_stat(envoy, "listener_manager.lds.update_rejected", rejected)
    assert envoy.request("/orders").status == 401

    succeeded = envoy.stat("listener_manager.lds.update_success")
    opened = local_config(keys)
    opened["rules"].insert(0, {"match": {"prefix": "/orders"}})
    publish(lds_file, envoy.port, opened)
    wait_for_stat(envoy, "listener_manager.lds.update_success", succeeded)
    harness.wait_until(lambda: envoy.request("/orders").status == 200, "the new rule in force", timeout=30,
                       proc=envoy.proc)
    assert envoy.request("/other").status == 401
