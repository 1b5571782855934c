//! `roster-bench`: seeds a directory, starts real `roster serve` processes, and measures them
//! over HTTP with concurrent clients. Prints a Markdown table for BENCHMARKS.md.
//!
//! The directory lives in SQLite in a data folder (one node), or in a PostgreSQL database that
//! one or several nodes share; the scenarios and their timing are the same code in every mode,
//! so that the figures compare.
//!
//! Build both binaries in release mode first; the benchmark runs the `roster` binary that sits
//! beside its own executable.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use rand::seq::SliceRandom;
use rand::Rng;
use reqwest::cookie::Jar;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use roster_domain::store::UserStore;
use roster_store::postgres::PostgresStore;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

mod api;
mod groups;
mod import;
mod oidc;
mod wrk;

/// Options of the benchmark.
#[derive(Parser, Debug)]
#[command(about = "Load benchmark of a real Roster server")]
struct Args {
    /// Users to seed.
    #[arg(long, default_value_t = 1_000_000)]
    users: u32,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests per read scenario (shared by the clients).
    #[arg(long, default_value_t = 4_000)]
    requests: usize,
    /// How long to run the contact-save scenario, in seconds.
    #[arg(long, default_value_t = 10)]
    save_seconds: u64,
    /// How many next links each client follows for the deep-page scenario.
    #[arg(long, default_value_t = 200)]
    depth: usize,
    /// Reuse (or create) the directory in this folder instead of a temporary one; an already
    /// seeded folder is not seeded again. With --database-url it holds the server key and the
    /// administrator's app key, which later runs on the same database need.
    #[arg(long)]
    data: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://user@host/database`) instead of SQLite in the data
    /// folder. It is seeded when it holds no users and reused when it holds the benchmark's
    /// administrator.
    #[arg(long)]
    database_url: Option<String>,
    /// `roster serve` processes sharing the PostgreSQL database; requests go to each in turn.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    nodes: u16,
    /// Instead of the HTTP scenarios, time `roster users import` of this many generated rows
    /// into the seeded directory (which then holds them).
    #[arg(long, value_name = "ROWS")]
    import: Option<u64>,
    /// Instead of the admin center's scenarios, measure the standard APIs: read every user
    /// through Graph paging, then create --scim-users users over SCIM with --clients clients.
    #[arg(long)]
    api: bool,
    /// Users the --api run creates over SCIM.
    #[arg(long, default_value_t = 100_000)]
    scim_users: usize,
    /// Instead of the admin center's scenarios, measure groups: a 100,000-member group filled
    /// over SCIM, nested five levels deep, and a user in 1,000 groups.
    #[arg(long)]
    groups: bool,
    /// Instead of the admin center's scenarios, measure the OpenID Connect provider: ID token
    /// signing, whole sign-ins with --clients clients, and refresh-token and client-credentials
    /// grants driven by wrk (which must be installed: apt-get install wrk).
    #[arg(long)]
    oidc: bool,
    /// How long each --oidc scenario runs, in seconds.
    #[arg(long, default_value_t = 20)]
    oidc_seconds: u64,
}

const ADMIN: &str = "bench.admin@contoso.com";
const PASSWORD: &str = "Bench-Password-2026";
const PREFIXES: &[&str] =
    &["smi", "ngu", "wil", "ros", "ale", "meg", "pat", "kat", "sch", "tana", "joh", "van", "chen", "gar", "lee"];

/// Latencies of one scenario.
struct Sample {
    name: &'static str,
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
    /// Memory of each server right after the scenario.
    rss_mb: Vec<Option<f64>>,
}

impl Sample {
    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.latencies.clone();
        v.sort();
        if v.is_empty() {
            return 0.0;
        }
        let index = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[index].as_secs_f64() * 1000.0
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {} |",
            self.name,
            self.latencies.len(),
            self.percentile(50.0),
            self.percentile(95.0),
            self.percentile(99.0),
            self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            self.errors,
            rss_cell(&self.rss_mb)
        )
    }
}

