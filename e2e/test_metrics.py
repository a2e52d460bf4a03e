"""The filter's metrics show up in Envoy's admin /stats as wasmcustom.warden.* (the native build:
dynamicmodulescustom.warden.*); the verifier's
/metrics parse with the Prometheus project's own parsers, in both exposition formats."""

from __future__ import annotations

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

import harness


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

    assert grew(harness.stat_name("warden.allowed"), 3), after
    assert grew(harness.stat_name("warden.denied.audience_mismatch"), 1), after
    assert grew(harness.stat_name("warden.denied.token_missing"), 1), after
    # The same token three times: at least two verified-token cache hits, one miss.
    assert grew(harness.stat_name("warden.cache.hit"), 2), after
    assert grew(harness.stat_name("warden.cache.miss"), 1), after


# What Prometheus sends when it scrapes: OpenMetrics first, the 0.0.4 text format as a fallback.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def test_verifier_metrics_parse_in_both_exposition_formats(stack):
    assert stack.envoy.request("/", stack.keys.token("ES256")).status == 200

    plain = harness.http_request(stack.verifier.port, "GET", "/metrics")
    assert plain.status == 200, plain
    assert plain.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    scraped = harness.http_request(stack.verifier.port, "GET", "/metrics",
                                   {"accept": PROMETHEUS_ACCEPT})
    assert scraped.status == 200, scraped
    assert scraped.header("content-type") == "application/openmetrics-text; version=1.0.0; charset=utf-8"

    for families in (parse_text(plain.body.decode()), parse_openmetrics(scraped.body.decode())):
        by_name = {family.name: family for family in families}
        assert by_name["warden_verifier_checks"].type == "counter"
        allowed = [s for s in by_name["warden_verifier_checks"].samples
                   if s.name == "warden_verifier_checks_total" and s.labels == {"outcome": "allow"}]
        assert len(allowed) == 1 and allowed[0].value >= 1, allowed
        duration = by_name["warden_verifier_check_duration_seconds"]
        assert duration.type == "histogram"
        bounds = [s.labels["le"] for s in duration.samples if s.name.endswith("_bucket")]
        assert [float(b) for b in bounds] == [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01, 0.025, 0.05, 0.1, 0.25, 1.0, float("inf")]
        for name in ("warden_verifier_redis_errors", "warden_verifier_admin_actions",
                     "warden_verifier_admin_unauthorized"):
            assert by_name[name].type == "counter", name
