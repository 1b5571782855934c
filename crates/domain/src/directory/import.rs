//! Importing users from a file in Microsoft 365's bulk-add format, and exporting them to one.
//!
//! Each row creates the user with its username or updates the one there, under the rules of
//! the contact form: the same validation, and the same permission checks against each user's
//! roles, so an import cannot do what its administrator could not do by hand. A row with a
//! `New User Name` renames its user as the admin center does, under the same rules. The whole import
//! is one transaction: without `skip_invalid` a single bad row leaves everything as it was,
//! with it the good rows are applied together and the bad ones reported.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Read;

use crate::audit::AuditAction;
use crate::clock::Timestamp;
use crate::csv_users::{self, Column, Problem, Reader, Row};
use crate::error::{DomainError, FieldError, StoreError};
use crate::notify::{self, Occasion};
use crate::permission::Permission;
use crate::phone::Region;
use crate::role::RoleSet;
use crate::store::{UserBatches, UserWrite, UsernameAlias};
use crate::user::{Cursor, ListFilter, User, UserId, UserQuery, UserSort, Username};

use super::{Actor, Directory};

/// Rows read, checked and written together: one lookup of the stored users and a few
/// multi-row statements per batch.
const BATCH_ROWS: usize = 500;

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check everything and count what would change, changing nothing.
    pub dry_run: bool,
    /// Apply the valid rows even when others are invalid.
    pub skip_invalid: bool,
}

/// What an import did (or, on a dry run or a refused file, would have done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows read.
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Of the updated users, those given a new username.
    pub renamed: u64,
    pub unchanged: u64,
    /// Rows with at least one problem.
    pub failed: u64,
    /// Whether the changes were committed.
    pub applied: bool,
    /// Headers of the file that are no known column; their cells were ignored.
    pub unknown_columns: Vec<String>,
}

/// Where an import reports as it goes.
pub trait ImportProgress: Send {
    /// A row has a problem; it is not applied.
    fn problem(&mut self, problem: &Problem);
    /// So many rows, and bytes of the file, have been read.
    fn progress(&mut self, rows: u64, bytes: u64);
}

/// A row whose username parsed, waiting for its batch's stored users.
struct Pending {
    username: Username,
    /// The row's new name, when it renames its user and the name parses.
    new_username: Option<Username>,
    row: Row,
}

/// An import under way, as the store sees it: batches of usernames in, writes out.
struct Plan<'a, R: Read> {
    reader: Reader<R>,
    actor: &'a Actor,
    region: Region,
    options: ImportOptions,
    progress: &'a mut dyn ImportProgress,
    pending: Vec<Pending>,
    /// A hash of each username seen so far (in `User Name` or `New User Name`) and its line: a
    /// name given twice is refused, in 16 bytes a row rather than the names themselves. So no
    /// row renames a user to a name another row uses, and the order of writes never matters.
    seen: HashMap<u64, u64>,
    hasher: std::hash::RandomState,
    summary: ImportSummary,
    /// Whether any write carries messages, so the delivery worker is woken after the commit.
    messages: bool,
}

