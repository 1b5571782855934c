//! `roster groups …`: security groups and their members from the command line.

use clap::{Args, Subcommand};
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
