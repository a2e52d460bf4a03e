//! The playground page (`--playground-dir`) on the admin listener: a fixed set of static files,
//! served without the admin token because the page holds no secret and sends nothing anywhere
//! (its Content-Security-Policy forbids any connection).

use super::error::ApiError;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::path::PathBuf;

/// The files `scripts/build-playground.sh` writes, and their types. Nothing else is served, so
/// no request path ever reaches the file system beyond these names.
const FILES: [(&str, &str); 5] = [
    ("index.html", "text/html; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("warden_playground.js", "text/javascript; charset=utf-8"),
    ("warden_wasm.js", "text/javascript; charset=utf-8"),
];

/// Same policy as the page's own meta tag, also sent as a header.
const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'none'; form-action 'none'; base-uri 'none'; \
                   frame-ancestors 'none'";

pub fn router(dir: PathBuf) -> Router {
    Router::new()
        .route(
            "/playground",
            get(|| async { Redirect::permanent("/playground/") }),
        )
        .route("/playground/", get(index))
        .route("/playground/{file}", get(file))
        .with_state(dir)
}

async fn index(State(dir): State<PathBuf>) -> Result<Response, ApiError> {
    serve(&dir, "index.html").await
}

async fn file(State(dir): State<PathBuf>, Path(name): Path<String>) -> Result<Response, ApiError> {
    serve(&dir, &name).await
}

async fn serve(dir: &std::path::Path, name: &str) -> Result<Response, ApiError> {
    let Some((name, content_type)) = FILES.iter().find(|(n, _)| *n == name) else {
        return Err(ApiError::NotFound("playground file"));
    };
    let path = dir.join(name);
    let read = tokio::task::spawn_blocking({
        let path = path.clone();
        move || std::fs::read(path)
    })
    .await;
    let body = match read {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            tracing::warn!(file = %path.display(), error = %e,
                "playground file unreadable (run `make playground-build`)");
            return Err(ApiError::NotFound("playground file"));
        }
        Err(_) => return Err(ApiError::NotFound("playground file")),
    };
    Ok((
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response())
}
