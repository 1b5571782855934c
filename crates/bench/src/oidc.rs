//! `roster-bench --oidc`: the OpenID Connect provider under load, on a settled server.
//!
//! - The cost of signing an ID token with each algorithm, in this process.
//! - Whole browserless sign-ins (authorize, the sign-in page, the password, the code, the token
//!   exchange) with `--clients` clients, and the password hash's share of their time.
//! - Refresh-token and client-credentials grants driven by `wrk`, a lean load generator written
//!   in C, so that the client takes little of the machine the server runs on. Each wrk
//!   connection keeps a refresh-token chain of its own: every response's new refresh token is
//!   the next request's.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use reqwest::cookie::Jar;
use reqwest::{Client, StatusCode};
use roster_domain::oidc::keys::{Keyring, SigningAlg, SigningKey};
use roster_domain::Timestamp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::wrk::wrk;
use crate::{between, client, collect, rss_mb, run_roster, start_server, Sample, Target, PASSWORD};

const REDIRECT: &str = "http://127.0.0.1/callback";
const VERIFIER: &str = "bench-verifier-of-more-than-forty-three-characters-0123456789";

/// The wrk script of the refresh-token grant.
const REFRESH_LUA: &str = include_str!("oidc_refresh.lua");

/// Registers an application that signs people in (consented for the organisation) and may
/// use the client-credentials grant; returns its client id and secret.
async fn register(bin: &Path, target: &Target, alg: SigningAlg) -> anyhow::Result<(String, String)> {
    let name = format!("Benchmark sign-in ({alg})");
    let args = [
        "apps",
        "add",
        "--name",
        &name,
        "--permission",
        "User.Read.All",
        "--redirect-uri",
        REDIRECT,
        "--id-token-alg",
        alg.name(),
        "--admin-consent",
        "--output",
        "json",
    ];
    let printed: Value = serde_json::from_str(&run_roster(bin, &args, target, None).await?)?;
    let field = |name: &str| printed[name].as_str().map(str::to_string).with_context(|| format!("{name} printed"));
    Ok((field("client_id")?, field("client_secret")?))
}

/// Microseconds per ID token signature with each algorithm, over `rounds` signatures.
fn signing_costs(rounds: u32) -> anyhow::Result<Vec<(SigningAlg, f64)>> {
    let now = Timestamp::now();
    let keys = SigningAlg::ALL.map(|alg| SigningKey::generate(alg, now, now)).into_iter().collect::<Result<_, _>>()?;
    let ring = Keyring::load(keys)?;
    let claims = json!({
        "iss": "https://id.example.com", "sub": "6f2d8c1e-0b7a-4a51-9d53-1f3c2b8e4a10",
        "aud": "0e3f7c1a-2b4d-4c6e-8f10-123456789abc", "iat": 1_800_000_000, "exp": 1_800_003_600,
        "auth_time": 1_800_000_000, "amr": ["pwd", "otp", "mfa"], "nonce": "n-0S6_WzA2Mj",
        "name": "Ada Lovelace", "preferred_username": "ada@contoso.com", "email": "ada@contoso.com",
    });
    SigningAlg::ALL
        .into_iter()
        .map(|alg| {
            let started = Instant::now();
            for _ in 0..rounds {
                ring.sign(alg, &claims, now)?;
            }
            Ok((alg, started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)))
        })
        .collect()
}

/// Milliseconds one password verification takes here (the hash every sign-in checks).
fn hash_cost() -> f64 {
    let phc = roster_domain::password::hash(PASSWORD);
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(roster_domain::password::verify(PASSWORD, &phc));
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
}

