//! The request span of the API routes (check listener and admin API; not the health and metrics
//! routes a probe or a scraper calls every few seconds): a child of the trace context the
//! request brings (W3C `traceparent`, `tracestate`), with the route's pattern and the answer's
//! status. Handlers add the decision (`telemetry::logging`). Spans are made only when traces
//! are exported (`--otlp-endpoint`).

use crate::telemetry::traces;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Middleware: runs the request inside its span.
pub async fn traced(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    let headers = request.headers();
    let span = traces::request_span(
        request.method().as_str(),
        &route,
        single(headers, "traceparent"),
        joined(headers, "tracestate").as_deref(),
    );
    let response = next.run(request).instrument(span.clone()).await;
    traces::record_status(&span, response.status().as_u16());
    response
}

/// The header's value when it came exactly once (two `traceparent`s: which one is meant is
/// unknown, so neither is used).
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// Every value of the header joined with `,` (how a list header may be split over lines).
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn trace_headers_are_read_as_the_spec_says() {
        let mut headers = HeaderMap::new();
        assert_eq!(single(&headers, "traceparent"), None);
        headers.append("traceparent", HeaderValue::from_static("a"));
        headers.append("tracestate", HeaderValue::from_static("x=1"));
        headers.append("tracestate", HeaderValue::from_static("y=2"));
        assert_eq!(single(&headers, "traceparent"), Some("a"));
        assert_eq!(joined(&headers, "tracestate").as_deref(), Some("x=1,y=2"));
        headers.append("traceparent", HeaderValue::from_static("b"));
        assert_eq!(single(&headers, "traceparent"), None);
        assert_eq!(joined(&headers, "nothing"), None);
    }
}
