//! `roster report …`: the figures of the admin center's reports, for scripts and monitoring.

use clap::{Args, Subcommand, ValueEnum};
use roster_domain::readiness::{Readiness, ReadinessReport};
use roster_domain::Actor;

use crate::config::StoreArgs;

/// The `report` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// How many users could reset a forgotten password on their own, and who could not and why.
    Readiness(ReadinessArgs),
}

/// How to print a report.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One header line and one line per figure.
    Csv,
    /// One object, for monitoring.
    Json,
}

/// Options of `roster report readiness`.
#[derive(Args, Debug)]
pub struct ReadinessArgs {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs a `report` subcommand.
pub async fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Readiness(args) => readiness(args).await,
    }
}

async fn readiness(args: ReadinessArgs) -> anyhow::Result<()> {
    let (directory, store) = args.store.open().await?;
    let report = directory.readiness(&Actor::system("roster command line")).await;
    store.close().await;
    print!("{}", render(&report?, args.format)?);
    Ok(())
}

/// The figures as (key, label, value), in the order every format prints them.
fn figures(report: &ReadinessReport) -> Vec<(&'static str, &'static str, u64)> {
    let mut rows = vec![("users", "Active users", report.users)];
    rows.extend(Readiness::ALL.iter().map(|r| (r.code(), r.label(), report.count(*r))));
    rows.extend([
        ("nothing_verified", "Contacts but none verified", report.nothing_verified),
        ("administrators", "Administrators", report.administrators),
        (
            "administrators_not_ready",
            "Administrators without the two methods they need",
            report.administrators_not_ready,
        ),
    ]);
    rows
}

fn render(report: &ReadinessReport, format: Format) -> anyhow::Result<String> {
    let rows = figures(report);
    Ok(match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(report)?),
        Format::Csv => {
            let mut out = csv::Writer::from_writer(Vec::new());
            out.write_record(["figure", "label", "users"])?;
            for (key, label, value) in &rows {
                out.write_record([*key, *label, &value.to_string()])?;
            }
            String::from_utf8(out.into_inner()?)?
        }
        Format::Table => {
            let width = rows.iter().map(|(_, label, _)| label.len()).max().unwrap_or(0);
            let percent = |v: u64| match report.users {
                0 => String::new(),
                n => format!(" ({:.1} %)", v as f64 * 100.0 / n as f64),
            };
            rows.iter()
                .map(|(key, label, value)| {
                    let share = if key.starts_with("administrators") || *key == "users" {
                        String::new()
                    } else {
                        percent(*value)
                    };
                    format!("{label:<width$}  {value:>9}{share}\n")
                })
                .collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ReadinessReport {
        ReadinessReport {
            users: 4,
            ready: 2,
            not_enough: 1,
            only_unverified: 0,
            no_contacts: 1,
            nothing_verified: 2,
            administrators: 2,
            administrators_not_ready: 1,
        }
    }

    #[test]
    fn every_format_carries_every_figure() {
        let table = render(&report(), Format::Table).unwrap();
        assert!(table.contains("Can reset their password") && table.contains("2 (50.0 %)"), "{table}");
        let csv = render(&report(), Format::Csv).unwrap();
        assert!(csv.starts_with("figure,label,users\nusers,Active users,4\nready,"), "{csv}");
        assert_eq!(csv.lines().count(), 9);
        let json: serde_json::Value = serde_json::from_str(&render(&report(), Format::Json).unwrap()).unwrap();
        assert_eq!(json["administrators_not_ready"], 1);
        assert_eq!(json["no_contacts"], 1);
    }
}
