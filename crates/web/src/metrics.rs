//! Prometheus metrics at `/metrics`: request latency by route, sign-in outcomes, the gauges
//! the store reports at each scrape (outbox queue, database pool), and the latest
//! recovery-readiness figures.
//!
//! Metrics go through the `metrics` facade to one recorder per process, installed on first
//! use, so every server in a process (the tests start several) reports into the same registry,
//! as Prometheus expects of one process.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Request latency, by route template, method and status.
const REQUEST_SECONDS: &str = "roster_http_request_duration_seconds";

/// Latency buckets from a millisecond to ten seconds: a page is expected to take a few
/// milliseconds, a password hash a few hundred.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use.
pub(crate) fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &BUCKETS)
                .expect("the bucket list is not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder already installed (by an embedding program) keeps its place;
            // `/metrics` then shows only what this handle saw.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP);
                    upkeep.run_upkeep();
                })
                .expect("a thread can be started");
            handle
        })
        .clone()
}

/// Times every routed request under its route template (`/admin/users/{id}`), so that ids do
/// not become labels.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let Some(route) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return next.run(request).await;
    };
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(REQUEST_SECONDS, "route" => route, "method" => method, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: anything but the standard methods counts as `other`, so that clients
/// inventing methods cannot add series without end.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts one sign-in attempt by its outcome (`success`, `second_step`, `failed`, `blocked`,
/// `throttled`).
pub(crate) fn sign_in(outcome: &'static str) {
    metrics::counter!("roster_signin_attempts_total", "outcome" => outcome).increment(1);
}

/// `GET /metrics`: the Prometheus text format, with the store's gauges read now. When the
/// database does not answer, `roster_db_up` says so and the rest is still served: an outage is
/// when latencies matter most.
pub(crate) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    match state.directory.status().await {
        Ok(status) => {
            metrics::gauge!("roster_db_up").set(1.0);
            metrics::gauge!("roster_outbox_pending").set(status.outbox_pending as f64);
            metrics::gauge!("roster_db_pool_connections").set(f64::from(status.pool_size));
            metrics::gauge!("roster_db_pool_idle").set(f64::from(status.pool_idle));
            metrics::gauge!("roster_db_pool_max").set(f64::from(status.pool_max));
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database did not answer");
            metrics::gauge!("roster_db_up").set(0.0);
        }
    }
    if let Some((counted, report)) = state.readiness.get() {
        let groups = [
            ("ready", report.ready),
            ("not_enough", report.not_enough),
            ("only_unverified", report.only_unverified),
            ("no_contacts", report.no_contacts),
        ];
        for (group, users) in groups {
            metrics::gauge!("roster_recovery_users", "group" => group).set(users as f64);
        }
        metrics::gauge!("roster_recovery_administrators_not_ready").set(report.administrators_not_ready as f64);
        metrics::gauge!("roster_recovery_outside_scope").set(report.outside_scope as f64);
        metrics::gauge!(READINESS_COUNTED).set(counted.millis() as f64 / 1000.0);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render())
}

/// When the latest recovery-readiness count began (Unix seconds); absent until the first
/// count after start has finished.
pub const READINESS_COUNTED: &str = "roster_recovery_counted_timestamp_seconds";
