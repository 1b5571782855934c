//! `roster-bench --api`: the standard APIs under load. Registers an application with
//! `roster apps add`, takes a token from `/oauth2/v2.0/token`, waits for the server's start-up
//! recovery-readiness count (a walk over the whole directory, which each node also repeats
//! every 15 minutes) to finish, so that the figures are those of a settled server, then
//!
//! - reads the whole directory through Graph's `@odata.nextLink` paging at `$top=999` (one
//!   client, as paging is sequential), six times, reporting the median of the last five, and
//! - finds users by one of their alternate addresses through Graph's `$filter` and SCIM's
//!   `filter` (up to 2,000 addresses spread over the directory, concurrent clients), and
//! - creates users over SCIM with concurrent clients, each `POST /scim/v2/Users` a complete
//!   resource (name, title, an alternate address, a mobile phone, a department), and
//! - changes users' mobile phones and alternate addresses through Graph's PATCH with `wrk`,
//!   and says how much the data folder holds before and after.

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::wrk::{wrk, WrkRun};
use crate::{collect, rss_mb, run_roster, start_server, Sample, Target};

/// Registers an application holding `permissions` (before the server starts, so that the
/// command never waits for the server's writes); returns its client id and secret.
pub(crate) async fn register(
    bin: &std::path::Path,
    target: &Target,
    permissions: &[&str],
) -> anyhow::Result<(String, String)> {
    let mut args = vec!["apps", "add", "--name", "Benchmark"];
    for permission in permissions {
        args.extend(["--permission", permission]);
    }
    let out = run_roster(bin, &args, target, None).await?;
    let field = |name: &str| {
        out.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).context("roster apps add output")
    };
    Ok((field("Client id:")?, field("Client secret:")?))
}