fn roster_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("roster");
    if !path.exists() {
        bail!("{} not found: build it first with `cargo build --release -p roster`", path.display());
    }
    Ok(path)
}

/// Where the directory under test lives, told the same way to every `roster` command.
struct Target {
    /// The data folder: the SQLite database, or with PostgreSQL the key files.
    data: PathBuf,
    /// The PostgreSQL database, when there is one.
    database_url: Option<String>,
}

impl Target {
    fn engine(&self) -> &'static str {
        match self.database_url {
            Some(_) => "PostgreSQL",
            None => "SQLite",
        }
    }

    /// The server key, which every node on one PostgreSQL database must share.
    fn key_file(&self) -> PathBuf {
        self.data.join("secret.key")
    }

    /// A `roster` command with `args`, then the options that locate the directory.
    fn roster(&self, bin: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(bin);
        command.args(args).arg("--data").arg(&self.data);
        // The engine is the one the header names, whatever the caller's environment or a
        // configuration file says; the URL goes by environment so that its password stays out of
        // process listings.
        command.env_remove("ROSTER_CONFIG");
        match &self.database_url {
            Some(url) => {
                command.env("ROSTER_DATABASE_URL", url).arg("--secret-key-file").arg(self.key_file());
            }
            None => {
                command.env_remove("ROSTER_DATABASE_URL");
            }
        }
        command
    }

    /// Whether the directory still has to be seeded: a data folder without a database, or a
    /// PostgreSQL database without users. A PostgreSQL database seeded by an earlier run is
    /// reused only with that run's data folder (its keys), and one with other users is refused.
    async fn needs_seeding(&self, users: u32) -> anyhow::Result<bool> {
        let Some(url) = &self.database_url else {
            return Ok(!self.data.join("roster.db").exists());
        };
        // One connection is enough to look, and applying the migrations first is what any
        // `roster` command would do to this database anyway.
        let store = PostgresStore::connect_with_max_connections(url, 1)
            .await
            .context("cannot open the PostgreSQL database given by --database-url")?;
        let count = store.count_users().await;
        let admin = store.get_credentials(ADMIN).await;
        store.close().await;
        let (count, admin) = (count?, admin?.is_some());
        if count == 0 {
            return Ok(true);
        }
        if !admin {
            bail!(
                "the PostgreSQL database holds {count} users but not the benchmark's administrator {ADMIN}: it is \
                 another directory, or its seeding was interrupted; give an empty database"
            );
        }
        if !self.key_file().exists() {
            bail!(
                "the PostgreSQL database was seeded by an earlier run, but {} is missing: pass that run's --data \
                 (it holds the server key and the administrator's app key), or give an empty database",
                self.key_file().display()
            );
        }
        if count != u64::from(users) + 1 {
            eprintln!(
                "The database is seeded already: it holds {count} users with the administrator; --users is ignored."
            );
        }
        Ok(false)
    }

    /// On PostgreSQL, what a server with the default settings does in the background after a
    /// large change: statistics of every table for the planner (autovacuum's analyze) and the
    /// change written out of the log (a checkpoint). Without them the figures would measure a
    /// planner guessing at empty tables, or the load's checkpoint, on a server such as this
    /// machine's, which runs with autovacuum off.
    async fn settle_database(&self) -> anyhow::Result<()> {
        let Some(url) = &self.database_url else { return Ok(()) };
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await?;
        sqlx::query("analyze").execute(&mut conn).await?;
        sqlx::query("checkpoint").execute(&mut conn).await?;
        Ok(())
    }
}

