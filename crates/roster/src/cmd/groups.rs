//! `roster groups …`: security groups and their members from the command line.

use anyhow::Context;
use clap::{Args, Subcommand};
use roster_domain::csv_groups;
use roster_domain::directory::{GroupPageQuery, NewGroup};
use roster_domain::group::{GroupId, GroupInput, MemberId};
use roster_domain::{Actor, Directory, DomainError};

use crate::config::StoreArgs;

/// The `groups` subcommands.
#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// Add a security group and print its id.
    Add(AddArgs),
    /// List active groups by name, or those whose names start with --search.
    List(ListArgs),
    /// List a group's members (users and groups), or with --transitive its members at any depth.
    Members(MembersArgs),
    /// Add users (by username) or groups (by id) to a group.
    AddMember(ChangeArgs),
    /// Remove users (by username) or groups (by id) from a group.
    RemoveMember(ChangeArgs),
    /// Write every group's user members as CSV (`Group,User Name`) to FILE, or `-` for standard output.
    Export(ExportArgs),
    /// Add the memberships a CSV file lists (`Group,User Name`): all of them, or none if any row is at fault.
    Import(ImportArgs),
}

/// Options of `roster groups export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Where to write: a new file, or `-`.
    file: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster groups import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The CSV file.
    file: std::path::PathBuf,
    /// Check the file and report what it would add, changing nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster groups add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The group's name.
    #[arg(long)]
    name: String,
    /// What the group is for.
    #[arg(long, default_value = "")]
    description: String,
    /// The email nickname; made from the name when left out.
    #[arg(long, default_value = "")]
    mail_nickname: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster groups list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only groups whose names start with this.
    #[arg(long, default_value = "")]
    search: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster groups members`.
#[derive(Args, Debug)]
pub struct MembersArgs {
    /// The group: its id, or a name only one group has.
    group: String,
    /// Members of member groups too, at any depth.
    #[arg(long)]
    transitive: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster groups add-member` and `remove-member`.
