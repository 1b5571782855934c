//! `roster serve`: the web server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use clap::Args;
use ipnet::IpNet;
use roster_delivery::{Transports, Worker};
use roster_domain::mfa::MfaPolicy;
use roster_domain::{Actor, Directory};
use roster_web::WebConfig;

use crate::config::{Backend, DeliveryArgs, StoreArgs};
use crate::demo;

/// Options of `roster serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// The address people use to reach Roster; an https address makes cookies Secure.
    #[arg(long, env = "ROSTER_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Reverse proxies (addresses or ranges such as 10.0.0.0/8) whose X-Forwarded-For names the
    /// client, for sign-in limits and audit records; nobody else's is believed.
    #[arg(long = "trusted-proxy", env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    trusted_proxies: Vec<IpNet>,
    /// Username of the Global Administrator created on first start.
    #[arg(long, env = "ROSTER_ADMIN_USERNAME", default_value = "admin@roster.example")]
    admin_username: String,
    /// On first start, also add a few hundred sample people.
    #[arg(long)]
    demo: bool,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "ROSTER_TLS_CERT", requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "ROSTER_TLS_KEY", requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
}

impl ServeArgs {
    /// What `roster serve` checks before it opens the database: transports and TLS files.
    pub async fn check(&self) -> anyhow::Result<()> {
        self.check_public_url()?;
        self.store.check()?;
        self.delivery.transports()?;
        self.tls().await?;
        Ok(())
    }

    /// A server listening on every address can't tell which one people use, and links in pages
    /// and API responses are built from it.
    fn check_public_url(&self) -> anyhow::Result<()> {
        if self.listen.ip().is_unspecified() && self.public_url.is_none() {
            anyhow::bail!(
                "public_url: listening on every address ({}) needs the address people use, such as \
                 https://roster.contoso.com",
                self.listen
            );
        }
        Ok(())
    }

    /// The TLS configuration, when a certificate and key are given.
    async fn tls(&self) -> anyhow::Result<Option<RustlsConfig>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        // One process-wide choice of cryptography (ring, as for outgoing connections); a second
        // call finds it installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = RustlsConfig::from_pem_file(cert, key).await.with_context(|| {
            format!("tls_cert/tls_key: cannot use {} with {} as a certificate and key", cert.display(), key.display())
        })?;
        Ok(Some(config))
    }
}

/// The public URL: http or https, a host, no query or fragment; kept without a trailing slash,
/// as links are built by appending paths to it.
fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("'{text}' must be an http:// or https:// address with a host name"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("'{text}' must not have a query, a fragment, a user name or a password"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A trusted proxy: one address, or a range in CIDR notation.
fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    match text.parse::<IpNet>() {
        Ok(net) => Ok(net),
        Err(_) => text
            .parse::<std::net::IpAddr>()
            .map(IpNet::from)
            .map_err(|_| format!("'{text}' is neither an IP address nor a range such as 10.0.0.0/8")),
    }
}

/// How long requests under way may take to finish once a stop is asked for (HTTPS; plain
/// HTTP waits for them all, as before).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Sample people added by `--demo`.
const DEMO_USERS: usize = 300;

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    args.check_public_url()?;
    let transports = args.delivery.transports()?;
    let tls = args.tls().await?;
    let (directory, store) = args.store.open().await?;
    if let Some((admin, password)) = directory.bootstrap(&args.admin_username).await? {
        let setup = Actor::system("Roster setup");
        if args.demo {
            demo::load(&directory, &setup, DEMO_USERS, |_| {}).await?;
            // A demonstration should open without an authenticator app at hand; a real
            // installation keeps the default (administrators need a second step).
            directory.set_mfa_policy(&setup, MfaPolicy::Optional).await?;
        }
        println!("Roster created the first Global Administrator.");
        println!("  Username: {}", admin.username);
        println!("  One-time password: {password}");
        println!("You will choose a new password when you first sign in.");
        if args.demo {
            println!("Demo: a second step at sign-in is optional (Admin > Settings turns it on for administrators).");
        } else {
            println!("Administrators need a second step: have an authenticator app ready to set up at first sign-in.");
        }
    } else {
        println!(
            "Lost an administrator's password? Run `roster users reset-password USERNAME` with the same data options, \
             while this server runs or not: it prints a one-time password."
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // On the loopback address the public URL names `localhost`, the same machine: browsers
    // refuse an IP address as a passkey's relying party, and the quick start should offer them.
    let host = match local.ip().is_loopback() {
        true => format!("localhost:{}", local.port()),
        false => local.to_string(),
    };
    let public = args.public_url.clone().unwrap_or_else(|| format!("{scheme}://{host}"));
    let directory = directory.with_issuer(&public);
    println!("Roster is listening on {local}. Sign in at {public}/signin");
    tokio::spawn(purge_regularly(directory.clone()));
    tokio::spawn(seal_regularly(directory.clone()));
    // Nodes on one PostgreSQL database share the outbox: one without a transport must leave
    // messages to a node that has it rather than hold them.
    let shared = matches!(store, Backend::Postgres(_));
    if let Some(notice) = transport_notice(&transports, shared) {
        println!("{notice}");
    }
    let config = WebConfig {
        secure_cookies: public.starts_with("https://"),
        public_url: public.clone(),
        trusted_proxies: args.trusted_proxies.clone(),
        email_transport: transports.email.is_some(),
        sms_transport: transports.sms.is_some(),
        shared_outbox: shared,
    };
    let worker = Worker::new(
        directory.store().clone(),
        transports,
        Duration::from_millis(args.delivery.outbox_retry_ms),
        directory.outbox_signal(),
    );
    let worker = if shared { worker.sharing() } else { worker };
    let (stop_delivery, stopped) = tokio::sync::watch::channel(false);
    let delivery = tokio::spawn(worker.run(stopped));
    let app = roster_web::app(directory, config).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let stopping = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                stopping.graceful_shutdown(Some(SHUTDOWN_GRACE));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, tls).handle(handle).serve(app).await?;
        }
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?,
    }
    // Let a delivery under way finish, so that no message waits out a lease after a restart.
    let _ = stop_delivery.send(true);
    if tokio::time::timeout(Duration::from_secs(40), delivery).await.is_err() {
        tracing::warn!("a delivery was still under way at shutdown; its message is retried after its lease");
    }
    store.close().await;
    Ok(())
}