/// The authorization request of the benchmark's application, with PKCE.
fn authorize_url(base: &str, client_id: &str) -> anyhow::Result<String> {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut url = reqwest::Url::parse(&format!("{base}/oauth2/v2.0/authorize"))?;
    url.query_pairs_mut().extend_pairs([
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile offline_access"),
        ("state", "bench"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    Ok(url.into())
}

fn location(r: &reqwest::Response) -> anyhow::Result<String> {
    Ok(r.headers().get("location").context("a redirect")?.to_str()?.to_string())
}

/// The code in the address the browser lands on.
fn code_of(landed: &str) -> anyhow::Result<String> {
    let query = landed.split_once('?').context("a query")?.1;
    query.split('&').find_map(|p| p.strip_prefix("code=")).map(str::to_string).context("a code")
}

/// Exchanges a code; returns the refresh token.
async fn exchange(http: &Client, base: &str, id: &str, secret: &str, code: &str) -> anyhow::Result<String> {
    let r = http
        .post(format!("{base}/oauth2/v2.0/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await?;
    if r.status() != StatusCode::OK {
        bail!("the code exchange answered {}", r.status());
    }
    let tokens: Value = r.json().await?;
    Ok(tokens["refresh_token"].as_str().context("refresh_token")?.to_string())
}

/// One whole sign-in as a browser and its application make it, from a browser with no cookies.
async fn sign_in_once(base: &str, username: &str, id: &str, secret: &str) -> anyhow::Result<String> {
    let jar = Arc::new(Jar::default());
    sign_in_with(&client(&jar)?, base, username, id, secret).await
}

/// A sign-in in the browser `http`: authorize, the sign-in page, the password, back to
/// authorize for the code, and the application's exchange of it; returns the refresh token.
async fn sign_in_with(http: &Client, base: &str, username: &str, id: &str, secret: &str) -> anyhow::Result<String> {
    let r = http.get(authorize_url(base, id)?).send().await?;
    let page = http.get(format!("{base}{}", location(&r)?)).send().await?.text().await?;
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").context("csrf")?.to_string();
    let next = between(&page, "name=\"next\" value=\"", "\"").context("next")?.replace("&#38;", "&");
    let r = http
        .post(format!("{base}/signin"))
        .form(&[("username", username), ("password", PASSWORD), ("csrf", &csrf), ("next", &next)])
        .send()
        .await?;
    if r.status() != StatusCode::SEE_OTHER {
        bail!("the password was refused: {}", r.status());
    }
    let r = http.get(format!("{base}{}", location(&r)?)).send().await?;
    exchange(http, base, id, secret, &code_of(&location(&r)?)?).await
}

/// `clients` clients signing in for `seconds`, each as its own user.
async fn sign_ins(base: &str, users: &[String], id: &str, secret: &str, seconds: u64) -> Sample {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for user in users {
        let (base, user, id, secret) = (base.to_string(), user.clone(), id.to_string(), secret.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let t = Instant::now();
                match sign_in_once(&base, &user, &id, &secret).await {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    collect("Sign-in: authorize, password, code, token", started, tasks).await
}

/// `count` refresh tokens, each the start of a chain of its own: one person signed in once,
/// then `count` authorization requests answered from that session.
async fn refresh_tokens(base: &str, user: &str, id: &str, secret: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let jar = Arc::new(Jar::default());
    let http = client(&jar)?;
    let mut tokens = vec![sign_in_with(&http, base, user, id, secret).await?];
    while tokens.len() < count {
        let r = http.get(authorize_url(base, id)?).send().await?;
        tokens.push(exchange(&http, base, id, secret, &code_of(&location(&r)?)?).await?);
    }
    Ok(tokens)
}

/// Runs every scenario against one server on `target` and prints the results.
pub async fn run(bin: &Path, target: &Target, clients: usize, seconds: u64) -> anyhow::Result<()> {
    let (id, secret) = register(bin, target, SigningAlg::Rs256).await?;
    let (es_id, es_secret) = register(bin, target, SigningAlg::Es256).await?;
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let mut users = Vec::new();
    for i in 0..=clients {
        let username = format!("oidc.{run}.{i}@contoso.com");
        let args = ["users", "add", "--username", &username, "--display-name", "Sign-in Bench", "--password-stdin"];
        run_roster(bin, &args, target, Some(PASSWORD)).await?;
        users.push(username);
    }
    let signing = signing_costs(2_000)?;
    let hash_ms = hash_cost();

    let (server, base) = start_server(bin, target).await?;
    let pid = server.id().context("server pid")?;
    crate::api::settled(&base).await?;
    let chains_user = users.pop().context("a user for the refresh chains")?;

    let mut signed = sign_ins(&base, &users, &id, &secret, seconds).await;
    signed.rss_mb = vec![rss_mb(pid)];

    let connections = 64;
    let tokens = refresh_tokens(&base, &chains_user, &id, &secret, connections * 2).await?;
    let mut file = tempfile::NamedTempFile::new()?;
    writeln!(file, "{}", tokens.join("\n"))?;
    let mut script = tempfile::Builder::new().suffix(".lua").tempfile()?;
    script.write_all(REFRESH_LUA.as_bytes())?;
    let basic = STANDARD.encode(format!("{id}:{secret}"));
    let env = [
        ("ROSTER_TOKENS", file.path().display().to_string()),
        ("ROSTER_BASIC", basic.clone()),
        ("ROSTER_GRANT", "refresh_token".to_string()),
    ];
    let token_url = format!("{base}/oauth2/v2.0/token");
    let refreshed = wrk(&token_url, script.path(), connections, seconds, &env)?;
    // The same grant for an application that chose ES256: what the grant costs without RSA.
    let es_tokens = refresh_tokens(&base, &chains_user, &es_id, &es_secret, connections * 2).await?;
    let mut es_file = tempfile::NamedTempFile::new()?;
    writeln!(es_file, "{}", es_tokens.join("\n"))?;
    let es_env = [
        ("ROSTER_TOKENS", es_file.path().display().to_string()),
        ("ROSTER_BASIC", STANDARD.encode(format!("{es_id}:{es_secret}"))),
        ("ROSTER_GRANT", "refresh_token".to_string()),
    ];
    let es_refreshed = wrk(&token_url, script.path(), connections, seconds, &es_env)?;
    let env =
        [("ROSTER_TOKENS", String::new()), ("ROSTER_BASIC", basic), ("ROSTER_GRANT", "client_credentials".to_string())];
    let credentials = wrk(&token_url, script.path(), connections, seconds, &env)?;
    let rss = rss_mb(pid);

    println!("Roster OpenID Connect benchmark: {}, 1 node, server at {base}", target.engine());
    println!();
    println!("| Scenario | Requests | p50 ms | p95 ms | p99 ms | Requests/s | Errors | Server RSS after, MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    println!("{}", signed.row());
    println!();
    println!("| Grant (wrk, 2 threads, {connections} connections, {seconds} s) | Requests | p50 ms | p99 ms | Requests/s | Errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    let grants = [
        ("refresh_token (RS256 ID token, rotation)", &refreshed),
        ("refresh_token (ES256 ID token, rotation)", &es_refreshed),
        ("client_credentials", &credentials),
    ];
    for (name, r) in grants {
        println!("| {name} | {} | {:.1} | {:.1} | {:.0} | {} |", r.requests, r.p50, r.p99, r.rate, r.errors);
    }
    println!();
    let rate = signed.latencies.len() as f64 / signed.elapsed.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "Sign-ins: {rate:.1}/s with {} clients. One password verification takes {hash_ms:.1} ms here, so the hash \
         alone holds {:.0} % of the machine's {cores} cores at that rate.",
        users.len(),
        rate * hash_ms / 10.0 / cores
    );
    for (alg, micros) in signing {
        println!("Signing an ID token with {alg}: {micros:.1} µs.");
    }
    println!("Server RSS after the grants: {}.", rss.map_or("unknown".into(), |mb| format!("{mb:.0} MB")));
    drop(server);
    Ok(())
}
