//! `wrk`, a lean load generator written in C, driven by a Lua script: the client takes little
//! of the machine the server runs on.

use std::path::Path;

use anyhow::{bail, Context};

/// What wrk measured: requests per second, the median and 99th percentile in ms, and the
/// requests answered with an error.
pub(crate) struct WrkRun {
    pub rate: f64,
    pub p50: f64,
    pub p99: f64,
    pub errors: u64,
    pub requests: u64,
}

fn milliseconds(text: &str) -> Option<f64> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        _ => return None,
    })
}

/// Runs wrk against `url` with `script`, `connections` connections on two threads.
pub(crate) fn wrk(
    url: &str,
    script: &Path,
    connections: usize,
    seconds: u64,
    env: &[(&str, String)],
) -> anyhow::Result<WrkRun> {
    let mut command = std::process::Command::new("wrk");
    command
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().context("wrk is not installed: apt-get install wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let line_value = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix)).map(str::trim);
    let rate = line_value("Requests/sec:").and_then(|v| v.parse().ok()).context("wrk's rate")?;
    let p50 = line_value("50%").and_then(milliseconds).context("wrk's median")?;
    let p99 = line_value("99%").and_then(milliseconds).context("wrk's 99th percentile")?;
    let errors = line_value("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let requests = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").and_then(|(n, _)| n.parse().ok()))
        .context("wrk's request count")?;
    Ok(WrkRun { rate, p50, p99, errors, requests })
}