#[derive(Args, Debug)]
pub struct ChangeArgs {
    /// The group: its id, or a name only one group has.
    group: String,
    /// Usernames of users, or ids of groups; up to 1,000.
    #[arg(required = true)]
    members: Vec<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Groups and members read per page while listing.
const PAGE: u32 = 500;

/// Runs a `groups` subcommand, as the command line itself (with every permission, audited so).
pub async fn run(command: GroupsCommand) -> anyhow::Result<()> {
    let actor = Actor::system("roster command line");
    match command {
        GroupsCommand::Add(args) => {
            let (directory, store) = args.store.open().await?;
            let input = GroupInput {
                display_name: args.name.clone(),
                description: args.description.clone(),
                mail_nickname: args.mail_nickname.clone(),
            };
            let result = directory.create_group(&actor, NewGroup { input, ..NewGroup::default() }).await;
            store.close().await;
            let group = result.map_err(explain)?;
            println!("Added {} ({}), email nickname {}.", group.display_name, group.id, group.mail_nickname);
            Ok(())
        }
        GroupsCommand::List(args) => {
            let (directory, store) = args.store.open().await?;
            let result = list(&directory, &actor, &args.search).await;
            store.close().await;
            result
        }
        GroupsCommand::Members(args) => {
            let (directory, store) = args.store.open().await?;
            let result = members(&directory, &actor, &args.group, args.transitive).await;
            store.close().await;
            result
        }
        GroupsCommand::AddMember(args) | GroupsCommand::RemoveMember(args) if args.members.len() > 1000 => {
            anyhow::bail!("give at most 1,000 members at a time; there were {}", args.members.len())
        }
        GroupsCommand::AddMember(args) => {
            let (directory, store) = args.store.open().await?;
            let result = change(&directory, &actor, &args, true).await;
            store.close().await;
            result
        }
        GroupsCommand::RemoveMember(args) => {
            let (directory, store) = args.store.open().await?;
            let result = change(&directory, &actor, &args, false).await;
            store.close().await;
            result
        }
        GroupsCommand::Export(args) => {
            let (directory, store) = args.store.open().await?;
            let rows = directory.export_memberships(&actor).await;
            store.close().await;
            let rows = rows?;
            let pairs = rows.iter().map(|(g, u)| (g.as_str(), u.as_str()));
            if args.file == "-" {
                csv_groups::write_memberships(std::io::stdout().lock(), pairs)?;
            } else {
                let file =
                    std::fs::File::options().write(true).create_new(true).open(&args.file).with_context(|| {
                        format!("cannot create {} (an existing file is never overwritten)", args.file)
                    })?;
                csv_groups::write_memberships(std::io::BufWriter::new(file), pairs)?;
                eprintln!("Wrote {} memberships to {}.", rows.len(), args.file);
            }
            Ok(())
        }
        GroupsCommand::Import(args) => {
            let file =
                std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
            let rows = match csv_groups::read_memberships(std::io::BufReader::new(file)) {
                Ok(rows) => rows,
                Err(problems) => {
                    for p in &problems {
                        eprintln!("line {}: {}", p.line, p.message);
                    }
                    anyhow::bail!("{} problems in the file; nothing was changed", problems.len());
                }
            };
            let (directory, store) = args.store.open().await?;
            let report = directory.import_memberships(&actor, &rows, args.dry_run).await;
            store.close().await;
            let report = report?;
            for p in &report.problems {
                eprintln!("line {}: {}", p.line, p.message);
            }
            if !report.problems.is_empty() {
                anyhow::bail!("{} rows can't be applied; nothing was changed", report.problems.len());
            }
            let verb = if report.applied || report.added == 0 { "Added" } else { "Would add" };
            println!("{verb} {} memberships; {} were there already.", report.added, report.already);
            Ok(())
        }
    }
}

async fn list(directory: &Directory, actor: &Actor, search: &str) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let query =
            GroupPageQuery { search: Some(search.to_string()), after, limit: PAGE, ..GroupPageQuery::default() };
        let page = directory.group_page(actor, query).await?;
        for g in &page.groups {
            println!("{}\t{}\t{}", g.id, g.display_name, g.mail_nickname);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

async fn members(directory: &Directory, actor: &Actor, group: &str, transitive: bool) -> anyhow::Result<()> {
    let id = group_of(directory, actor, group).await?;
    let mut after = None;
    loop {
        let page = directory.members(actor, id, transitive, after, PAGE).await.map_err(explain)?;
        for m in &page.members {
            match m.id {
                MemberId::User(u) => {
                    println!("user\t{u}\t{}\t{}", m.username.clone().unwrap_or_default(), m.display_name)
                }
                MemberId::Group(g) => println!("group\t{g}\t\t{}", m.display_name),
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

async fn change(directory: &Directory, actor: &Actor, args: &ChangeArgs, add: bool) -> anyhow::Result<()> {
    let group = group_of(directory, actor, &args.group).await?;
    let mut members = Vec::with_capacity(args.members.len());
    for name in &args.members {
        members.push(match name.parse::<GroupId>() {
            Ok(id) if !name.contains('@') => MemberId::Group(id),
            _ => match directory.user_by_key(actor, name).await {
                Ok(user) => MemberId::User(user.id),
                Err(DomainError::NotFound(_)) => anyhow::bail!("there is no user {name}"),
                Err(e) => return Err(e.into()),
            },
        });
    }
    let changed = if add {
        directory.add_members(actor, group, &members).await
    } else {
        directory.remove_members(actor, group, &members).await
    }
    .map_err(explain)?;
    let (done, unchanged) = if add { ("Added", "already members") } else { ("Removed", "not members") };
    println!("{done} {} of {}; {} were {unchanged}.", changed.len(), members.len(), members.len() - changed.len());
    Ok(())
}

/// A group by id, or by a name only one active group has.
async fn group_of(directory: &Directory, actor: &Actor, text: &str) -> anyhow::Result<GroupId> {
    match directory.groups_named(actor, "group", text).await {
        Ok(ids) if ids.len() == 1 => Ok(ids[0]),
        Ok(_) => anyhow::bail!("name one group"),
        Err(e) => Err(explain(e)),
    }
}

/// Field errors as sentences, with the option that carries them.
fn explain(e: DomainError) -> anyhow::Error {
    match e {
        DomainError::Invalid(errors) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| match e.field.as_str() {
                    "display_name" => format!("--name: {}", e.message),
                    "mail_nickname" => format!("--mail-nickname: {}", e.message),
                    "description" => format!("--description: {}", e.message),
                    _ => e.message.clone(),
                })
                .collect();
            anyhow::anyhow!("{}", lines.join("\n"))
        }
        DomainError::NotFound(what) => anyhow::anyhow!("there is no such {what}"),
        other => other.into(),
    }
}
