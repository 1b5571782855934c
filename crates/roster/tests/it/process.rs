//! `roster serve` as a separate process, as operators run it: for TLS, configuration and
//! several nodes on one database.

use std::ffi::OsString;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::peers::PATIENCE;

/// A running `roster serve`, stopped when dropped.
pub struct Node {
    /// `http://localhost:port` or `https://…`.
    pub base: String,
    /// What it printed before it listened.
    pub banner: Vec<String>,
    _child: Child,
}

impl Node {
    /// Starts `roster serve --listen 127.0.0.1:0` with the given options and environment, and
    /// waits until it says where it listens.
    pub async fn start(args: &[OsString], env: &[(&str, String)]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("ROSTER_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start roster serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        let base = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.expect("read roster's output") {
                banner.push(line.clone());
                if let Some(rest) = line.strip_prefix("Roster is listening on ") {
                    let url = rest.split(". Sign in at ").nth(1).expect("a sign-in address");
                    return url.trim_end_matches("/signin").to_string();
                }
            }
            panic!("roster serve ended before listening: {banner:?}");
        })
        .await
        .expect("roster serve listens in time");
        // Whatever it prints later (held messages) must not fill the pipe and stall it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node { base, banner, _child: child }
    }
}