async fn run_roster(bin: &Path, args: &[&str], target: &Target, stdin: Option<&str>) -> anyhow::Result<String> {
    let mut child =
        target.roster(bin, args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
    let mut input = child.stdin.take().context("stdin")?;
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await?;
    }
    drop(input);
    let out = child.wait_with_output().await?;
    if !out.status.success() {
        bail!("roster {args:?} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn start_server(bin: &Path, target: &Target) -> anyhow::Result<(Child, String)> {
    let mut child = target
        .roster(bin, &["serve", "--listen", "127.0.0.1:0"])
        .env("ROSTER_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(rest) = line.strip_prefix("Roster is listening on ") {
            let addr = rest.split_whitespace().next().unwrap_or_default().trim_end_matches('.').to_string();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((child, format!("http://{addr}")));
        }
    }
    bail!("the server stopped before it listened")
}

/// The servers' base URLs, taken in turn as a round-robin load balancer takes its upstreams:
/// each request goes to the next node, whichever client sends it. Sessions live in the
/// database, and cookies are scoped to the host and not the port, so one sign-in serves all.
struct Nodes {
    bases: Vec<String>,
    next: AtomicUsize,
}

impl Nodes {
    /// The URL of `path` (with its query) on the next node.
    fn url(&self, path: &str) -> String {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        format!("{}{path}", self.bases[i])
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    text[from..].find(end).map(|to| &text[from..from + to])
}

/// A client holding the cookies in `jar`.
fn client(jar: &Arc<Jar>) -> anyhow::Result<Client> {
    Ok(Client::builder().cookie_provider(jar.clone()).redirect(Policy::none()).pool_max_idle_per_host(4).build()?)
}

/// Signs the administrator in once, with the authenticator app that administrators need (set
/// up at the first sign-in on a directory, its key kept in `key_file`; codes computed here);
/// returns the cookies and the session's CSRF token, which every client then shares, as tabs
/// of one browser would.
async fn sign_in(nodes: &Nodes, key_file: &Path) -> anyhow::Result<(Arc<Jar>, String)> {
    let jar = Arc::new(Jar::default());
    let client = client(&jar)?;
    let page = client.get(nodes.url("/signin")).send().await?.text().await?;
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").context("csrf")?.to_string();
    let r = client
        .post(nodes.url("/signin"))
        .form(&[("username", ADMIN), ("password", PASSWORD), ("csrf", &csrf), ("next", "")])
        .send()
        .await?;
    if r.status() != StatusCode::SEE_OTHER {
        bail!("sign-in failed: {}", r.status());
    }
    if r.headers().get("location").is_some_and(|l| l == "/signin/verify") {
        let page = client.get(nodes.url("/signin/verify")).send().await?.text().await?;
        let csrf = between(&page, "name=\"csrf\" value=\"", "\"").context("second-step csrf")?.to_string();
        // First run on this data: set the app up and keep its key beside the data for the
        // runs that reuse it.
        let (path, key) = match between(&page, "<code id=\"app-secret\">", "</code>") {
            Some(shown) => {
                let key: String = shown.split_whitespace().collect();
                std::fs::write(key_file, &key).with_context(|| format!("cannot write {}", key_file.display()))?;
                ("/signin/verify/enrol", key)
            }
            None => {
                let key = std::fs::read_to_string(key_file)
                    .with_context(|| format!("the administrator's app key {} is missing", key_file.display()))?;
                wait_for_unused_step(key_file).await?;
                ("/signin/verify/app", key.trim().to_string())
            }
        };
        let secret = totp_rs::Secret::Encoded(key).to_bytes().map_err(|e| anyhow::anyhow!("app key: {e:?}"))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
        let code = roster_domain::mfa::app_code_at(&secret, now);
        let r = client.post(nodes.url(path)).form(&[("csrf", csrf.as_str()), ("app_code", &code)]).send().await?;
        if !r.status().is_success() && r.status() != StatusCode::SEE_OTHER {
            bail!("the second step failed: {}", r.status());
        }
        std::fs::File::options()
            .write(true)
            .open(key_file)
            .and_then(|file| file.set_modified(std::time::SystemTime::now()))
            .with_context(|| format!("cannot record the sign-in on {}", key_file.display()))?;
    }
    let account = client.get(nodes.url("/account")).send().await?.text().await?;
    let csrf = between(&account, "name=\"csrf\" value=\"", "\"").context("session csrf")?.to_string();
    Ok((jar, csrf))
}

/// The server accepts each authenticator code once, so a run that signs in within the same
/// 30-second step as the previous one (whose time the app key file's modification time keeps)
/// would be refused: it waits for the next step instead.
async fn wait_for_unused_step(key_file: &Path) -> anyhow::Result<()> {
    const STEP_SECONDS: u64 = 30;
    let epoch = std::time::UNIX_EPOCH;
    let last = std::fs::metadata(key_file)?.modified()?.duration_since(epoch)?.as_secs() / STEP_SECONDS;
    let now = std::time::SystemTime::now().duration_since(epoch)?.as_secs();
    if now / STEP_SECONDS <= last {
        let wait = (last + 1) * STEP_SECONDS - now;
        eprintln!("Waiting {wait} s for an authenticator code the previous run did not use.");
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    Ok(())
}

fn user_ids(page: &str) -> Vec<String> {
    page.split("<tr><td><a href=\"/admin/users/").skip(1).filter_map(|s| s.get(..36)).map(str::to_string).collect()
}

fn next_link(page: &str) -> Option<String> {
    let end = page.find("\" rel=\"next\"")?;
    let start = page[..end].rfind("href=\"")? + 6;
    Some(page[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

type Clients = Arc<Vec<(Client, String)>>;

/// Runs `total` requests spread over the clients; `path(i)` says what client `i` fetches next.
async fn read_scenario(
    name: &'static str,
    nodes: &Arc<Nodes>,
    clients: &Clients,
    total: usize,
    path: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> Sample {
    let started = Instant::now();
    let per_client = total / clients.len();
    let mut tasks = Vec::new();
    for i in 0..clients.len() {
        let clients = clients.clone();
        let nodes = nodes.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let (client, _) = &clients[i];
            let mut latencies = Vec::with_capacity(per_client);
            let mut errors = 0;
            for _ in 0..per_client {
                let url = nodes.url(&path(i));
                let t = Instant::now();
                match client.get(url).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    collect(name, started, tasks).await
}

pub(crate) async fn collect(
    name: &'static str,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>,
) -> Sample {
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    Sample { name, latencies, elapsed: started.elapsed(), errors, rss_mb: Vec::new() }
}

/// Each client follows next links from the first page, `depth` pages, timing every page.
async fn deep_pages(nodes: &Arc<Nodes>, clients: &Clients, depth: usize) -> Sample {
    let started = Instant::now();
    let orders = ["sort=name&dir=asc", "sort=name&dir=desc", "sort=username&dir=asc", "sort=username&dir=desc"];
    let mut tasks = Vec::new();
    for i in 0..clients.len() {
        let clients = clients.clone();
        let nodes = nodes.clone();
        let mut path = format!("/admin/users?{}", orders[i % orders.len()]);
        tasks.push(tokio::spawn(async move {
            let (client, _) = &clients[i];
            let mut latencies = Vec::new();
            let mut errors = 0;
            for _ in 0..depth {
                let t = Instant::now();
                let Ok(r) = client.get(nodes.url(&path)).send().await else {
                    errors += 1;
                    break;
                };
                let ok = r.status() == StatusCode::OK;
                let body = r.text().await.unwrap_or_default();
                latencies.push(t.elapsed());
                match (ok, next_link(&body)) {
                    (true, Some(next)) => path = next,
                    _ => {
                        errors += usize::from(!ok);
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    collect("Page deep in the list (next links)", started, tasks).await
}

/// Each client saves the contact form of its own users in turn, for `seconds`.
async fn saves(nodes: &Arc<Nodes>, clients: &Clients, ids: &[String], seconds: u64) -> Sample {
    let per_client = ids.len() / clients.len();
    let mut tasks = Vec::new();
    for i in 0..clients.len() {
        let clients = clients.clone();
        let nodes = nodes.clone();
        let mine: Vec<String> = ids[i * per_client..(i + 1) * per_client].to_vec();
        tasks.push(tokio::spawn(async move {
            let (client, csrf) = &clients[i];
            // Learn each user's current version from its form, as a person's browser would.
            let mut versions = Vec::with_capacity(mine.len());
            for id in &mine {
                let page = match client.get(nodes.url(&format!("/admin/users/{id}/contact"))).send().await {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                versions.push(
                    between(&page, "name=\"version\" value=\"", "\"").and_then(|v| v.parse().ok()).unwrap_or(1_i64),
                );
            }
            let started = Instant::now();
            let stop = started + Duration::from_secs(seconds);
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut n = 0_usize;
            while Instant::now() < stop {
                let k = n % mine.len();
                n += 1;
                // A number different from this user's last one, so that every save is a change
                // (a save that changes nothing keeps the version, and the next would conflict).
                let mobile = format!("+1 425 555 {:04}", n % 10_000);
                let version = versions[k].to_string();
                let form = [
                    ("csrf", csrf.as_str()),
                    ("version", version.as_str()),
                    ("display_name", "Bench Person"),
                    ("mobile_phone", mobile.as_str()),
                    ("alternate_email", "bench.person@fabrikam.com"),
                    ("city", "Redmond"),
                ];
                let t = Instant::now();
                match client.post(nodes.url(&format!("/admin/users/{}/contact", mine[k]))).form(&form).send().await {
                    Ok(r) if r.status() == StatusCode::SEE_OTHER => {
                        latencies.push(t.elapsed());
                        versions[k] += 1;
                    }
                    Ok(r) => {
                        errors += 1;
                        eprintln!("saving {} with {form:?} answered {}", mine[k], r.status());
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("saving {} failed: {e}", mine[k]);
                    }
                }
            }
            (latencies, errors, started.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut elapsed = Duration::ZERO;
    for t in tasks {
        if let Ok((l, e, d)) = t.await {
            latencies.extend(l);
            errors += e;
            elapsed = elapsed.max(d);
        }
    }
    Sample { name: "Save contact information (durable)", latencies, elapsed, errors, rss_mb: Vec::new() }
}

/// Records a scenario with the servers' memory right after it.
fn push_measured(results: &mut Vec<Sample>, pids: &[u32], mut sample: Sample) {
    sample.rss_mb = pids.iter().map(|&pid| rss_mb(pid)).collect();
    results.push(sample);
}

/// The resident memory of one `roster serve` process: with PostgreSQL, the database server's
/// own processes are not counted.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The servers' memory in MB: the sum, then each node's share when there are several.
fn rss_cell(per_node: &[Option<f64>]) -> String {
    let values: Vec<f64> = per_node.iter().map(|v| v.unwrap_or_default()).collect();
    let sum: f64 = values.iter().sum();
    if values.len() < 2 {
        return format!("{sum:.0}");
    }
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
    format!("{sum:.0} ({})", parts.join(" + "))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = &args.database_url {
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            bail!("--database-url takes a postgres:// URL; without it the benchmark uses SQLite in the data folder");
        }
    } else if args.nodes > 1 {
        bail!(
            "--nodes {} needs --database-url: several nodes share one PostgreSQL database, while SQLite in a data \
             folder serves one node",
            args.nodes
        );
    }
    let bin = roster_binary()?;
    let temp = tempfile::tempdir()?;
    let target = Target {
        data: args.data.clone().unwrap_or_else(|| temp.path().to_path_buf()),
        database_url: args.database_url.clone(),
    };

    let mut seeding = None;
    if target.needs_seeding(args.users).await? {
        let t = Instant::now();
        run_roster(&bin, &["demo-data", "--users", &args.users.to_string()], &target, None).await?;
        seeding = Some(t.elapsed());
        run_roster(
            &bin,
            &[
                "users",
                "add",
                "--username",
                ADMIN,
                "--display-name",
                "Bench Admin",
                "--role",
                "global-admin",
                "--password-stdin",
            ],
            &target,
            Some(PASSWORD),
        )
        .await?;
    }
    if let Some(rows) = args.import {
        return import::run(&bin, &target, rows).await;
    }
    if args.api {
        return api::run(&bin, &target, args.clients, args.scim_users).await;
    }
    if args.groups {
        return groups::run(&bin, &target).await;
    }
    if args.oidc {
        return oidc::run(&bin, &target, args.clients, args.oidc_seconds).await;
    }
    // One after the other, so that each node finds the schema in place rather than racing to
    // apply it.
    let mut servers = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..args.nodes {
        let (server, base) = start_server(&bin, &target).await?;
        servers.push(server);
        bases.push(base);
    }
    let pids = servers.iter().map(|s| s.id().context("server pid")).collect::<anyhow::Result<Vec<u32>>>()?;
    let rss_start: Vec<Option<f64>> = pids.iter().map(|&pid| rss_mb(pid)).collect();
    let nodes = Arc::new(Nodes { bases, next: AtomicUsize::new(0) });

    let (jar, csrf) = sign_in(&nodes, &target.data.join("bench-admin-app.key")).await?;
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        clients.push((client(&jar)?, csrf.clone()));
    }
    let clients: Clients = Arc::new(clients);

    // Users to open and save: a spread of ids collected from several pages.
    let mut ids = Vec::new();
    let mut path = "/admin/users?sort=username&dir=asc".to_string();
    for _ in 0..20 {
        let page = clients[0].0.get(nodes.url(&path)).send().await?.text().await?;
        ids.extend(user_ids(&page));
        match next_link(&page) {
            Some(next) => path = next,
            None => break,
        }
    }
    ids.retain(|id| !id.is_empty());
    let mut shuffled = ids.clone();
    shuffled.shuffle(&mut rand::thread_rng());

    let mut results: Vec<Sample> = Vec::new();
    push_measured(
        &mut results,
        &pids,
        read_scenario("Active users, first page", &nodes, &clients, args.requests, Arc::new(|_| "/admin/users".into()))
            .await,
    );
    push_measured(
        &mut results,
        &pids,
        read_scenario(
            "Prefix search",
            &nodes,
            &clients,
            args.requests,
            Arc::new(|_| format!("/admin/users?q={}", PREFIXES[rand::thread_rng().gen_range(0..PREFIXES.len())])),
        )
        .await,
    );
    push_measured(&mut results, &pids, deep_pages(&nodes, &clients, args.depth).await);
    let detail_ids = Arc::new(shuffled.clone());
    push_measured(
        &mut results,
        &pids,
        read_scenario(
            "Open a user's details",
            &nodes,
            &clients,
            args.requests,
            Arc::new(move |_| {
                format!("/admin/users/{}", detail_ids[rand::thread_rng().gen_range(0..detail_ids.len())])
            }),
        )
        .await,
    );
    push_measured(&mut results, &pids, saves(&nodes, &clients, &shuffled, args.save_seconds).await);
    let rss_end: Vec<Option<f64>> = pids.iter().map(|&pid| rss_mb(pid)).collect();

    let (node_count, servers_at) = match nodes.bases.len() {
        1 => ("1 node".to_string(), "server at"),
        n => (format!("{n} nodes taking requests in turn"), "servers at"),
    };
    println!(
        "Roster benchmark: {} users, {} concurrent clients, {}, {node_count}, {servers_at} {}",
        args.users,
        args.clients,
        target.engine(),
        nodes.bases.join(", ")
    );
    if let Some(t) = seeding {
        println!("Seeding {} users with `roster demo-data`: {:.1} s", args.users, t.as_secs_f64());
    }
    println!();
    println!("| Scenario | Requests | p50 ms | p95 ms | p99 ms | Requests/s | Errors | Server RSS after, MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &results {
        println!("{}", r.row());
    }
    println!();
    let memory = match pids.len() {
        1 => "Server memory (RSS)".to_string(),
        n => format!("Server memory (RSS, the sum of {n} nodes, then each node)"),
    };
    println!("{memory}: {} MB after start, {} MB after the run", rss_cell(&rss_start), rss_cell(&rss_end));
    if target.database_url.is_some() {
        println!("Server RSS counts the `roster serve` processes only, not PostgreSQL's own processes.");
    }
    drop(servers);
    Ok(())
}
