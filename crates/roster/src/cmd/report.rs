//! `roster report …`: the figures of the admin center's reports, for scripts and monitoring.

use clap::{Args, Subcommand, ValueEnum};
use roster_domain::readiness::{Breakdown, Readiness, ReadinessReport};
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
    /// Also count the members of this group (by name or id) apart; repeat for several.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
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
    let actor = Actor::system("roster command line");
    let report = async {
        let groups = directory.groups_named(&actor, "group", &args.groups.join("\n")).await?;
        directory.readiness(&actor, &groups).await
    }
    .await;
    store.close().await;
    print!("{}", render(&report?, args.format)?);
    Ok(())
}

/// The figures as (key, label, value), in the order every format prints them.
fn figures(report: &ReadinessReport) -> Vec<(&'static str, &'static str, u64)> {
    let mut rows = vec![("users", "Active users in the reset scope", report.users)];
    rows.extend(Readiness::ALL.iter().map(|r| (r.code(), r.label(), report.count(*r))));
    rows.extend([
        ("nothing_verified", "Contacts but none verified", report.nothing_verified),
        ("administrators", "Administrators", report.administrators),
        (
            "administrators_not_ready",
            "Administrators without the two methods they need",
            report.administrators_not_ready,
        ),
        ("with_passkey", "With a passkey", report.with_passkey),
        ("only_passkey", "A passkey and no recovery contact", report.only_passkey),
        ("outside_scope", "Active users self-service reset is not enabled for", report.outside_scope),
    ]);
    rows
}

/// The width of a table's column of figures: a count of millions and its share fit.
const COLUMN: usize = 18;

/// The report in `format`: one column of figures for the directory, then one per group.
fn render(report: &Breakdown, format: Format) -> anyhow::Result<String> {
    let mut columns = vec![("users", &report.all)];
    columns.extend(report.groups.iter().map(|g| (g.name.as_str(), &g.report)));
    let rows: Vec<_> = columns.iter().map(|(_, r)| figures(r)).collect();
    Ok(match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(report)?),
        Format::Csv => {
            let mut out = csv::Writer::from_writer(Vec::new());
            out.write_record(["figure", "label"].into_iter().chain(columns.iter().map(|(name, _)| *name)))?;
            for (i, (key, label, _)) in rows[0].iter().enumerate() {
                let values = rows.iter().map(|column| column[i].2.to_string());
                out.write_record([key.to_string(), label.to_string()].into_iter().chain(values))?;
            }
            String::from_utf8(out.into_inner()?)?
        }
        Format::Table => {
            let width = rows[0].iter().map(|(_, label, _)| label.len()).max().unwrap_or(0);
            let cell = |(key, _, value): &(&str, &str, u64), report: &ReadinessReport| {
                let counted = !(key.starts_with("administrators") || ["users", "outside_scope"].contains(key));
                let text = match report.users {
                    n if counted && n > 0 => format!("{value} ({:.1} %)", *value as f64 * 100.0 / n as f64),
                    _ => value.to_string(),
                };
                format!("{text:<COLUMN$}")
            };
            let mut text = String::new();
            if !report.groups.is_empty() {
                let names = columns.iter().enumerate().map(|(i, (name, _))| if i == 0 { "All users" } else { name });
                let names: Vec<String> = names.map(|name| format!("{name:<COLUMN$.COLUMN$}")).collect();
                text.push_str(format!("{:width$}  {}", "", names.join("  ")).trim_end());
                text.push('\n');
            }
            for (i, (_, label, _)) in rows[0].iter().enumerate() {
                let cells: Vec<String> =
                    columns.iter().zip(&rows).map(|((_, r), column)| cell(&column[i], r)).collect();
                text.push_str(format!("{label:<width$}  {}", cells.join("  ")).trim_end());
                text.push('\n');
            }
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use roster_domain::readiness::GroupReadiness;

    use super::*;

    fn report() -> Breakdown {
        let all = ReadinessReport {
            users: 4,
            ready: 2,
            not_enough: 1,
            only_unverified: 0,
            no_contacts: 1,
            nothing_verified: 2,
            administrators: 2,
            administrators_not_ready: 1,
            outside_scope: 3,
            with_passkey: 1,
            only_passkey: 1,
        };
        let staff = ReadinessReport { users: 1, ready: 1, outside_scope: 1, ..ReadinessReport::default() };
        let id = "3f6d3c1e-0b7a-4a53-9d55-6f0e1c9e2a10".parse().unwrap();
        Breakdown { all, groups: vec![GroupReadiness { id, name: "Staff".into(), report: staff }] }
    }

    #[test]
    fn every_format_carries_every_figure_of_the_directory_and_each_group() {
        let table = render(&report(), Format::Table).unwrap();
        let header: Vec<&str> = table.lines().next().unwrap().split("  ").filter(|c| !c.trim().is_empty()).collect();
        assert_eq!(header.iter().map(|c| c.trim()).collect::<Vec<_>>(), ["All users", "Staff"], "{table}");
        assert!(table.contains("Can reset their password") && table.contains("2 (50.0 %)"), "{table}");
        assert!(table.contains("1 (100.0 %)"), "the group's share is of its own members: {table}");
        let csv = render(&report(), Format::Csv).unwrap();
        assert!(
            csv.starts_with("figure,label,users,Staff\nusers,Active users in the reset scope,4,1\nready,"),
            "{csv}"
        );
        assert!(csv.contains("\noutside_scope,Active users self-service reset is not enabled for,3,1\n"), "{csv}");
        assert!(csv.contains("\nonly_passkey,A passkey and no recovery contact,1,0\n"), "{csv}");
        assert_eq!(csv.lines().count(), 12);
        let json: serde_json::Value = serde_json::from_str(&render(&report(), Format::Json).unwrap()).unwrap();
        assert_eq!(json["administrators_not_ready"], 1);
        assert_eq!(json["outside_scope"], 3);
        assert_eq!(json["groups"][0]["name"], "Staff");
        assert_eq!(json["groups"][0]["ready"], 1);
    }
}
