//! `roster users …`: scripting access to the directory.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use roster_domain::csv_users::{Problem, Writer};
use roster_domain::directory::{ImportOptions, ImportProgress, ImportSummary};
use roster_domain::{Actor, Directory, DomainError, ListFilter, NewUserInput, Role, RoleSet};

use crate::config::StoreArgs;

/// The `users` subcommands.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Add a user and print its id.
    Add(AddArgs),
    /// Create and update users from a CSV file in Microsoft 365's bulk-add format.
    Import(ImportArgs),
    /// Write active users to a CSV file in the format `import` reads.
    Export(ExportArgs),
    /// Give a user a new one-time password, for when the last administrator cannot sign in:
    /// their sessions end and they choose a new password at their next sign-in.
    ResetPassword(ResetPasswordArgs),
}

/// Options of `roster users reset-password`.
#[derive(Args, Debug)]
pub struct ResetPasswordArgs {
    /// The user's sign-in name.
    username: String,
    /// Read the new password from standard input (the first line) instead of generating one.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster users import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The CSV file (UTF-8; the header line names the columns).
    file: PathBuf,
    /// Check every row and count what would change, changing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Apply the valid rows even when others are invalid (which are reported).
    #[arg(long)]
    skip_invalid: bool,
    /// Act as this administrator: rows they could not change by hand are refused, and the
    /// audit log names them. Without it, the command line acts with every permission.
    #[arg(long = "as", value_name = "USERNAME")]
    as_admin: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster users export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Where to write (`-` for standard output); a new file is readable by its owner only.
    file: PathBuf,
    /// Only users a search for this text finds, as in the Active users list.
    #[arg(long)]
    search: Option<String>,
    /// Only the users an Active users filter keeps: all, admins, blocked, unverified or
    /// no_contacts.
    #[arg(long, value_name = "FILTER", default_value = "all", value_parser = parse_filter)]
    filter: ListFilter,
    /// Act as this administrator (audited by name).
    #[arg(long = "as", value_name = "USERNAME")]
    as_admin: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `roster users add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Sign-in name, such as alex.wilber@contoso.com.
    #[arg(long)]
    username: String,
    /// The name shown in lists.
    #[arg(long)]
    display_name: String,
    #[arg(long, default_value = "")]
    first_name: String,
    #[arg(long, default_value = "")]
    last_name: String,
    /// An administrator role (repeat for several).
    #[arg(long = "role", value_parser = parse_role)]
    roles: Vec<Role>,
    /// Read the password from standard input (the first line). Without it a password is
    /// generated and printed on standard error.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_role(slug: &str) -> Result<Role, String> {
    Role::from_slug(slug).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.slug()).collect();
        format!("unknown role {slug:?}; use one of {}", known.join(", "))
    })
}

/// Runs a `users` subcommand.
pub async fn run(command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add(args) => add(args).await,
        UsersCommand::Import(args) => import(args).await,
        UsersCommand::Export(args) => export(args).await,
        UsersCommand::ResetPassword(args) => reset_password(args).await,
    }
}

/// Sets a one-time password as the command line, which the audit log names; the user must
/// choose their own at their next sign-in.
async fn reset_password(args: ResetPasswordArgs) -> anyhow::Result<()> {
    let typed = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    } else {
        None
    };
    let (directory, store) = args.store.open().await?;
    let actor = Actor::system("roster command line");
    let result = async {
        let user = directory.user_named(&actor, &args.username).await.map_err(|e| match e {
            DomainError::NotFound(_) => anyhow::anyhow!("there is no user {}", args.username),
            other => anyhow::anyhow!(other),
        })?;
        let generated = directory.reset_password(&actor, user.id, typed, true).await.map_err(|e| match e {
            DomainError::Invalid(errors) => {
                anyhow::anyhow!("{}", errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))
            }
            other => anyhow::anyhow!(other),
        })?;
        Ok::<_, anyhow::Error>((user, generated))
    }
    .await;
    store.close().await;
    let (user, generated) = result?;
    println!("Reset the password of {} ({}); their sessions have ended.", user.contact.display_name, user.username);
    if let Some(password) = generated {
        println!("  One-time password: {password}");
    }
    println!(
        "They choose a new password at their next sign-in. The audit log records this as done from the command line."
    );
    Ok(())
}

/// Who the command acts as: the named administrator, or the command line itself.
async fn actor(directory: &Directory, as_admin: Option<&str>) -> anyhow::Result<Actor> {
    match as_admin {
        None => Ok(Actor::system("roster command line")),
        Some(name) => directory.administrator(name).await.map_err(|e| match e {
            DomainError::NotFound(_) => anyhow::anyhow!("--as: there is no user {name}"),
            other => anyhow::anyhow!("--as: {other}"),
        }),
    }
}

/// Problems on standard error above the progress bar, which shows bytes of the file read.
struct Terminal {
    bar: ProgressBar,
    problems: u64,
}

impl ImportProgress for Terminal {
    fn problem(&mut self, problem: &Problem) {
        self.problems += 1;
        self.bar.suspend(|| eprintln!("{problem}"));
    }

    fn progress(&mut self, rows: u64, bytes: u64) {
        self.bar.set_position(bytes);
        self.bar.set_message(format!("{rows} rows"));
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (directory, store) = args.store.open().await?;
    let result = async {
        let actor = actor(&directory, args.as_admin.as_deref()).await?;
        let bar = ProgressBar::new(size).with_style(
            ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} ({elapsed})").expect("a valid template"),
        );
        let mut terminal = Terminal { bar, problems: 0 };
        let options = ImportOptions { dry_run: args.dry_run, skip_invalid: args.skip_invalid };
        let input = std::io::BufReader::with_capacity(256 * 1024, file);
        let summary = directory.import_users(&actor, input, options, &mut terminal).await;
        terminal.bar.finish_and_clear();
        match summary {
            Ok(summary) => Ok(summary),
            Err(DomainError::Invalid(errors)) => {
                bail!(
                    "{}: {}",
                    args.file.display(),
                    errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")
                )
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    store.close().await;
    let summary = result?;
    println!("{}", describe(&summary, &args));
    if summary.failed > 0 {
        bail!("{} of {} rows have problems (listed above)", summary.failed, summary.rows);
    }
    Ok(())
}

/// The summary line, saying plainly whether anything changed.
fn describe(summary: &ImportSummary, args: &ImportArgs) -> String {
    let renamed = if summary.renamed > 0 { format!(" ({} renamed)", summary.renamed) } else { String::new() };
    let counts = format!(
        "{} created, {} updated{renamed}, {} unchanged, {} failed, of {} rows",
        summary.created, summary.updated, summary.unchanged, summary.failed, summary.rows
    );
    let mut text = if args.dry_run {
        format!("Dry run, nothing changed: would be {counts}.")
    } else if summary.applied {
        format!("Imported: {counts}.")
    } else {
        format!("Nothing changed, because some rows have problems (use --skip-invalid to apply the rest): would be {counts}.")
    };
    if !summary.unknown_columns.is_empty() {
        text.push_str(&format!("\nColumns ignored (not known): {}.", summary.unknown_columns.join(", ")));
    }
    if summary.created > 0 && summary.applied {
        text.push_str(
            "\nNew users have no password yet: reset it for them, or ask them to register their security info.",
        );
    }
    text
}

/// Export pages: big enough that a page's two queries are few, small enough to stream.
const EXPORT_PAGE: u32 = 500;

fn parse_filter(text: &str) -> Result<ListFilter, String> {
    ListFilter::from_code(text).ok_or_else(|| {
        let codes: Vec<&str> = ListFilter::ALL.iter().map(|f| f.code()).collect();
        format!("no filter is called {text:?}; choose one of {}", codes.join(", "))
    })
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let to_stdout = args.file.as_os_str() == "-";
    let output: Box<dyn Write + Send> = if to_stdout {
        Box::new(std::io::stdout())
    } else {
        Box::new(private_file(&args.file).with_context(|| format!("cannot create {}", args.file.display()))?)
    };
    let (directory, store) = args.store.open().await?;
    let result = async {
        let actor = actor(&directory, args.as_admin.as_deref()).await?;
        let mut writer = Writer::new(std::io::BufWriter::new(output))?;
        let mut after = None;
        let mut count = 0u64;
        loop {
            let (users, next) =
                directory.export_page(&actor, args.search.clone(), args.filter, after, EXPORT_PAGE).await?;
            for user in &users {
                writer.write(user)?;
            }
            count += users.len() as u64;
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        writer.finish()?.flush()?;
        anyhow::Ok(count)
    }
    .await;
    store.close().await;
    let count = result?;
    if !to_stdout {
        eprintln!("Exported {count} users to {}.", args.file.display());
    }
    Ok(())
}

/// Creates (or truncates) a file that only its owner can read: an export holds everyone's
/// contacts.
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the password from standard input")?;
        let line = text.lines().next().unwrap_or_default().to_string();
        if line.is_empty() {
            bail!("--password-stdin: standard input held no password");
        }
        Some(line)
    } else {
        None
    };
    let (directory, store) = args.store.open().await?;
    let input = NewUserInput {
        username: args.username,
        display_name: args.display_name,
        first_name: args.first_name,
        last_name: args.last_name,
        password,
        must_change_password: false,
        roles: RoleSet::of(&args.roles),
        ..NewUserInput::default()
    };
    let result = directory.create_user(&Actor::system("roster command line"), input).await;
    store.close().await;
    match result {
        Ok((user, generated)) => {
            if let Some(p) = generated {
                eprintln!("Generated password: {p}");
            }
            println!("{}", user.id);
            Ok(())
        }
        Err(DomainError::Invalid(errors)) => {
            for e in &errors {
                eprintln!("--{}: {}", e.field.replace('_', "-"), e.message);
            }
            bail!("the user was not added")
        }
        Err(e) => Err(e.into()),
    }
}
