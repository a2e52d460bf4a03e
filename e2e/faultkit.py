"""Shared pieces of the fault and durability tests: a stack whose parts the tests kill, freeze or
restart (Redis given by the test, the filter's verifier timeout set), and a load generator that
records every answer with its send time."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import harness
from stack import start_stack
from tokens import KeySet

# The filter's verifier timeout in these tests. Time bounds derived from it only catch a hang (a
# request answered long after the timeout); they are not speed assertions.
TIMEOUT_MS = 1000
HANG_MARGIN_S = 2.0


@dataclass
class FaultStack:
    redis: harness.Redis
    verifier: harness.Verifier
    upstream: harness.EchoUpstream
    envoy: harness.Envoy

    def stop(self) -> None:
        for part in (self.envoy, self.upstream, self.verifier, self.redis):
            # A frozen process ignores SIGTERM until thawed: thaw it first (harmless otherwise).
            proc = part.proc
            if proc is not None and proc.popen is not None and proc.popen.poll() is None:
                harness.signal_process(proc, signal.SIGCONT)
            part.stop()

    def heal(self, token: str) -> None:
        """Brings a stack a previous test may have left broken back: thaws frozen parts, restarts
        exited ones (same ports, Redis on the same directory), waits until `token` passes."""
        for part in (self.redis, self.verifier, self.upstream, self.envoy):
            proc = part.proc
            if proc is None or proc.exited():
                part.start()
            elif proc.popen is not None:
                harness.signal_process(proc, signal.SIGCONT)
        harness.wait_until(lambda: self.envoy.request("/", token).status == 200, "the stack to serve", timeout=60)


def start_fault_stack(workdir: Path, keys: KeySet, redis: harness.Redis) -> FaultStack:
    stack = start_stack(workdir, keys, redis=redis, verifier_timeout_ms=TIMEOUT_MS)
    return FaultStack(stack.redis, stack.verifier, stack.upstream, stack.envoy)


class FaultStacks:
    """Stacks started by one test, all stopped on teardown (`fault_stack` fixtures yield one)."""

    def __init__(self, workdir: Path, keys: KeySet):
        self.workdir = workdir
        self.keys = keys
        self.started: list[FaultStack] = []

    def __call__(self, redis: harness.Redis | None = None) -> FaultStack:
        self.started.append(start_fault_stack(self.workdir, self.keys, redis or harness.Redis(self.workdir)))
        return self.started[-1]

    def stop_all(self) -> None:
        for stack in reversed(self.started):
            stack.stop()


def timed_request(envoy: harness.Envoy, token: str) -> tuple[harness.Response, float]:
    started = time.monotonic()
    response = envoy.request("/", token)
    return response, time.monotonic() - started


@dataclass
class Sample:
    sent: float
    answered: float
    name: str
    status: int
    reason: str | None


class Load(threading.Thread):
    """Requests in a loop, one per token in turn, each on a new connection; records every answer."""

    def __init__(self, port: int, tokens: dict[str, str]):
        super().__init__(daemon=True)
        self.port = port
        self.tokens = tokens
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for name, token in self.tokens.items():
                sent = time.monotonic()
                try:
                    response = harness.http_request(self.port, "GET", "/", {"authorization": f"Bearer {token}"})
                except OSError as err:  # Envoy itself stays up: any transport error is a finding
                    self.errors.append(f"{name}: {err!r}")
                    continue
                reason = None
                if response.status == 401:
                    reason = response.json().get("error_description")
                self.samples.append(Sample(sent, time.monotonic(), name, response.status, reason))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)

    def of(self, name: str, after: float = 0.0, before: float = float("inf")) -> list[Sample]:
        return [s for s in list(self.samples) if s.name == name and after <= s.sent < before]


