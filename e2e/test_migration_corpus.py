"""`scripts/from-jwt-authn` over every jwt_authn and RequestAuthentication example collected from Envoy's
and Istio's own docs and tests (scripts/migration-corpus/, sources in sources.json).

The converter must never crash on any of them, docs/migration.md must record the counts a fresh run
gives, and the real plugin in Envoy must accept every distinct converted output (with usable keys in
place of an example's placeholder keys), unless the upstream itself refuses the input (Envoy's
`--mode validate`, or Istio's CRD validation cases).
The plugin check loads every distinct output in one Envoy, once more per output it refuses."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import re
import sys

import pytest

import harness

pytestmark = pytest.mark.wasm_only(
    "scripts/run-migration-corpus loads the converted configs into the .wasm "
    "(WARDEN_WASM)")

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


# A key set the plugin accepts, put in place of an input's own keys where those cannot work, so the
# check is about what the converter wrote, not about the example's placeholder keys.
USABLE_JWKS = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
                                    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                                    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})


def keys_unusable(provider: dict) -> bool:
    """The input's own keys cannot work: a local JWKS that is not a strict-JSON key set holding a key
    for signatures (RFC 7517 §4.2 `use`), or no key source at all (Istio's OpenID discovery, a test
    fixture without keys)."""
    local = provider.get("local_jwks")
    if local is None:
        return "remote_jwks" not in provider
    try:
        keys = json.loads(local.get("inline_string", ""))
    except ValueError:
        return True
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        return True
    return not any(isinstance(k, dict) and k.get("use", "sig") == "sig" for k in keys["keys"])


def with_usable_keys(output: dict) -> tuple[dict, bool]:
    """A copy of `output` where providers with unusable keys get USABLE_JWKS; and whether any did."""
    copy = json.loads(json.dumps(output))
    replaced = False
    for provider in (copy.get("providers") or {}).values():
        if isinstance(provider, dict) and keys_unusable(provider):
            provider.pop("remote_jwks", None)
            provider["local_jwks"] = {"inline_string": USABLE_JWKS}
            replaced = True
    return copy, replaced


def test_keys_unusable_tells_placeholders_from_keys():
    assert keys_unusable({"local_jwks": {"inline_string": "jwks"}})
    assert keys_unusable({"local_jwks": {"inline_string": '{"keys": [{"kty": "EC", "use": "enc"}]}'}})
    assert keys_unusable({"issuer": "https://accounts.example"})
    assert not keys_unusable({"remote_jwks": {"cluster": "c", "path": "/jwks"}})
    assert not keys_unusable({"local_jwks": {"inline_string": USABLE_JWKS}})


def test_converted_outputs_pass_the_real_plugin(results, sources):
    """Run with the plugin built from this tree (`make wasm`, or WARDEN_WASM). Every distinct output
    goes through the plugin's own configuration check; where the example's own keys cannot work
    (placeholders such as `inline_string: jwks`, RFC 7517 folded keys, OpenID discovery), a usable key
    set takes their place first. A refusal is then a converter bug, unless the upstream itself
    refuses the input (Envoy `--mode validate`, Istio's CRD validation cases)."""
    wasm = runner.default_wasm()
    if not wasm.exists() or not runner.ENVOY.exists():
        pytest.skip(f"needs {wasm} (make wasm) and {runner.ENVOY} (make setup)")
    distinct: dict[str, list] = {}
    for r in results:
        if r.output is not None:
            distinct.setdefault(json.dumps(r.output, sort_keys=True), []).append(r)
    assert distinct
    checks, inputs = [], {}
    for same in distinct.values():
        output, _ = with_usable_keys(same[0].output)
        checks.append(runner.Result(same[0].file, same[0].group, "converted", output=output))
        inputs[same[0].file] = [r.file for r in same]
    wrong = []

    def give_up(check) -> bool:
        if not all(sources[f].get("upstream_accepts") is False for f in inputs[check.file]):
            wrong.append(f"  {check.file}: {check.validation}")
        return len(wrong) >= 10

    runner.validate_all(checks, wasm, give_up=give_up)
    for check in checks:
        if check.valid is False:
            assert check.validation.startswith("warden: invalid configuration: "), \
                f"{check.file}: the plugin check did not run as expected: {check.validation}"
    unchecked = [c.file for c in checks if c.valid is None]
    assert not wrong, "converted outputs the plugin refuses (converter or plugin bug):\n" + "\n".join(wrong) + \
        (f"\n  ... stopped; {len(unchecked)} outputs left unchecked" if unchecked else "")
    assert not unchecked
