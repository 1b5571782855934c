//! `roster serve`: the web server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use roster_delivery::Worker;
use roster_domain::mfa::MfaPolicy;
use roster_domain::{Actor, Directory};
use roster_web::WebConfig;

use crate::config::{DeliveryArgs, StoreArgs};
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
    #[arg(long, env = "ROSTER_PUBLIC_URL")]
    public_url: Option<String>,
    /// Username of the Global Administrator created on first start.
    #[arg(long, env = "ROSTER_ADMIN_USERNAME", default_value = "admin@roster.example")]
    admin_username: String,
    /// On first start, also add a few hundred sample people.
    #[arg(long)]
    demo: bool,
}

/// Sample people added by `--demo`.
const DEMO_USERS: usize = 300;

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let transports = args.delivery.transports()?;
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
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let public = args.public_url.clone().unwrap_or_else(|| format!("http://{local}"));
    println!("Roster is listening on {local}. Sign in at {public}/signin");
    tokio::spawn(purge_regularly(directory.clone()));
    let missing: Vec<&str> =
        [(transports.email.is_none(), "email (ROSTER_SMTP_URL)"), (transports.sms.is_none(), "SMS")]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect();
    if !missing.is_empty() {
        println!(
            "Development setting: no {} transport. Those messages are held in Admin > Message outbox and printed here.",
            missing.join(" or ")
        );
    }
    let config = WebConfig {
        secure_cookies: public.starts_with("https://"),
        email_transport: transports.email.is_some(),
        sms_transport: transports.sms.is_some(),
    };
    let worker = Worker::new(
        directory.store().clone(),
        transports,
        Duration::from_millis(args.delivery.outbox_retry_ms),
        directory.outbox_signal(),
    );
    let (stop_delivery, stopped) = tokio::sync::watch::channel(false);
    let delivery = tokio::spawn(worker.run(stopped));
    let app = roster_web::app(directory, config);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    // Let a delivery under way finish, so that no message waits out a lease after a restart.
    let _ = stop_delivery.send(true);
    if tokio::time::timeout(Duration::from_secs(40), delivery).await.is_err() {
        tracing::warn!("a delivery was still under way at shutdown; its message is retried after its lease");
    }
    store.close().await;
    Ok(())
}

/// Deleted users leave for good after their 30 days; checked hourly.
async fn purge_regularly(directory: Directory) {
    let mut tick = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        tick.tick().await;
        match directory.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(users = n, "purged users deleted more than 30 days ago"),
            Err(e) => tracing::warn!(error = %e, "purging deleted users failed"),
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
