//! `GET /v1/revocations?after=SEQ&wait_ms=N` (check listener): the revocation feed for filters in
//! stream mode. Answers the changes after `SEQ` as soon as there are any, an empty list after
//! `wait_ms`, or a snapshot with its sequence number when `SEQ` is absent, unknown or trimmed.
//! The wire format is `warden_core::protocol::feed`.
//!
//! `max_live=N` asks a snapshot to list at most N live sessions (those expiring latest); without
//! it a snapshot lists none, as before live sessions existed. N is capped by the verifier's own
//! `--feed-max-live`.
//!
//! The route lists every revoked `sub`/`jti` and every live `sid`: with `--feed-token-file` it
//! answers only requests with that bearer token (401 otherwise), beside or instead of mTLS.
//!
//! Entry ids: `after_id=ID` names the entry the poller's cursor is on; changes are answered only
//! when the feed still holds entry `SEQ` with that id, on every re-read of a long-poll, else a
//! snapshot (after Redis lost its last writes, numbers are reused but ids are not). `ids=1` asks
//! for the ids in the answer; without it the answer is the same as before ids existed, so older
//! filters (which refuse unknown fields) keep working, unprotected.
//!
//! The feed itself (long-poll, snapshots and their cache) is `service::feed`.

use super::error::ApiError;
use super::routes::Endpoint;
use super::state::AppState;
use crate::service::feed::{self, Answer, PollQuery, MAX_LIVE, MAX_WAIT_MS};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use warden_core::protocol::feed::valid_id;

/// Reads `after`, `wait_ms`, `max_live`, `ids` (decimal) and `after_id` (an entry id), each at
/// most once; anything else is refused.
pub fn parse_query(raw: Option<&str>) -> Result<PollQuery, ApiError> {
    let mut query = PollQuery::default();
    let mut wait_ms = None;
    let mut max_live = None;
    let mut ids = None;
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "after_id" {
            if query.after_id.is_some() {
                return Err(ApiError::bad_request("`after_id` given twice".to_owned()));
            }
            if !valid_id(value) {
                return Err(ApiError::bad_request(
                    "`after_id` must be 1 to 64 base64url characters".to_owned(),
                ));
            }
            query.after_id = Some(value.to_owned());
            continue;
        }
        let slot = match name {
            "after" => &mut query.after,
            "wait_ms" => &mut wait_ms,
            "max_live" => &mut max_live,
            "ids" => &mut ids,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}`",
                    other.escape_default()
                )))
            }
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!("`{name}` given twice")));
        }
        let number = (!value.is_empty()
            && value.len() <= 20
            && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| ApiError::bad_request(format!("`{name}` must be a non-negative integer")))?;
        *slot = Some(number);
    }
    query.wait_ms = wait_ms.unwrap_or(0);
    query.ids = match ids {
        None | Some(0) => false,
        Some(1) => true,
        Some(_) => return Err(ApiError::bad_request("`ids` must be 0 or 1".to_owned())),
    };
    if query.after_id.is_some() && query.after.is_none() {
        return Err(ApiError::bad_request("`after_id` needs `after`".to_owned()));
    }
    query.max_live = max_live.unwrap_or(0).min(MAX_LIVE);
    if query.wait_ms > MAX_WAIT_MS {
        return Err(ApiError::bad_request(format!(
            "`wait_ms` must be at most {MAX_WAIT_MS}"
        )));
    }
    Ok(query)
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::get("/v1/revocations", handle)]
}

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(token) = &state.0.settings.feed_token {
        let presented = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        if !token.accepts(presented) {
            return ApiError::FeedUnauthorized.into_response();
        }
    }
    let result = async {
        let query = parse_query(raw.as_deref())?;
        let query = PollQuery {
            max_live: query.max_live.min(state.0.settings.feed_max_live),
            ..query
        };
        Ok::<_, ApiError>(feed::answer(&state.0, &query).await?)
    }
    .await;
    match result {
        Ok(Answer::Changes(answer)) => {
            ([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response()
        }
        Ok(Answer::Snapshot(body)) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        assert_eq!(parse_query(None).unwrap(), PollQuery::default());
        assert_eq!(
            parse_query(Some("after=17&wait_ms=500")).unwrap(),
            PollQuery {
                after: Some(17),
                wait_ms: 500,
                max_live: 0,
                ..PollQuery::default()
            }
        );
        assert_eq!(
            parse_query(Some("after=17&after_id=aZ-_09&ids=1")).unwrap(),
            PollQuery {
                after: Some(17),
                after_id: Some("aZ-_09".into()),
                ids: true,
                ..PollQuery::default()
            }
        );
        assert!(!parse_query(Some("ids=0")).unwrap().ids);
        assert_eq!(parse_query(Some("max_live=7")).unwrap().max_live, 7);
        assert_eq!(
            parse_query(Some("max_live=99999999999")).unwrap().max_live,
            MAX_LIVE
        );
        assert_eq!(parse_query(Some("wait_ms=30000")).unwrap().wait_ms, 30_000);
        for bad in [
            "after=-1",
            "after=",
            "after=1&after=2",
            "wait_ms=30001",
            "wait_ms=1e3",
            "other=1",
            "after=99999999999999999999999",
            "after=%31",
            "max_live=-1",
            "max_live=1&max_live=2",
            "after=1&after_id=",
            "after=1&after_id=a%26b",
            "after=1&after_id=a.b",
            "after=1&after_id=a&after_id=a",
            "after_id=a",
            "ids=2",
            "ids=1&ids=1",
        ] {
            assert!(
                matches!(parse_query(Some(bad)), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
