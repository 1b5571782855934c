//! `roster-bench --groups`: groups at scale, through the APIs provisioning clients use.
//!
//! On the seeded directory, once the server has settled (its start-up readiness count done), it
//! creates a group and fills it with 100,000 users in SCIM PATCH
//! requests of 1,000 (the first 10,000 timed apart, as the target names them), nests it five
//! levels deep, and puts one user in 1,000 groups; then it times
//!
//! - pages of the big group's members, and of its members at depth five (`transitiveMembers`
//!   of the outermost group), by `@odata.nextLink`;
//! - `memberOf` and `transitiveMemberOf` of the user in 1,000 groups;
//! - the reset flow's page (`GET /reset/verify`, which checks the reset scope) for a member
//!   five levels down, with self-service reset enabled for everyone and then for the
//!   outermost group only, and for the user in 1,000 groups, so that the difference is the
//!   policy check;
//! - with 100,000 more groups added (Graph `POST /v1.0/groups`, eight clients), the admin
//!   center's Active groups list, its search by the leading letters of a name, and Graph's
//!   `startswith(displayName, …)`, beside Active users' own search on the same server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::cookie::Jar;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::{between, rss_mb, sign_in, start_server, Nodes, Sample, Target};

/// Members of the big group.
const BIG: usize = 100_000;
/// Members per SCIM PATCH request.
const BATCH: usize = 1_000;
/// Groups the one user is in.
const MANY: usize = 1_000;
/// Nesting above the big group.
const DEPTH: usize = 5;
/// Requests per read scenario.
const READS: usize = 1_000;
/// Groups added for the list scenarios.
const LISTED: usize = 100_000;
/// Clients adding them at once.
const CREATORS: usize = 8;
/// The words listed groups' names start with, as teams, functions and places do, with the
/// leading letters searches type.
const GROUP_WORDS: [(&str, &str); 12] = [
    ("Sales", "sal"),
    ("Marketing", "mar"),
    ("Finance", "fin"),
    ("Engineering", "eng"),
    ("Support", "sup"),
    ("Legal", "leg"),
    ("Research", "res"),
    ("Operations", "ope"),
    ("Design", "des"),
    ("Security", "sec"),
    ("Project", "pro"),
    ("Region", "reg"),
];

/// The API calls of the run, with its token.
#[derive(Clone)]
struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) };
        let mut request = self.client.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let r = request.send().await?;
        let status = r.status();
        let text = r.text().await?;
        Ok((status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) }))
    }

    async fn group(&self, name: &str, members: &[String]) -> anyhow::Result<String> {
        let binds: Vec<String> = members.iter().map(|m| format!("{}/v1.0/directoryObjects/{m}", self.base)).collect();
        let body = json!({"displayName": name, "mailEnabled": false, "mailNickname": "bench", "securityEnabled": true,
                          "members@odata.bind": binds});
        let (status, group) = self.call(reqwest::Method::POST, "/v1.0/groups", Some(body)).await?;
        if status != StatusCode::CREATED {
            bail!("creating {name} answered {status}: {group}");
        }
        Ok(group["id"].as_str().context("group id")?.to_string())
    }

    /// The first `n` user ids in Graph's order.
    async fn user_ids(&self, n: usize) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(n);
        let mut url = format!("{}/v1.0/users?$top=999&$select=id", self.base);
        while ids.len() < n {
            let (status, page) = self.call(reqwest::Method::GET, &url, None).await?;
            if status != StatusCode::OK {
                bail!("listing users answered {status}");
            }
            ids.extend(
                page["value"].as_array().context("value")?.iter().filter_map(|u| u["id"].as_str()).map(str::to_string),
            );
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
        }
        ids.truncate(n);
        Ok(ids)
    }
}

/// Times `READS` requests of one path (or of paths the closure makes), one client.
async fn timed(name: &'static str, mut next: impl FnMut(usize) -> String, api: &Api) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(READS);
    let mut errors = 0;
    for i in 0..READS {
        let url = next(i);
        let t = Instant::now();
        let (status, _) = api.call(reqwest::Method::GET, &url, None).await?;
        if status == StatusCode::OK {
            latencies.push(t.elapsed());
        } else {
            errors += 1;
        }
    }
    Ok(Sample { name, latencies, elapsed: started.elapsed(), errors, rss_mb: Vec::new() })
}

/// Adds `LISTED` groups named after `GROUP_WORDS`, with `CREATORS` clients at once.
async fn add_listed_groups(api: &Api) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut creators = Vec::new();
    for creator in 0..CREATORS {
        let api = api.clone();
        creators.push(tokio::spawn(async move {
            for i in (creator..LISTED).step_by(CREATORS) {
                let (word, _) = GROUP_WORDS[i % GROUP_WORDS.len()];
                api.group(&format!("{word} {:06}", i / GROUP_WORDS.len()), &[]).await?;
            }
            anyhow::Ok(())
        }));
    }
    for creator in creators {
        creator.await??;
    }
    Ok(started.elapsed())
}