/// What a node missing a transport says at start: its messages are held when it is the only
/// node, left to other nodes when the outbox is `shared`.
fn transport_notice(transports: &Transports, shared: bool) -> Option<&'static str> {
    let (email, sms) = (transports.email.is_some(), transports.sms.is_some());
    Some(match (email, sms, shared) {
        (true, true, _) => return None,
        (false, false, true) => {
            "No email (ROSTER_SMTP_URL) or SMS transport: this node delivers nothing; messages wait for a node with \
             a transport."
        }
        (false, true, true) => {
            "No email (ROSTER_SMTP_URL) transport: this node sends only text messages; email waits for a node with \
             an email transport."
        }
        (true, false, true) => {
            "No SMS transport: this node sends only email; text messages wait for a node with an SMS transport."
        }
        (false, false, false) => {
            "Development setting: no email (ROSTER_SMTP_URL) or SMS transport. Those messages are held in Admin > \
             Message outbox and printed here."
        }
        (false, true, false) => {
            "Development setting: no email (ROSTER_SMTP_URL) transport. Those messages are held in Admin > Message \
             outbox and printed here."
        }
        (true, false, false) => {
            "Development setting: no SMS transport. Those messages are held in Admin > Message outbox and printed \
             here."
        }
    })
}

/// Deleted users and groups leave for good after their 30 days, audit records after the
/// retention period, sent messages after the outbox's, and expired access tokens at once;
/// checked hourly.
async fn purge_regularly(directory: Directory) {
    let mut tick = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        tick.tick().await;
        match directory.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(users = n, "purged users deleted more than 30 days ago"),
            Err(e) => tracing::warn!(error = %e, "purging deleted users failed"),
        }
        match directory.purge_expired_groups().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(groups = n, "purged groups deleted more than 30 days ago"),
            Err(e) => tracing::warn!(error = %e, "purging deleted groups failed"),
        }
        match directory.trim_audit().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "removed audit records older than the retention period"),
            Err(e) => tracing::warn!(error = %e, "removing old audit records failed"),
        }
        match directory.trim_outbox().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "removed delivered, given-up and surplus held messages"),
            Err(e) => tracing::warn!(error = %e, "trimming the outbox failed"),
        }
        if let Err(e) = directory.trim_app_tokens().await {
            tracing::warn!(error = %e, "removing expired access tokens failed");
        }
        if let Err(e) = directory.trim_user_tokens().await {
            tracing::warn!(error = %e, "removing expired authorization codes and user tokens failed");
        }
        match directory.rotate_due_keys().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys = n, "rotated signing keys that reached the end of their lifetime"),
            Err(e) => tracing::warn!(error = %e, "rotating signing keys failed"),
        }
    }
}

/// Audit records join the hash chain within seconds of being written: sealing in batches
/// rather than with each change keeps one shared head row out of every save's transaction.
async fn seal_regularly(directory: Directory) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = directory.seal_audit().await {
            tracing::warn!(error = %e, "sealing audit records failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn public_urls_and_proxies_are_checked() {
        assert_eq!(super::parse_public_url("https://id.contoso.com/").unwrap(), "https://id.contoso.com");
        assert_eq!(super::parse_public_url("https://contoso.com/roster/").unwrap(), "https://contoso.com/roster");
        for bad in ["id.contoso.com", "ftp://id.contoso.com", "https://id.contoso.com/?a=1", "https://u@id.contoso.com"]
        {
            assert!(super::parse_public_url(bad).is_err(), "{bad}");
        }
        assert_eq!(super::parse_proxy("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(super::parse_proxy(" 192.0.2.1 ").unwrap().to_string(), "192.0.2.1/32");
        assert!(super::parse_proxy("proxy.local").is_err());
    }

    use super::*;

    // An email transport keeps a connection pool, which lives on a runtime.
    #[tokio::test]
    async fn a_node_sharing_the_outbox_says_what_it_leaves_to_others() {
        let none = Transports::default();
        let config = roster_delivery::SmtpConfig { url: "smtp://127.0.0.1:25".into(), from: "r@contoso.com".into() };
        let email = Transports { email: Some(roster_delivery::EmailTransport::new(&config).unwrap()), sms: None };
        let shared = |t| transport_notice(t, true).unwrap_or_default();
        assert!(shared(&none).contains("this node delivers nothing; messages wait for a node with a transport"));
        assert!(shared(&email).starts_with("No SMS transport: this node sends only email;"));
        assert_eq!(
            transport_notice(&none, false),
            Some(
                "Development setting: no email (ROSTER_SMTP_URL) or SMS transport. Those messages are held in \
                 Admin > Message outbox and printed here."
            ),
            "the only node holds them, as it always has"
        );
    }
}
