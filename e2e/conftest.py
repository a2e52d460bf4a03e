"""Fixtures that start the real stack: redis-server, warden-verifier, the echo upstream and Envoy
loading the filter (the release .wasm, or the native module under WARDEN_BUILD=native), each on
free loopback ports, torn down after use (also on failure).

The build markers (registered in pytest.ini; WARDEN_BUILD is read by harness.py):
- `@pytest.mark.wasm_only("why")`: the test is about the wasm build itself (V8 traps, the OCI image,
  wasmtime, Istio's WasmPlugin, the .wasm size); under WARDEN_BUILD=native it is skipped with its
  reason.
- `@pytest.mark.build_independent("why")`: the test never loads the filter, so a native pass would
  run it unchanged a second time; under WARDEN_BUILD=native it is skipped with its reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from stack import Stack, start_stack, stop_stack  # noqa: E402
from tokens import KeySet  # noqa: E402


@pytest.fixture(scope="session")
def keys() -> KeySet:
    return KeySet()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, keys):
    """The shared stack. Tests on it use their own users (fresh `sub`), so they do not interfere."""
    stack = start_stack(tmp_path_factory.mktemp("stack"), keys)
    try:
        yield stack
    finally:
        stop_stack(stack)


@pytest.fixture
def own_stack(tmp_path, keys):
    """A private stack for tests that change global state (revoke-all) or stop parts of it."""
    started: list[Stack] = []

    def make(**config_options) -> Stack:
        started.append(start_stack(tmp_path, keys, **config_options))
        return started[-1]

    try:
        yield make
    finally:
        for stack in started:
            stop_stack(stack)


def _reason(marker, default: str) -> str:
    return marker.kwargs.get("reason") or (marker.args[0] if marker.args else default)


def pytest_collection_modifyitems(config, items):
    if not harness.NATIVE:
        return
    for item in items:
        marker = item.get_closest_marker("wasm_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason="wasm only: " + _reason(marker, "about the wasm build")))
            continue
        marker = item.get_closest_marker("build_independent")
        if marker is not None:
            item.add_marker(pytest.mark.skip(
                reason="build independent (the wasm pass ran it): " + _reason(marker, "does not load the filter")))


def pytest_report_header(config):
    module = harness.NATIVE_FILE if harness.NATIVE else harness.WASM_FILE
    return f"warden build: {harness.BUILD} ({module.relative_to(harness.ROOT)})"


def pytest_sessionfinish(session, exitstatus):
    harness.stop_all()


_FIRST_PROCESS = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.stash[_FIRST_PROCESS] = len(harness.STARTED)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the log tails of the processes the test used (started by it, or running)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    first = item.stash.get(_FIRST_PROCESS, 0)
    procs = [p for i, p in enumerate(harness.STARTED) if i >= first or not p.exited()]
    seen = set()
    for proc in procs:
        if proc.log_path in seen:
            continue
        seen.add(proc.log_path)
        report.sections.append((f"log of {proc.name}", proc.log_tail(25)))