impl<R: Read> Plan<'_, R> {
    fn fail(&mut self, problems: &[Problem]) {
        self.summary.failed += 1;
        for problem in problems {
            self.progress.problem(problem);
        }
    }

    /// Whether writes are still wanted: not on a dry run, nor once a bad row dooms the file.
    fn writing(&self) -> bool {
        !self.options.dry_run && (self.options.skip_invalid || self.summary.failed == 0)
    }

    /// What one row comes to against the batch's stored users and aliases.
    fn decide(
        &mut self,
        pending: Pending,
        stored: &HashMap<String, User>,
        aliases: &HashMap<String, UsernameAlias>,
    ) -> Result<Option<UserWrite>, Vec<Problem>> {
        let Pending { username, mut row, .. } = pending;
        let line = row.line;
        let refused = |reason: String| vec![self.reader.problem(line, None, reason)];
        let Some(before) = stored.get(username.as_str()) else {
            if !row.new_username.trim().is_empty() {
                let message = format!(
                    "No user has the username {username} to rename. A row that adds a user leaves this column blank."
                );
                return Err(vec![self.reader.problem(line, Some(Column::NewUserName), message)]);
            }
            self.actor.require(Permission::CreateUser, RoleSet::NONE).map_err(|e| refused(reason(e)))?;
            let valid = self.reader.check(&row, self.region)?;
            let now = Timestamp::now();
            let user = User {
                id: UserId::random(),
                username,
                contact: valid.contact,
                roles: RoleSet::NONE,
                enabled: true,
                must_change_password: false,
                created_at: now,
                updated_at: now,
                updated_by: self.actor.display_name.clone(),
                version: 1,
                deleted_at: None,
                external_id: None,
            };
            let changes = crate::contact::ContactInfo::default().changes_from_empty(&user.contact);
            let audit = self.actor.audit(AuditAction::UserCreated, Some(&user), changes);
            self.summary.created += 1;
            return Ok(Some(UserWrite::Create { user, audit }));
        };
        if before.deleted_at.is_some() {
            return Err(vec![self.reader.problem(
                line,
                Some(Column::UserName),
                "This user is in Deleted users; restore them before importing changes to them.",
            )]);
        }
        self.reader.complete(&mut row, &before.contact);
        let valid = self.reader.check(&row, self.region)?;
        if let Some(new) = &valid.new_username {
            let taken = |message: String| vec![self.reader.problem(line, Some(Column::NewUserName), message)];
            if stored.contains_key(new.as_str()) {
                return Err(taken(format!("Another user has the username {new}.")));
            }
            if let Some(alias) = aliases.get(new.as_str()).filter(|a| a.user_id != before.id) {
                return Err(taken(format!(
                    "{new} was another user's username and still signs them in until {}; choose another name.",
                    alias.expires_at.display()
                )));
            }
            Directory::may_rename(self.actor, before).map_err(|e| refused(reason(e)))?;
        }
        let changes = valid.contact.changes_from(&before.contact);
        if changes.iter().any(|c| !c.sensitive) {
            self.actor.require(Permission::EditProfile, before.roles).map_err(|e| refused(reason(e)))?;
        }
        if changes.iter().any(|c| c.sensitive) {
            self.actor.require(Permission::EditRecoveryContacts, before.roles).map_err(|e| refused(reason(e)))?;
        }
        if changes.is_empty() && valid.new_username.is_none() {
            self.summary.unchanged += 1;
            return Ok(None);
        }
        let mut after = User { contact: valid.contact, ..self.actor.next_version(before) };
        if let Some(new) = valid.new_username {
            after.username = new;
        }
        let occasion = Occasion { actor: self.actor, at: after.updated_at };
        let (mut audit, mut messages) = (Vec::new(), Vec::new());
        let mut alias_until = None;
        if after.username != before.username {
            let renaming = Directory::renaming(self.actor, before, &after);
            audit.push(renaming.audit);
            messages.extend(renaming.notices);
            alias_until = Some(renaming.alias_until);
            self.summary.renamed += 1;
        }
        if !changes.is_empty() {
            audit.push(self.actor.audit(AuditAction::ContactChanged, Some(&after), changes));
            messages.extend(notify::contact_changed(&after, &before.contact, &occasion));
        }
        self.summary.updated += 1;
        Ok(Some(UserWrite::Update { before: Box::new(before.clone()), after, audit, messages, alias_until }))
    }
}

/// A refusal as the problem's message.
fn reason(error: DomainError) -> String {
    match error {
        DomainError::Forbidden(reason) => reason,
        other => other.to_string(),
    }
}

