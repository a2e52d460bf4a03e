"""`scripts/from-jwt-authn` over every jwt_authn and RequestAuthentication example collected from Envoy's
and Istio's own docs and tests (scripts/migration-corpus/, sources in sources.json).

The converter must never crash on any of them, docs/migration.md must record the counts a fresh run
gives, and the real plugin in Envoy must accept every distinct converted output, except where the input
itself cannot work: its own keys are unusable (then the plugin must refuse it for those keys), or the
upstream itself refuses the input (Envoy's `--mode validate`, or Istio's CRD validation cases).
The plugin check runs Envoy once per distinct output (about 75): the slow part of this file."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness

RUNNER_PATH = harness.ROOT / "scripts" / "run-migration-corpus"


def _load_runner():
    loader = importlib.machinery.SourceFileLoader("run_migration_corpus", str(RUNNER_PATH))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # its dataclasses look their module up while being defined
    loader.exec_module(module)
    return module


runner = _load_runner()


@pytest.fixture(scope="module")
def sources() -> dict:
    return runner.load_sources()


@pytest.fixture(scope="module")
def results(sources) -> list:
    return runner.run_all(runner.corpus_files(), sources)


def test_every_corpus_file_names_its_source(sources):
    files = runner.corpus_files()
    assert len(files) >= 100, "the corpus lost most of its files"
    assert sorted(sources) == files, "sources.json and the files under scripts/migration-corpus/ differ"
    for rel, src in sources.items():
        assert src["group"] in runner.GROUPS, rel
        assert src["repo"] in ("envoyproxy/envoy", "envoyproxy/gateway", "istio/istio", "istio/istio.io",
                               "istio/api"), rel
        assert src["path"] and src["extracted"], rel
        assert re.fullmatch(r"[0-9a-f]{40}", src.get("commit", "")) or src.get("index_id"), \
            f"{rel}: neither a commit nor the index id of the stored version it was read from"


def test_no_corpus_file_crashes_the_converter(results):
    crashed = {r.file: r.reason for r in results if r.outcome == "crashed"}
    assert not crashed, "converter crashes (bugs, see scripts/migration-corpus/FINDINGS.md):\n" + \
        "\n".join(f"  {f}: {why}" for f, why in sorted(crashed.items()))


def test_a_refusal_always_says_why(results):
    for r in results:
        if r.outcome in ("refused", "unreadable"):
            assert r.reason and "Traceback" not in r.reason, r.file


def test_docs_record_the_counts_of_a_real_run(results, sources):
    recorded = runner.docs_block()
    assert recorded is not None, f"{runner.DOCS} has no {runner.BEGIN} block"
    assert recorded == runner.counts_markdown(results, sources), (
        "docs/migration.md disagrees with the converter; rerun `scripts/run-migration-corpus --write-docs`")


KEY_FIELDS = re.compile(r"\.(local_jwks|remote_jwks)\b|no keys|jwks", re.I)


def keys_unusable(output: dict) -> bool:
    """The input's own keys cannot work: a local JWKS that is not a strict-JSON key set holding a key
    for signatures (RFC 7517 §4.2 `use`), or a provider without any key source (Istio's OpenID
    discovery, a test fixture without keys)."""
    for provider in output.get("providers", {}).values():
        local = provider.get("local_jwks")
        if local is None:
            if "remote_jwks" not in provider:
                return True
            continue
        try:
            keys = json.loads(local.get("inline_string", ""))
        except ValueError:
            return True
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            return True
        if not any(isinstance(k, dict) and k.get("use", "sig") == "sig" for k in keys["keys"]):
            return True
    return False


def test_converted_outputs_pass_the_real_plugin(results, sources):
    """Run with the plugin built from this tree (`make wasm`, or WARDEN_WASM)."""
    wasm = runner.default_wasm()
    if not wasm.exists() or not runner.ENVOY.exists():
        pytest.skip(f"needs {wasm} (make wasm) and {runner.ENVOY} (make setup)")
    distinct: dict[str, list] = {}
    for r in results:
        if r.output is not None:
            distinct.setdefault(json.dumps(r.output, sort_keys=True), []).append(r)
    assert distinct
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda same: runner.validate(same[0], wasm), distinct.values()))
    wrong = []
    for same in distinct.values():
        first = same[0]
        if first.valid:
            continue
        assert first.validation.startswith("warden: invalid configuration: "), \
            f"{first.file}: the plugin check did not run: {first.validation}"
        for r in same:
            if sources[r.file].get("upstream_accepts") is False:
                continue
            if keys_unusable(r.output) and KEY_FIELDS.search(first.validation):
                continue
            wrong.append(f"  {r.file}: {first.validation.splitlines()[0]}")
    assert not wrong, "converted outputs the plugin refuses for something other than the input's keys:\n" + \
        "\n".join(wrong)