/// A bearer token for the registered application.
pub(crate) async fn token(base: &str, id: &str, secret: &str) -> anyhow::Result<String> {
    let r = Client::new()
        .post(format!("{base}/oauth2/v2.0/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await?;
    if r.status() != StatusCode::OK {
        bail!("the token endpoint answered {}", r.status());
    }
    let body: Value = r.json().await?;
    Ok(body["access_token"].as_str().context("access_token")?.to_string())
}

/// Waits until the server reports its first recovery-readiness count in `/metrics`; returns
/// how long that took.
pub(crate) async fn settled(base: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = Client::new();
    loop {
        let scrape = client.get(format!("{base}/metrics")).send().await?.text().await?;
        if scrape.lines().any(|l| l.starts_with("roster_recovery_counted_timestamp_seconds ")) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("the server's readiness count did not finish in 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whole reads of the directory measured after the first.
const READ_PASSES: usize = 5;

/// Follows `@odata.nextLink` from the first page to the last; returns the page latencies and
/// how many users came back.
async fn read_all(client: &Client, base: &str, token: &str) -> anyhow::Result<(Sample, usize)> {
    let started = Instant::now();
    let mut url = format!("{base}/v1.0/users?$top=999");
    let mut latencies = Vec::new();
    let mut users = 0;
    loop {
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(token).send().await?;
        if r.status() != StatusCode::OK {
            bail!("page {} answered {}", latencies.len() + 1, r.status());
        }
        let page: Value = r.json().await?;
        latencies.push(t.elapsed());
        users += page["value"].as_array().map_or(0, Vec::len);
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let sample = Sample {
        name: "Graph: read every user, $top=999",
        latencies,
        elapsed: started.elapsed(),
        errors: 0,
        rss_mb: Vec::new(),
    };
    Ok((sample, users))
}

/// Every user's id, and every user's first alternate address, read page by page through Graph
/// (untimed).
async fn ids_and_addresses(client: &Client, base: &str, token: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut url = format!("{base}/v1.0/users?$top=999&$select=id,otherMails");
    let (mut ids, mut addresses) = (Vec::new(), Vec::new());
    loop {
        let page: Value = client.get(&url).bearer_auth(token).send().await?.error_for_status()?.json().await?;
        let listed = page["value"].as_array().map_or(&[][..], Vec::as_slice);
        ids.extend(listed.iter().filter_map(|u| u["id"].as_str().map(str::to_string)));
        addresses.extend(listed.iter().filter_map(|u| u["otherMails"][0].as_str().map(str::to_string)));
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => return Ok((ids, addresses)),
        }
    }
}

/// The wrk script of Graph's PATCH.
const PATCH_LUA: &str = include_str!("graph_patch.lua");
/// How long the PATCHes run, and on how many connections (as a script's workers would).
const PATCH_SECONDS: u64 = 10;
const PATCH_CONNECTIONS: usize = 8;

/// Graph PATCHes of `ids`' contacts with wrk for [`PATCH_SECONDS`].
fn patch_with_wrk(base: &str, token: &str, ids: &[String]) -> anyhow::Result<WrkRun> {
    let mut listed = tempfile::NamedTempFile::new()?;
    listed.write_all(ids.join("\n").as_bytes())?;
    let mut script = tempfile::Builder::new().suffix(".lua").tempfile()?;
    script.write_all(PATCH_LUA.as_bytes())?;
    let env = [("ROSTER_IDS", listed.path().display().to_string()), ("ROSTER_TOKEN", token.to_string())];
    wrk(base, script.path(), PATCH_CONNECTIONS, PATCH_SECONDS, &env)
}

/// The bytes of the files in `folder` (the database, its log and the keys).
fn folder_bytes(folder: &std::path::Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(folder)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            bytes += meta.len();
        }
    }
    Ok(bytes)
}

/// Addresses each lookup scenario asks for: spread over the whole directory, the same ones
/// for every run on the same directory.
const LOOKUPS: usize = 2_000;

/// `clients` clients share the GETs of `urls`, each taking the next until none is left; a
/// response that is not 200 or for which `found` is false counts as an error.
async fn look_up(
    name: &'static str,
    token: &str,
    clients: usize,
    urls: Vec<String>,
    found: fn(&Value) -> bool,
) -> Sample {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let urls = Arc::new(urls);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, urls, token) = (next.clone(), urls.clone(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let client = Client::new();
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while let Some(url) = urls.get(next.fetch_add(1, Ordering::Relaxed)) {
                let t = Instant::now();
                let answer = match client.get(url).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == StatusCode::OK => r.json::<Value>().await.ok(),
                    _ => None,
                };
                match answer {
                    Some(body) if found(&body) => latencies.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    collect(name, started, tasks).await
}

/// Looks up users by one of their alternate addresses, through Graph's `$filter` and SCIM's
/// `filter`, each answer holding the user.
async fn by_alternate_address(base: &str, token: &str, clients: usize, addresses: &[String]) -> [Sample; 2] {
    let step = (addresses.len() / LOOKUPS).max(1);
    let chosen: Vec<&String> = addresses.iter().step_by(step).take(LOOKUPS).collect();
    let url = |path: &str, name: &str, value: String| {
        reqwest::Url::parse_with_params(&format!("{base}{path}"), [(name, value)]).map(String::from).unwrap_or_default()
    };
    let graph = chosen.iter().map(|a| url("/v1.0/users", "$filter", format!("otherMails/any(x:x eq '{a}')"))).collect();
    let scim = chosen
        .iter()
        .map(|a| url("/scim/v2/Users", "filter", format!("emails[type eq \"other\" and value eq \"{a}\"]")))
        .collect();
    [
        look_up("Graph: find a user by an alternate address", token, clients, graph, |b| {
            b["value"].as_array().is_some_and(|v| !v.is_empty())
        })
        .await,
        look_up("SCIM: find a user by an alternate address", token, clients, scim, |b| {
            b["totalResults"].as_u64().is_some_and(|n| n > 0)
        })
        .await,
    ]
}

/// A complete SCIM user; `run` keeps the names of each run apart, so that runs on one seeded
/// folder never collide.
fn scim_user(run: u64, i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": format!("scim.{run}.{i:07}@contoso.com"),
        "active": true,
        "displayName": format!("Scim User {i}"),
        "name": {"givenName": "Scim", "familyName": format!("User {i}")},
        "title": "Engineer",
        "emails": [{"type": "work", "primary": true, "value": format!("scim.{run}.{i:07}@contoso.com")},
                   {"type": "other", "value": format!("scim.{i}@fabrikam.com")}],
        "phoneNumbers": [{"type": "mobile", "value": format!("+44 7911 {:06}", i % 1_000_000)}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Research"}
    })
}

/// `clients` clients share `total` creations, each taking the next number until none is left.
async fn create_over_scim(base: &str, token: &str, clients: usize, total: usize) -> Sample {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, base, token) = (next.clone(), base.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let client = Client::new();
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                let sent = client
                    .post(format!("{base}/scim/v2/Users"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(scim_user(run, i).to_string())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    collect("SCIM: create a user", started, tasks).await
}

/// Runs both API scenarios against one server on `target` and prints their table.
pub async fn run(bin: &std::path::Path, target: &Target, clients: usize, scim_users: usize) -> anyhow::Result<()> {
    let (id, secret) = register(bin, target, &["User.ReadWrite.All"]).await?;
    let (server, base) = start_server(bin, target).await?;
    let pid = server.id().context("server pid")?;
    let token = token(&base, &id, &secret).await?;
    let waited = settled(&base).await?;
    // The first pass also warms the server's caches and the pages of the database: the figures
    // are the passes after it.
    let client = Client::new();
    let (cold, _) = read_all(&client, &base, &token).await?;
    let mut passes = Vec::with_capacity(READ_PASSES);
    for _ in 0..READ_PASSES {
        passes.push(read_all(&client, &base, &token).await?);
    }
    passes.sort_by_key(|(sample, _)| sample.elapsed);
    let (mut read, users) = passes.swap_remove(READ_PASSES / 2);
    read.rss_mb = vec![rss_mb(pid)];
    let (ids, addresses) = ids_and_addresses(&Client::new(), &base, &token).await?;
    let mut found = by_alternate_address(&base, &token, clients, &addresses).await;
    for sample in &mut found {
        sample.rss_mb = vec![rss_mb(pid)];
    }
    let mut created = create_over_scim(&base, &token, clients, scim_users).await;
    created.rss_mb = vec![rss_mb(pid)];
    let before = folder_bytes(&target.data)?;
    let patched = patch_with_wrk(&base, &token, &ids)?;
    let patched_rss = rss_mb(pid);
    let after = folder_bytes(&target.data)?;

    println!("Roster API benchmark: {}, 1 node, server at {base}", target.engine());
    println!();
    println!("The server's start-up readiness count ended {:.1} s after the token was issued.", waited.as_secs_f64());
    println!();
    println!("| Scenario | Requests | p50 ms | p95 ms | p99 ms | Requests/s | Errors | Server RSS after, MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    println!("{}", read.row());
    for sample in &found {
        println!("{}", sample.row());
    }
    println!("{}", created.row());
    println!();
    println!(
        "Read {users} users in {} pages in {:.0} ms: {:.0} users/s (the median of {READ_PASSES} passes after a first \
         one of {:.0} ms).",
        read.latencies.len(),
        read.elapsed.as_secs_f64() * 1000.0,
        users as f64 / read.elapsed.as_secs_f64(),
        cold.elapsed.as_secs_f64() * 1000.0
    );
    println!(
        "Created {} users over SCIM with {clients} clients in {:.1} s: {:.0} users/s ({} errors).",
        created.latencies.len(),
        created.elapsed.as_secs_f64(),
        created.latencies.len() as f64 / created.elapsed.as_secs_f64(),
        created.errors
    );
    println!(
        "Graph PATCH of a mobile phone and an alternate address (wrk, 2 threads, {PATCH_CONNECTIONS} connections, \
         {PATCH_SECONDS} s): {} requests, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, {} errors; server RSS after {:.0} MB.",
        patched.requests,
        patched.rate,
        patched.p50,
        patched.p99,
        patched.errors,
        patched_rss.unwrap_or_default()
    );
    if target.database_url.is_none() {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        println!(
            "Data folder: {:.1} MiB for {} users before the PATCHes ({:.0} bytes a user), {:.1} MiB after \
             ({:.0} bytes a PATCH).",
            mib(before),
            ids.len(),
            before as f64 / ids.len() as f64,
            mib(after),
            after.saturating_sub(before) as f64 / patched.requests.max(1) as f64
        );
    }
    drop(server);
    Ok(())
}
