//! `GET /readyz`: whether this node should get traffic. `/healthz` says the process answers;
//! this also asks the database, and checks that it has every migration this build needs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// 200 `ready`, or 503 with the reason.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    match state.directory.status().await {
        Ok(status) => {
            let pending: Vec<String> = status.pending().map(|m| format!("{} {}", m.version, m.description)).collect();
            if pending.is_empty() {
                (StatusCode::OK, "ready\n").into_response()
            } else {
                let reason = format!("not ready: migrations not applied: {}\n", pending.join(", "));
                (StatusCode::SERVICE_UNAVAILABLE, reason).into_response()
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the database did not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the database did not answer\n").into_response()
        }
    }
}
