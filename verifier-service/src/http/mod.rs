//! The HTTP API: one router per feature, assembled into the two listeners' routers from one
//! table of endpoints (so [`routes`], which `warden-verifier routes` prints for the OpenAPI
//! check, is the routers' own list). Handlers read requests with typed extractors
//! ([`extract::ValidJson`], [`oauth::OAuthForm`]), call `service`, and answer with [`views`]
//! or an error ([`error::ApiError`], [`oauth::OAuthError`]).

pub mod admin;
pub mod check;
pub mod cookie;
pub mod error;
pub mod ext_authz;
pub mod extract;
pub mod feed;
pub mod health;
pub mod idp;
pub mod oauth;
pub mod playground;
pub mod routes;
pub mod state;
pub mod token;
pub mod trace;
pub mod views;

pub use routes::{Endpoint, Listener, Route, MAX_BODY_BYTES};

use axum::extract::DefaultBodyLimit;
use axum::Router;
use error::ApiError;
use state::AppState;

/// The check listener's own endpoints: `POST /v1/check`, `/v1/ext_authz`, the public token
/// routes, the feed, and the identity providers' logout and security-event routes.
fn check_endpoints() -> Vec<Endpoint> {
    [
        check::endpoints(),
        token::endpoints(),
        feed::endpoints(),
        ext_authz::endpoints(),
        idp::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every route of both listeners (the playground's static page, served only with
/// `--playground-dir`, is not part of the API and not listed).
pub fn routes() -> Vec<Route> {
    let listed = |listener, endpoints: Vec<Endpoint>| {
        endpoints.into_iter().map(move |e| Route {
            method: e.method,
            path: e.path,
            listener,
        })
    };
    listed(Listener::Check, check_endpoints())
        .chain(listed(Listener::Check, health::endpoints()))
        .chain(listed(Listener::Admin, admin::endpoints()))
        .chain(listed(Listener::Admin, health::endpoints()))
        .collect()
}

fn router_of(endpoints: Vec<Endpoint>) -> Router<AppState> {
    endpoints
        .into_iter()
        .fold(Router::new(), |router, e| router.route(e.path, e.handler))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn with_common_routes(router: Router<AppState>, state: AppState) -> Router {
    router
        .merge(router_of(health::endpoints()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The check listener: `POST /v1/check`, `/v1/ext_authz`, the public token routes, the feed and
/// the operational routes.
pub fn check_router(state: AppState) -> Router {
    let api = router_of(check_endpoints()).route_layer(axum::middleware::from_fn(trace::traced));
    with_common_routes(api, state)
}

/// The admin listener: the admin API behind the bearer token, and the operational routes (open).
pub fn admin_router(state: AppState) -> Router {
    let playground = state.0.settings.playground_dir.clone();
    let admin_api = router_of(admin::endpoints())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin_token,
        ))
        .route_layer(axum::middleware::from_fn(trace::traced));
    let router = with_common_routes(admin_api, state);
    match playground {
        Some(dir) => router.merge(playground::router(dir)),
        None => router,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_lists_each_route_once_per_listener() {
        let table = routes();
        for (i, route) in table.iter().enumerate() {
            assert!(!table[..i].contains(route), "{route:?} is listed twice");
        }
        for listener in [Listener::Check, Listener::Admin] {
            for path in ["/healthz", "/readyz", "/metrics"] {
                let route = Route {
                    method: "GET",
                    path,
                    listener,
                };
                assert!(table.contains(&route), "{route:?} missing");
            }
        }
        let check = |path: &str| {
            table
                .iter()
                .find(|r| r.path == path)
                .map(|r| (r.method, r.listener))
        };
        assert_eq!(check("/v1/check"), Some(("POST", Listener::Check)));
        assert_eq!(
            check("/v1/admin/sessions/{sid}"),
            Some(("DELETE", Listener::Admin))
        );
        assert_eq!(
            check("/v1/ext_authz/{*rest}"),
            Some(("ANY", Listener::Check))
        );
        let json = serde_json::to_value(table[0]).unwrap();
        assert_eq!(json["listener"], "check");
    }
}
