//! What a route is: its method, path and listener, and the endpoint (route + handler) the
//! routers are built from.

use super::state::AppState;
use axum::handler::Handler;
use axum::routing::{any, delete, get, post, MethodRouter};
use serde::Serialize;

/// Largest request body accepted on either listener.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// Which listener serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Listener {
    Check,
    Admin,
}

/// One route of the API: `method` is `ANY` for a route that answers every method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub listener: Listener,
}

/// A route and its handler: what a feature's router is made of.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
}

impl Endpoint {
    pub fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Endpoint {
        Endpoint {
            method: "GET",
            path,
            handler: get(handler),
        }
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Endpoint {
        Endpoint {
            method: "POST",
            path,
            handler: post(handler),
        }
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Endpoint {
        Endpoint {
            method: "DELETE",
            path,
            handler: delete(handler),
        }
    }

    pub fn any<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Endpoint {
        Endpoint {
            method: "ANY",
            path,
            handler: any(handler),
        }
    }
}
