//! `roster-bench --import ROWS`: times `roster users import` on generated files in Microsoft
//! 365's format, into the seeded directory, and reads each run's peak memory.
//!
//! The runs: a dry run, the import that creates every row's user, the same file again (nothing
//! changes), a file that changes every user's mobile phone and replaces their alternate address
//! (each change audited, each old address told), and a dry run of a file four times as long,
//! whose peak memory shows whether reading streams.

use std::io::{Read, Seek, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::Target;

const HEADERS: &str = "User Name,First Name,Last Name,Display Name,Job Title,Department,Office Number,Office Phone,\
Mobile Phone,Fax,Alternate email address,Address,City,State or Province,ZIP or Postal Code,Country or Region,\
Alternate mobile phone";
const FIRST: &[&str] = &["Adele", "Alex", "Diego", "Grady", "Isaiah", "Johanna", "Lee", "Lidia", "Megan", "Nestor"];
const LAST: &[&str] =
    &["Vance", "Wilber", "Siciliani", "Archie", "Langer", "Lorenz", "Gu", "Holloway", "Bowen", "Wilke"];

/// Writes `rows` users to `path`: every column filled, some cells quoted (commas, line breaks).
/// `changed` gives every user another mobile phone and alternate address.
fn generate(path: &Path, rows: u64, changed: bool) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{HEADERS}")?;
    for i in 0..rows {
        let (first, last) = (FIRST[(i % 10) as usize], LAST[(i / 10 % 10) as usize]);
        let (mobile, domain) = if changed {
            (format!("+49 151 {:08}", i % 100_000), "northwind.com")
        } else {
            (format!("+44 7911 {:06}", i % 100_000), "fabrikam.com")
        };
        writeln!(
            out,
            "import.{i:07}@contoso.com,{first},{last},{first} {last} {i},Engineer,Research,\"Building {}, room {}\",\
             +1 425 555 0{:03},{mobile},,{}.{}.{i}@{domain},\"1 Main St\nSuite {}\",Redmond,WA,98052,United States,",
            i % 40,
            i % 300,
            100 + i % 100,
            first.to_lowercase(),
            last.to_lowercase(),
            i % 9 + 1,
        )?;
    }
    out.flush()?;
    Ok(())
}

/// One timed `roster users import`.
struct Run {
    name: &'static str,
    rows: u64,
    elapsed: Duration,
    peak_mb: f64,
    summary: String,
}

/// Runs `roster users import` with `args`, reading the process's peak resident memory as it
/// goes (the kernel's high-water mark, so polling misses nothing but the last moments).
async fn timed(bin: &Path, target: &Target, args: &[&str]) -> anyhow::Result<(Duration, f64, String)> {
    // Problems can run to many lines: into a file, so that a full pipe never stalls the run.
    let mut problems = tempfile::tempfile()?;
    let start = Instant::now();
    let mut child = target.roster(bin, args).stdout(Stdio::piped()).stderr(problems.try_clone()?).spawn()?;
    let pid = child.id().context("import pid")?;
    let mut peak_kb = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = tick.tick() => {
                if let Some(kb) = high_water_kb(pid) {
                    peak_kb = peak_kb.max(kb);
                }
            }
        }
    };
    let elapsed = start.elapsed();
    let out = child.wait_with_output().await?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !status.success() {
        let mut text = String::new();
        problems.rewind()?;
        (&mut problems).take(4096).read_to_string(&mut text)?;
        bail!("roster {args:?} failed: {stdout}\n{text}");
    }
    Ok((elapsed, peak_kb as f64 / 1024.0, stdout.lines().next().unwrap_or_default().to_string()))
}

fn high_water_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the import scenarios and prints their table.
pub async fn run(bin: &Path, target: &Target, rows: u64) -> anyhow::Result<()> {
    let files = tempfile::tempdir()?;
    let new = files.path().join("new.csv");
    let changed = files.path().join("changed.csv");
    let long = files.path().join("long.csv");
    generate(&new, rows, false)?;
    generate(&changed, rows, true)?;
    generate(&long, rows * 4, false)?;
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let (new, changed, long) = (path(&new), path(&changed), path(&long));
    let scenarios: [(&'static str, u64, Vec<&str>); 5] = [
        ("Dry run of new users", rows, vec!["users", "import", "--dry-run", &new]),
        ("Import new users", rows, vec!["users", "import", &new]),
        ("The same file again (unchanged)", rows, vec!["users", "import", &new]),
        ("Change every user's mobile and alternate address", rows, vec!["users", "import", &changed]),
        ("Dry run of a file four times as long", rows * 4, vec!["users", "import", "--dry-run", &long]),
    ];
    let mut runs = Vec::new();
    for (name, count, args) in scenarios {
        eprintln!("{name}…");
        let (elapsed, peak_mb, summary) = timed(bin, target, &args).await?;
        runs.push(Run { name, rows: count, elapsed, peak_mb, summary });
    }
    println!("Imports into the {} directory, `roster users import` in its own process:\n", target.engine());
    println!("| Run | Rows | Seconds | Rows/s | Peak memory (MB) | Summary |");
    println!("|---|---:|---:|---:|---:|---|");
    for r in &runs {
        let secs = r.elapsed.as_secs_f64();
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} | {} |",
            r.name,
            r.rows,
            secs,
            r.rows as f64 / secs,
            r.peak_mb,
            r.summary
        );
    }
    Ok(())
}
