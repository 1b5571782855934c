//! Roster over HTTP: the admin center and the self-service pages, rendered on the server.
//!
//! Handlers stay thin: they read the request, call one [`roster_domain::Directory`] operation
//! and render the result. Pages work without JavaScript; forms post and redirect.

use std::sync::Arc;

use axum::Router;
use roster_domain::Directory;

mod api;
mod error;
mod extract;
mod health;
mod metrics;
mod router;
mod security;
mod session;
mod ui;

pub use router::router;

/// Settings of the web surface.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// The address people use, without a trailing slash: every absolute link is built from it,
    /// never from a request's `Host` or forwarded headers.
    pub public_url: String,
    /// Mark cookies `Secure` and send `Strict-Transport-Security` (the public URL is https).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client; anyone else's is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Email leaves the server (an SMTP transport is configured).
    pub email_transport: bool,
    /// Text messages leave the server (an SMS gateway is configured).
    pub sms_transport: bool,
    /// Other nodes share the outbox (PostgreSQL): a message this node has no transport for
    /// waits for one that has, rather than being held here, so no body is ever shown.
    pub shared_outbox: bool,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The directory service.
    pub directory: Directory,
    /// Web settings.
    pub config: Arc<WebConfig>,
    /// Imports under way or recently done on this node.
    pub imports: Arc<ui::import::Imports>,
    /// The latest recovery-readiness figures, for the admin home.
    pub readiness: Arc<ui::readiness::Latest>,
}

/// Builds the application for `directory`, and starts counting recovery readiness for the admin
/// home in the background (so it must be called inside a Tokio runtime).
pub fn app(directory: Directory, config: WebConfig) -> Router {
    metrics::handle();
    let readiness = Arc::new(ui::readiness::Latest::default());
    tokio::spawn(ui::readiness::refresh_regularly(directory.clone(), readiness.clone()));
    router(AppState { directory, config: Arc::new(config), imports: Arc::default(), readiness })
}