/// Times `READS` admin center pages that `next` names, one signed-in client.
async fn pages(
    name: &'static str,
    admin: &Client,
    base: &str,
    mut next: impl FnMut(usize) -> String,
) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(READS);
    for i in 0..READS {
        let t = Instant::now();
        let r = admin.get(format!("{base}{}", next(i))).send().await?;
        if r.status() != StatusCode::OK {
            bail!("{name}: {}", r.status());
        }
        let _ = r.bytes().await?;
        latencies.push(t.elapsed());
    }
    Ok(Sample { name, latencies, elapsed: started.elapsed(), errors: 0, rss_mb: Vec::new() })
}

/// Walks member pages by `@odata.nextLink`, starting over at the end, for `READS` pages.
async fn member_pages(name: &'static str, first: String, api: &Api) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(READS);
    let mut url = first.clone();
    for _ in 0..READS {
        let t = Instant::now();
        let (status, page) = api.call(reqwest::Method::GET, &url, None).await?;
        if status != StatusCode::OK {
            bail!("{name}: {status}");
        }
        latencies.push(t.elapsed());
        url = page["@odata.nextLink"].as_str().map_or_else(|| first.clone(), str::to_string);
    }
    Ok(Sample { name, latencies, elapsed: started.elapsed(), errors: 0, rss_mb: Vec::new() })
}

/// Starts a reset for `username` in a fresh session and times the page that checks the scope.
async fn reset_pages(name: &'static str, base: &str, username: &str) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(READS);
    let client = Client::builder().cookie_provider(Arc::new(Jar::default())).redirect(Policy::none()).build()?;
    let page = client.get(format!("{base}/reset")).send().await?.text().await?;
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").context("reset csrf")?.to_string();
    let r =
        client.post(format!("{base}/reset")).form(&[("csrf", csrf.as_str()), ("username", username)]).send().await?;
    if r.status() != StatusCode::SEE_OTHER {
        bail!("starting a reset answered {}", r.status());
    }
    for _ in 0..READS {
        let t = Instant::now();
        let r = client.get(format!("{base}/reset/verify")).send().await?;
        if r.status() != StatusCode::OK {
            bail!("{name}: {}", r.status());
        }
        let _ = r.bytes().await?;
        latencies.push(t.elapsed());
    }
    Ok(Sample { name, latencies, elapsed: started.elapsed(), errors: 0, rss_mb: Vec::new() })
}

/// Sets the reset scope through the admin center's settings form.
async fn reset_scope(admin: &Client, csrf: &str, base: &str, enabled_for: &str, groups: &str) -> anyhow::Result<()> {
    let form = [("csrf", csrf), ("enabled_for", enabled_for), ("reset_groups", groups)];
    let r = admin.post(format!("{base}/admin/settings/reset-scope")).form(&form).send().await?;
    if r.status() != StatusCode::SEE_OTHER {
        bail!("saving the reset scope answered {}", r.status());
    }
    Ok(())
}