impl<R: Read + Send> UserBatches for Plan<'_, R> {
    fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    fn next_batch(&mut self) -> Option<Vec<Username>> {
        while self.pending.len() < BATCH_ROWS {
            let Some(read) = self.reader.next() else { break };
            self.summary.rows += 1;
            let row = match read {
                Ok(row) => row,
                Err(problem) => {
                    self.fail(&[problem]);
                    continue;
                }
            };
            let username = match Username::parse(&row.username) {
                Ok(username) => username,
                Err(_) => {
                    let problems = self.reader.check(&row, self.region).err().unwrap_or_default();
                    self.fail(&problems);
                    continue;
                }
            };
            let new_username = csv_users::new_username(&row).ok().flatten().filter(|new| *new != username);
            let mut named = vec![(Column::UserName, &username, "user")];
            named.extend(new_username.as_ref().map(|new| (Column::NewUserName, new, "username")));
            let repeated = named.into_iter().find_map(|(column, name, what)| {
                let first = *self.seen.entry(self.hasher.hash_one(name.as_str())).or_insert(row.line);
                let message = format!("This {what} is on line {first} already; a file can name each user once.");
                (first != row.line).then(|| self.reader.problem(row.line, Some(column), message))
            });
            if let Some(problem) = repeated {
                self.fail(&[problem]);
                continue;
            }
            self.pending.push(Pending { username, new_username, row });
        }
        self.progress.progress(self.summary.rows, self.reader.bytes_read());
        (!self.pending.is_empty()).then(|| {
            self.pending
                .iter()
                .flat_map(|p| std::iter::once(p.username.clone()).chain(p.new_username.clone()))
                .collect()
        })
    }

    fn plan(&mut self, stored: Vec<User>, aliases: Vec<UsernameAlias>) -> Vec<UserWrite> {
        let stored: HashMap<String, User> = stored.into_iter().map(|u| (u.username.to_string(), u)).collect();
        let aliases: HashMap<String, UsernameAlias> = aliases.into_iter().map(|a| (a.username.clone(), a)).collect();
        let mut writes = Vec::new();
        for pending in std::mem::take(&mut self.pending) {
            match self.decide(pending, &stored, &aliases) {
                Ok(Some(write)) if self.writing() => {
                    self.messages |= matches!(&write, UserWrite::Update { messages, .. } if !messages.is_empty());
                    writes.push(write);
                }
                Ok(_) => {}
                Err(problems) => self.fail(&problems),
            }
        }
        writes
    }

    fn commit(&self) -> bool {
        self.writing()
    }
}

impl Directory {
    /// Imports users from a CSV file in Microsoft 365's bulk-add format (see
    /// [`crate::csv_users`]), reporting problems and progress as it reads. A file whose header
    /// line is unusable is refused whole, as the `file` field.
    pub async fn import_users<R: Read + Send>(
        &self,
        actor: &Actor,
        input: R,
        options: ImportOptions,
        progress: &mut dyn ImportProgress,
    ) -> Result<ImportSummary, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let reader =
            Reader::new(input).map_err(|p| DomainError::Invalid(vec![FieldError::new("file", p.to_string())]))?;
        let unknown_columns = reader.unknown_columns().into_iter().map(str::to_string).collect();
        let mut plan = Plan {
            reader,
            actor,
            region: self.region().await?,
            options,
            progress,
            pending: Vec::new(),
            seen: HashMap::new(),
            hasher: std::hash::RandomState::new(),
            summary: ImportSummary { unknown_columns, ..ImportSummary::default() },
            messages: false,
        };
        let applied = self.store.apply_user_batches(&mut plan).await.map_err(|e| match e {
            StoreError::Duplicate(_) => DomainError::Forbidden(
                "Someone added a user with one of the file's usernames during the import; nothing was changed. \
                 Import the file again."
                    .into(),
            ),
            other => other.into(),
        })?;
        if applied && plan.messages {
            self.outbox_signal.notify_one();
        }
        Ok(ImportSummary { applied, ..plan.summary })
    }

    /// One page of active users for an export, in full, in username order and honouring a
    /// search and filter as the Active users list does; with the cursor of the next page, if any.
    pub async fn export_page(
        &self,
        actor: &Actor,
        search: Option<String>,
        filter: ListFilter,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<(Vec<User>, Option<Cursor>), DomainError> {
        let query = UserQuery { search, sort: UserSort::Username, after, limit, filter, ..UserQuery::default() };
        let page = self.list_users(actor, query).await?;
        let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
        let mut users = self.store.get_users(&ids).await?;
        users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        Ok((users, page.next))
    }

    /// The active users among `ids` (those an administrator chose), in username order; ids of
    /// users deleted meanwhile, or never known, are left out.
    pub async fn chosen_users(&self, actor: &Actor, ids: &[UserId]) -> Result<Vec<User>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        let mut users: Vec<User> =
            self.store.get_users(ids).await?.into_iter().filter(|u| u.deleted_at.is_none()).collect();
        users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        Ok(users)
    }
}
