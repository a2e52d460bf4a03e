"""The filter's metrics show up in Envoy's admin /stats as wasmcustom.warden.*."""

from __future__ import annotations


def test_filter_metrics_count_allowed_and_denied_requests(stack):
    before = stack.envoy.stats()
    token = stack.keys.token("ES256")
    for _ in range(3):
        assert stack.envoy.request("/", token).status == 200
    assert stack.envoy.request("/", stack.keys.token("ES256", aud="nope")).status == 401
    assert stack.envoy.request("/").status == 401
    after = stack.envoy.stats()

    def grew(name: str, by: int) -> bool:
        return after.get(name, 0) - before.get(name, 0) >= by

    assert grew("wasmcustom.warden.allowed", 3), after
    assert grew("wasmcustom.warden.denied.audience_mismatch", 1), after
    assert grew("wasmcustom.warden.denied.token_missing", 1), after
    # The same token three times: at least two verified-token cache hits, one miss.
    assert grew("wasmcustom.warden.cache.hit", 2), after
    assert grew("wasmcustom.warden.cache.miss", 1), after