/// Runs the groups scenarios against one server on `target` and prints their table.
pub async fn run(bin: &std::path::Path, target: &Target) -> anyhow::Result<()> {
    let (id, secret) = crate::api::register(bin, target, &["Group.ReadWrite.All", "User.Read.All"]).await?;
    let (server, base) = start_server(bin, target).await?;
    let pid = server.id().context("server pid")?;
    let api = Api { client: Client::new(), token: crate::api::token(&base, &id, &secret).await?, base: base.clone() };
    // The server's start-up readiness count walks the whole directory: wait it out, so that
    // the figures are those of a settled server.
    crate::api::settled(&base).await?;
    target.settle_database().await?;
    let users = api.user_ids(BIG + MANY + 2).await?;
    if users.len() < BIG + 2 {
        bail!("the directory holds {} users; the groups benchmark needs at least {}", users.len(), BIG + 2);
    }

    // Fill the big group in SCIM PATCH requests of 1,000.
    let big = api.group("Bench big group", &[]).await?;
    let mut adds = Vec::new();
    let started = Instant::now();
    let mut first_ten = Duration::ZERO;
    for (n, chunk) in users[..BIG].chunks(BATCH).enumerate() {
        let values: Vec<Value> = chunk.iter().map(|u| json!({"value": u})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "Add", "path": "members", "value": values}]});
        let t = Instant::now();
        let r = api
            .client
            .patch(format!("{base}/scim/v2/Groups/{big}"))
            .bearer_auth(&api.token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await?;
        if r.status() != StatusCode::NO_CONTENT {
            bail!("adding batch {n} answered {}: {}", r.status(), r.text().await?);
        }
        adds.push(t.elapsed());
        if n + 1 == 10 {
            first_ten = started.elapsed();
        }
    }
    let all_adds = started.elapsed();
    let adds = Sample {
        name: "SCIM PATCH: add 1,000 members",
        latencies: adds,
        elapsed: all_adds,
        errors: 0,
        rss_mb: vec![rss_mb(pid)],
    };

    // Nest it five levels deep: outer ⊃ … ⊃ big.
    let mut inner = big.clone();
    for level in (1..=DEPTH).rev() {
        inner = api.group(&format!("Bench level {level}"), &[inner]).await?;
    }
    let outer = inner;

    // One user in 1,000 groups, in batches of 20 binds... of one member each.
    let member = &users[BIG];
    for i in 0..MANY {
        api.group(&format!("Bench many {i:04}"), std::slice::from_ref(member)).await?;
    }

    target.settle_database().await?;
    let mut rows = vec![adds];
    rows.push(
        member_pages(
            "Graph: a page of 100 members of a 100,000-member group",
            format!("{base}/v1.0/groups/{big}/members?$top=100"),
            &api,
        )
        .await?,
    );
    rows.push(
        member_pages(
            "Graph: a page of 100 transitive members, 5 levels up",
            format!("{base}/v1.0/groups/{outer}/transitiveMembers?$top=100"),
            &api,
        )
        .await?,
    );
    rows.push(
        timed("Graph: memberOf of a user in 1,000 groups", |_| format!("/v1.0/users/{member}/memberOf"), &api).await?,
    );
    rows.push(
        timed(
            "Graph: transitiveMemberOf of a user in 1,000 groups",
            |_| format!("/v1.0/users/{member}/transitiveMemberOf"),
            &api,
        )
        .await?,
    );

    // The reset flow's page, without and with a scope five levels up.
    let (_, deep_user) =
        api.call(reqwest::Method::GET, &format!("/v1.0/users/{}?$select=userPrincipalName", users[0]), None).await?;
    let (_, many_user) =
        api.call(reqwest::Method::GET, &format!("/v1.0/users/{member}?$select=userPrincipalName",), None).await?;
    let deep_name = deep_user["userPrincipalName"].as_str().context("upn")?.to_string();
    let many_name = many_user["userPrincipalName"].as_str().context("upn")?.to_string();
    let nodes = Nodes { bases: vec![base.clone()], next: std::sync::atomic::AtomicUsize::new(0) };
    let (jar, csrf) = sign_in(&nodes, &target.data.join("bench-admin-app.key")).await?;
    let admin = crate::client(&jar)?;
    reset_scope(&admin, &csrf, &base, "all", "").await?;
    rows.push(reset_pages("Reset page, enabled for all (member 5 levels down)", &base, &deep_name).await?);
    reset_scope(&admin, &csrf, &base, "selected", &outer).await?;
    rows.push(reset_pages("Reset page, enabled for a group 5 levels up", &base, &deep_name).await?);
    rows.push(reset_pages("Reset page, enabled for a group, user in 1,000 groups", &base, &many_name).await?);
    reset_scope(&admin, &csrf, &base, "all", "").await?;

    let listing = add_listed_groups(&api).await?;
    target.settle_database().await?;
    let prefix = |i: usize| GROUP_WORDS[i % GROUP_WORDS.len()].1;
    rows.push(pages("Active groups, first page (100,000+ groups)", &admin, &base, |_| "/admin/groups".into()).await?);
    rows.push(
        pages("Active groups, search by leading letters", &admin, &base, |i| format!("/admin/groups?q={}", prefix(i)))
            .await?,
    );
    rows.push(
        timed(
            "Graph: groups, startswith(displayName) $top=100",
            |i| format!("/v1.0/groups?$filter=startswith(displayName,'{}')&$top=100", prefix(i)),
            &api,
        )
        .await?,
    );
    rows.push(
        pages("Active users, search by leading letters (for comparison)", &admin, &base, |i| {
            format!("/admin/users?q={}", crate::PREFIXES[i % crate::PREFIXES.len()])
        })
        .await?,
    );
    if let Some(last) = rows.last_mut() {
        last.rss_mb = vec![rss_mb(pid)];
    }

    println!("Roster groups benchmark: {}, 1 node, server at {base}", target.engine());
    println!();
    println!("| Scenario | Requests | p50 ms | p95 ms | p99 ms | Requests/s | Errors | Server RSS after, MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!("{}", row.row());
    }
    println!();
    println!(
        "Added the first 10,000 members in {:.2} s ({:.0} memberships/s) and all {BIG} in {:.1} s ({:.0} memberships/s).",
        first_ten.as_secs_f64(),
        10_000.0 / first_ten.as_secs_f64(),
        all_adds.as_secs_f64(),
        BIG as f64 / all_adds.as_secs_f64()
    );
    println!(
        "Added {LISTED} more groups with {CREATORS} clients in {:.1} s ({:.0} groups/s).",
        listing.as_secs_f64(),
        LISTED as f64 / listing.as_secs_f64()
    );
    drop(server);
    Ok(())
}
