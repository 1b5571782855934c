//! The directory service: every operation on users, with its permission check and audit record.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::apps::{App, AppPermissions, AppSecret, AppToken};
use crate::audit::{AuditAction, AuditEntry, FieldChange};
use crate::clock::Timestamp;
use crate::contact::{ContactInfo, ContactInput};
use crate::error::FieldError;
use crate::error::{DomainError, StoreError};
use crate::notify::{self, Occasion, PasswordEvent};
use crate::outbox::{Message, OutboxEntry};
use crate::permission::{self, Permission};
use crate::phone::Region;
use crate::recovery::CodeKey;
use crate::role::{Role, RoleSet};
use crate::store::{Count, Store};
use crate::user::{Cursor, User, UserCount, UserId, UserPage, UserQuery, UserSummary, Username};
use crate::{email, password};

mod access_pass;
mod api_users;
mod app_access;
mod apps;
mod audit_log;
mod cache;
mod group_import;
mod groups;
mod import;
mod manager;
mod mfa;
mod my_groups;
mod oidc;
mod own_contacts;
mod passkeys;
mod policy_groups;
mod preferences;
mod readiness;
mod rename;
mod reset;
mod signin;
mod verification;

pub use access_pass::AccessPassView;
pub use api_users::{ApiNewUser, ApiUserChange, MAX_FIND_LIMIT};
pub use app_access::{MyApp, SignedInApp};
use apps::TokenRefusal;
pub use apps::{AppInput, IssuedToken, SignInInput};
pub use audit_log::{
    parse_retention_days, AuditFilterInput, BrokenLink, ChainReport, DEFAULT_AUDIT_RETENTION_DAYS,
    SETTING_AUDIT_RETENTION_DAYS,
};
pub use cache::FRESH_FOR;
pub use group_import::MembershipImport;
pub use groups::{GroupEdit, GroupPage, GroupPageQuery, NewGroup, MAX_GROUP_PAGE, MAX_MEMBERS_PER_CHANGE};
pub use import::{ImportOptions, ImportProgress, ImportSummary};
pub use mfa::{Enrolment, Proof, SecondFactors, SecondStepView, SignedIn, RECENT_SIGNIN_SECONDS};
pub use my_groups::{MyGroups, OwnedGroupPage};
pub use oidc::{AuthorizeOutcome, ClientProof, ConsentAnswer, GrantRefusal, LogoutOutcome, UserTokens, TOKEN_PATH};
pub use passkeys::{PasskeyChallenge, PasskeyStanding};
pub use readiness::{Asked, MAX_ASKED, MAX_BREAKDOWN};
pub use rename::ALIAS_DAYS;
pub use reset::{ResetStep, ResetView};
pub use signin::{SignInFilterInput, SignInOutcome};
pub use verification::ContactState;

/// Deleted users can be restored for this many days, then they are purged.
pub const DELETED_RETENTION_DAYS: i64 = 30;
/// Days a delivered or given-up message stays in the outbox, for administrators checking that
/// a notice went out; the change that caused it stays in the audit log as long as that keeps
/// records.
pub const OUTBOX_RETENTION_DAYS: i64 = 30;
/// Held messages (those of a development server without a transport) the outbox keeps.
pub const HELD_KEPT: u32 = 1_000;
/// Users a list's count goes up to: past it the admin center says "more than".
pub const COUNT_BOUND: u64 = 10_000;
/// The setting that holds the organisation's default phone region.
pub const SETTING_DEFAULT_COUNTRY: &str = "default_country";

/// Who is asking, and from where. Every operation is checked against it and audited with it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `None` for the system itself (first start, command line).
    pub user_id: Option<UserId>,
    pub display_name: String,
    pub roles: RoleSet,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// Set when the actor is a registered application: what it was granted stands in for roles.
    pub app: Option<AppPermissions>,
}

impl Actor {
    /// The server or command line acting on its own authority, with every permission.
    pub fn system(name: &str) -> Actor {
        Actor {
            user_id: None,
            display_name: name.to_string(),
            roles: RoleSet::of(&[Role::GlobalAdministrator]),
            client_ip: None,
            request_id: None,
            app: None,
        }
    }

    /// A signed-in user, named in audit records by display name *and* username: display names
    /// can be edited, usernames cannot be, so a record cannot be made to look like someone else's.
    pub fn user(user: &User, client_ip: Option<String>, request_id: Option<String>) -> Actor {
        Actor {
            user_id: Some(user.id),
            display_name: format!("{} ({})", user.contact.display_name, user.username),
            roles: user.roles,
            client_ip,
            request_id,
            app: None,
        }
    }

    /// A registered application calling the APIs, named in audit records by name and client id.
    pub fn app(app: &App, client_ip: Option<String>, request_id: Option<String>) -> Actor {
        Actor {
            user_id: None,
            display_name: format!("{} (application {})", app.name, app.id),
            roles: RoleSet::NONE,
            client_ip,
            request_id,
            app: Some(app.permissions),
        }
    }

    fn audit(&self, action: AuditAction, target: Option<&User>, changes: Vec<FieldChange>) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: Timestamp::now(),
            actor_id: self.user_id,
            actor_name: self.display_name.clone(),
            target_id: target.map(|u| u.id),
            target_name: target.map(|u| u.username.to_string()).unwrap_or_default(),
            group_id: None,
            action,
            changes,
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }

    fn require(&self, permission: Permission, target: RoleSet) -> Result<(), DomainError> {
        match self.app {
            Some(granted) => permission::check_app(granted, permission, target),
            None => permission::check(self.roles, permission, target),
        }
        .map_err(DomainError::Forbidden)
    }

    /// `before` as the next version, saved by this actor now.
    fn next_version(&self, before: &User) -> User {
        User {
            version: before.version + 1,
            updated_at: Timestamp::now(),
            updated_by: self.display_name.clone(),
            ..before.clone()
        }
    }

    fn is(&self, user: &User) -> bool {
        self.user_id == Some(user.id)
    }
}

/// What an admin fills in to add a user.
#[derive(Debug, Clone, Default)]
pub struct NewUserInput {
    pub username: String,
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    /// `None`: generate one and return it.
    pub password: Option<String>,
    pub must_change_password: bool,
    pub roles: RoleSet,
    /// A mobile phone, checked as the contact form checks it; empty for none.
    pub mobile_phone: String,
    /// An alternate email address, checked as the contact form checks it; empty for none.
    pub alternate_email: String,
    /// Where to email the password once the user is added, through the outbox; empty for nowhere.
    pub send_password_to: String,
}

/// What the page after adding a user shows once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownOnce {
    /// The generated password.
    pub password: Option<String>,
    /// Where the password was emailed.
    pub emailed_to: Option<String>,
}

/// How long a sealed [`ShownOnce`] opens: time enough for one redirect.
const SHOWN_ONCE_MILLIS: i64 = 10 * 60 * 1000;

/// The directory: rules in front of a [`Store`].
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    outbox_signal: Arc<Notify>,
    code_key: CodeKey,
    settings: cache::Recent<&'static str, Option<String>>,
    tokens: cache::Recent<String, Option<(AppToken, App)>>,
    clients: cache::Recent<uuid::Uuid, Option<(App, Vec<AppSecret>)>>,
    /// Failed client authentications per client id and window, as last read or counted here.
    client_failures: cache::Recent<(String, Timestamp), Count>,
    api_writes: Arc<api_users::UserLocks>,
    keys: Arc<oidc::KeyCache>,
    /// The public URL, as ID tokens name their issuer; unknown to a command-line directory.
    issuer: Option<Arc<str>>,
    /// The WebAuthn relying party at the public URL, when it names a host.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

impl Directory {
    /// A directory over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Directory {
            store,
            outbox_signal: Arc::new(Notify::new()),
            code_key: CodeKey::random(),
            settings: cache::Recent::new(),
            tokens: cache::Recent::new(),
            clients: cache::Recent::new(),
            client_failures: cache::Recent::new(),
            api_writes: Arc::new(api_users::UserLocks::new()),
            keys: Arc::default(),
            issuer: None,
            webauthn: None,
        }
    }

    /// The same directory serving at `public_url`: the issuer of the tokens it signs outside a
    /// request, such as the logout tokens it sends applications.
    pub fn with_issuer(self, public_url: &str) -> Self {
        Directory { issuer: Some(public_url.into()), webauthn: passkeys::relying_party(public_url), ..self }
    }

    /// The same directory hashing codes under `key`, which every node sharing the database must
    /// hold (a random key, the default, suits one process that keeps no codes across restarts).
    pub fn with_code_key(self, key: CodeKey) -> Self {
        Directory { code_key: key, ..self }
    }

    /// Woken whenever this directory queues messages, so that a delivery worker in the same
    /// process sends them at once instead of at its next poll.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_signal.clone()
    }

    /// The database's state (reachable, migrations, queue, connections), for health checks
    /// and metrics: no one's data, so no permission applies.
    pub async fn status(&self) -> Result<crate::store::StoreStatus, DomainError> {
        Ok(self.store.status().await?)
    }

    /// Queued messages, newest first (Global Administrators only).
    pub async fn outbox(
        &self,
        actor: &Actor,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        Ok(self.store.list_outbox(before, limit.clamp(1, 500)).await?)
    }

    /// Removes messages delivered or given up more than [`OUTBOX_RETENTION_DAYS`] ago, and
    /// held messages beyond the newest [`HELD_KEPT`]; returns how many went.
    pub async fn trim_outbox(&self) -> Result<u64, DomainError> {
        let cutoff = Timestamp::now().plus_seconds(-OUTBOX_RETENTION_DAYS * 24 * 60 * 60);
        Ok(self.store.trim_outbox(cutoff, HELD_KEPT).await?)
    }

    fn queued(&self, messages: &[Message]) {
        if !messages.is_empty() {
            self.outbox_signal.notify_one();
        }
    }

    /// The store, for operations outside the directory's rules (health checks).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A setting's stored value, as read at most [`FRESH_FOR`] ago.
    async fn setting(&self, key: &'static str) -> Result<Option<String>, StoreError> {
        if let Some(value) = self.settings.get(&key) {
            return Ok(value);
        }
        let read = std::time::Instant::now();
        let value = self.store.get_setting(key).await?;
        self.settings.put(key, value.clone(), read);
        Ok(value)
    }

    /// Stores settings with the audit record of their change; this node sees them at once.
    /// The stored values of `keys` (those set), read as [`Directory::setting`] reads each.
    async fn settings_of(
        &self,
        keys: &[&'static str],
    ) -> Result<std::collections::HashMap<&'static str, String>, StoreError> {
        let mut stored = std::collections::HashMap::new();
        for key in keys {
            if let Some(value) = self.setting(key).await? {
                stored.insert(*key, value);
            }
        }
        Ok(stored)
    }

    async fn put_settings(&self, values: &[(&str, String)], audit: &AuditEntry) -> Result<(), DomainError> {
        let stored = self.store.set_settings(values, audit).await;
        self.settings.clear();
        Ok(stored?)
    }

    /// The organisation's default region for national phone numbers.
    pub async fn region(&self) -> Result<Region, DomainError> {
        Ok(self.setting(SETTING_DEFAULT_COUNTRY).await?.and_then(|c| Region::parse(&c)).unwrap_or_default())
    }

    /// Sets the default phone region (Global Administrators only).
    pub async fn set_region(&self, actor: &Actor, code: &str) -> Result<(), DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        let region = Region::parse(code).ok_or_else(|| {
            DomainError::invalid("default_country", "Enter a two-letter country code such as US or GB.")
        })?;
        let before = self.region().await?;
        let change = FieldChange {
            field: SETTING_DEFAULT_COUNTRY.into(),
            sensitive: false,
            before: Some(before.code()),
            after: Some(region.code()),
        };
        let audit = actor.audit(AuditAction::SettingsChanged, None, vec![change]);
        self.put_settings(&[(SETTING_DEFAULT_COUNTRY, region.code())], &audit).await
    }

    /// On a directory with no users, creates a Global Administrator with a one-time password.
    pub async fn bootstrap(&self, username: &str) -> Result<Option<(User, String)>, DomainError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let input = NewUserInput {
            username: username.to_string(),
            display_name: "Administrator".into(),
            must_change_password: true,
            roles: RoleSet::of(&[Role::GlobalAdministrator]),
            ..NewUserInput::default()
        };
        let (user, password) = self.create_user(&Actor::system("Roster setup"), input).await?;
        Ok(Some((user, password.unwrap_or_default())))
    }

    /// Adds a user. Returns the generated password when none was given.
    pub async fn create_user(&self, actor: &Actor, input: NewUserInput) -> Result<(User, Option<String>), DomainError> {
        actor.require(Permission::CreateUser, RoleSet::NONE)?;
        if input.roles.is_admin() {
            actor.require(Permission::AssignRoles, RoleSet::NONE)?;
        }
        let mut errors = Vec::new();
        let username = Username::parse(&input.username).map_err(|e| errors.push(e)).ok();
        let alternate = input.alternate_email.trim();
        let contact_input = ContactInput {
            display_name: input.display_name.clone(),
            first_name: input.first_name.clone(),
            last_name: input.last_name.clone(),
            mobile_phone: input.mobile_phone.clone(),
            alternate_emails: (!alternate.is_empty()).then(|| alternate.to_string()).into_iter().collect(),
            ..ContactInput::default()
        };
        let typed = username.as_ref().map_or_else(|| input.username.trim().to_lowercase(), |u| u.as_str().to_string());
        let contact = self.check_contact(&contact_input, &typed, None).await?.map_err(|e| errors.extend(e)).ok();
        let send_to = match input.send_password_to.trim() {
            "" => None,
            raw => match email::normalise(raw) {
                Err(reason) => {
                    errors.push(FieldError::new("send_password_to", reason));
                    None
                }
                Ok(address) if email::key(&address) == email::key(&typed) => {
                    errors.push(FieldError::new(
                        "send_password_to",
                        "This is the new user's own mailbox, which they cannot open before they sign in. \
                         Send it to an address that can be read now, such as yours.",
                    ));
                    None
                }
                Ok(address) => Some(address),
            },
        };
        let min_length = self.min_password_length().await?;
        let generated = input.password.is_none().then(|| password::generate(min_length));
        let password = input.password.clone().or_else(|| generated.clone()).unwrap_or_default();
        if let Some(username) = &username {
            if let Err(e) = password::check_strength("password", &password, username.as_str(), min_length) {
                errors.push(e);
            }
        }
        let (Some(username), Some(contact), true) = (username, contact, errors.is_empty()) else {
            return Err(DomainError::Invalid(errors));
        };
        let now = Timestamp::now();
        let user = User {
            id: crate::user::UserId::random(),
            username,
            contact,
            roles: input.roles,
            enabled: true,
            must_change_password: input.must_change_password,
            created_at: now,
            updated_at: now,
            updated_by: actor.display_name.clone(),
            version: 1,
            deleted_at: None,
            external_id: None,
        };
        let hash = hash_off_thread(password.clone()).await?;
        let mut changes = ContactInfo::default().changes_from_empty(&user.contact);
        if user.roles.is_admin() {
            changes.push(roles_change(RoleSet::NONE, user.roles));
        }
        if let Some(to) = &send_to {
            changes.push(FieldChange {
                field: "password_emailed_to".into(),
                sensitive: false,
                before: None,
                after: Some(to.clone()),
            });
        }
        let audit = actor.audit(AuditAction::UserCreated, Some(&user), changes);
        let occasion = Occasion { actor, at: now };
        // Stored with the user: a user added is never without the message the form promised.
        let messages: Vec<Message> = send_to
            .iter()
            .map(|to| notify::new_user_password(&user, &password, to, self.issuer.as_deref(), &occasion))
            .collect();
        self.store.insert_user(&user, Some(&hash), &audit, &messages).await.map_err(|e| match e {
            StoreError::Duplicate(_) => DomainError::UsernameTaken(user.username.to_string()),
            other => other.into(),
        })?;
        self.queued(&messages);
        Ok((user, generated))
    }

    /// Seals `shown` for the administrator's browser to carry across the redirect after adding
    /// `user`: no server keeps the password, and it opens only for the same administrator, about
    /// the same user, for ten minutes.
    pub fn seal_shown_once(&self, actor: &Actor, user: UserId, shown: &ShownOnce) -> String {
        let expires = Timestamp::now().millis() + SHOWN_ONCE_MILLIS;
        let sealed = serde_json::json!({ "for": actor.user_id, "user": user, "expires": expires, "shown": shown });
        crate::mfa::seal_for(&self.code_key, "shown once", sealed.to_string().as_bytes())
    }

    /// What [`Directory::seal_shown_once`] sealed, if it is for `actor` and `user` and still fresh.
    pub fn open_shown_once(&self, actor: &Actor, user: UserId, sealed: &str) -> Option<ShownOnce> {
        #[derive(Deserialize)]
        struct Sealed {
            #[serde(rename = "for")]
            actor: Option<UserId>,
            user: UserId,
            expires: i64,
            shown: ShownOnce,
        }
        let opened: Sealed =
            serde_json::from_slice(&crate::mfa::open_for(&self.code_key, "shown once", sealed)?).ok()?;
        let fresh = opened.expires > Timestamp::now().millis();
        (fresh && opened.actor == actor.user_id && opened.actor.is_some() && opened.user == user)
            .then_some(opened.shown)
    }

    /// Adds `total` pre-validated users (sample data, imports), delivered in batches; they have
    /// no password.
    pub async fn create_users_bulk(
        &self,
        actor: &Actor,
        total: usize,
        batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
    ) -> Result<(), DomainError> {
        actor.require(Permission::CreateUser, RoleSet::NONE)?;
        let change =
            FieldChange { field: "users".into(), sensitive: false, before: None, after: Some(total.to_string()) };
        let audit = actor.audit(AuditAction::UserCreated, None, vec![change]);
        Ok(self.store.insert_users_bulk(batches, &audit).await?)
    }

    /// An active administrator by username, to act as on the command line: so that what a
    /// script does is checked against, and audited as, that person's roles.
    pub async fn administrator(&self, username: &str) -> Result<Actor, DomainError> {
        let user = self.by_username(username).await?;
        if !user.enabled || !user.roles.is_admin() {
            let name = username.trim().to_lowercase();
            return Err(DomainError::Forbidden(format!("{name} is not an administrator who may sign in.")));
        }
        Ok(Actor::user(&user, None, None))
    }

    /// The user who signs in as `username` (or did, under a former username still honoured).
    async fn by_username(&self, username: &str) -> Result<User, DomainError> {
        let name = username.trim().to_lowercase();
        let credentials = self.store.get_credentials(&name).await?.ok_or(DomainError::NotFound("user"))?;
        self.store.get_user(credentials.user_id).await?.ok_or(DomainError::NotFound("user"))
    }

    /// The user who signs in as `username` (or did, under a former username still honoured),
    /// for an administrator.
    pub async fn user_named(&self, actor: &Actor, username: &str) -> Result<User, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        self.by_username(username).await
    }

    /// One user, for an administrator or for the user themself.
    pub async fn get_user(&self, actor: &Actor, id: UserId) -> Result<User, DomainError> {
        let user = self.store.get_user(id).await?.ok_or(DomainError::NotFound("user"))?;
        if !actor.is(&user) {
            actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        }
        Ok(user)
    }

    /// A user who is not in Deleted users: deleted users can only be restored.
    pub(crate) async fn get_active_user(&self, actor: &Actor, id: UserId) -> Result<User, DomainError> {
        let user = self.get_user(actor, id).await?;
        if user.deleted_at.is_some() {
            return Err(DomainError::Forbidden("This user is deleted. Restore them first to make changes.".into()));
        }
        Ok(user)
    }

    /// One page of active (or deleted) users.
    pub async fn list_users(&self, actor: &Actor, query: UserQuery) -> Result<UserPage, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        self.user_page(query).await
    }

    /// How many users the list `query` describes, counted up to [`COUNT_BOUND`].
    pub async fn count_listed(&self, actor: &Actor, mut query: UserQuery) -> Result<UserCount, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        query.search = normalised_search(query.search);
        let counted = self.store.count_listed(&query, COUNT_BOUND).await?;
        Ok(if counted > COUNT_BOUND { UserCount::MoreThan(COUNT_BOUND) } else { UserCount::Exactly(counted) })
    }

    /// One page of active users, for a caller that has checked the actor's rights.
    pub(crate) async fn user_page(&self, mut query: UserQuery) -> Result<UserPage, DomainError> {
        let limit = query.limit.clamp(1, 500);
        query.search = normalised_search(query.search);
        query.limit = limit + 1;
        let backwards = query.before.is_some();
        let mut rows = self.store.list_users(&query).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        if backwards {
            rows.reverse();
        }
        let cursor = |u: &UserSummary| Cursor { key: query.sort.key_of(u), id: u.id };
        let at_start = !backwards && query.after.is_none();
        let next = if backwards || more { rows.last().map(cursor) } else { None };
        let previous = if at_start || (backwards && !more) { None } else { rows.first().map(cursor) };
        Ok(UserPage { users: rows, next, previous })
    }

    /// Saves the contact form. `expected_version` is the version the form was loaded from.
    pub async fn update_contact(
        &self,
        actor: &Actor,
        id: UserId,
        expected_version: i64,
        input: &ContactInput,
    ) -> Result<User, DomainError> {
        let before = self.get_active_user(actor, id).await?;
        let contact = self
            .check_contact(input, before.username.as_str(), Some(before.id))
            .await?
            .map_err(DomainError::Invalid)?;
        if before.version != expected_version {
            return Err(DomainError::VersionConflict {
                changed_by: before.updated_by.clone(),
                changed_at: before.updated_at,
            });
        }
        let changes = contact.changes_from(&before.contact);
        if changes.iter().any(|c| !c.sensitive) {
            actor.require(Permission::EditProfile, before.roles)?;
        }
        if changes.iter().any(|c| c.sensitive) {
            actor.require(Permission::EditRecoveryContacts, before.roles)?;
        }
        if changes.is_empty() {
            return Ok(before);
        }
        let after = User { contact, ..actor.next_version(&before) };
        let audit = actor.audit(AuditAction::ContactChanged, Some(&after), changes);
        let notices = notify::contact_changed(&after, &before.contact, &Occasion { actor, at: after.updated_at });
        self.save_with(&before, &after, &audit, &notices).await?;
        Ok(after)
    }

    /// Allows or blocks sign-in. Blocking also ends the user's sessions.
    pub async fn set_enabled(&self, actor: &Actor, id: UserId, enabled: bool) -> Result<User, DomainError> {
        let before = self.get_active_user(actor, id).await?;
        actor.require(Permission::ManageAccountState, before.roles)?;
        if !enabled && actor.is(&before) {
            return Err(DomainError::Forbidden("You can't block your own sign-in.".into()));
        }
        if before.enabled == enabled {
            return Ok(before);
        }
        let after = User { enabled, ..actor.next_version(&before) };
        let action = if enabled { AuditAction::UserEnabled } else { AuditAction::UserDisabled };
        let change = bool_change("enabled", before.enabled, enabled);
        self.save(&before, &after, &actor.audit(action, Some(&after), vec![change])).await?;
        if !enabled {
            self.end_sessions(&after).await;
        }
        Ok(after)
    }

    /// Moves a user to Deleted users (restorable for [`DELETED_RETENTION_DAYS`]).
    pub async fn delete_user(&self, actor: &Actor, id: UserId) -> Result<User, DomainError> {
        let before = self.get_user(actor, id).await?;
        actor.require(Permission::ManageAccountState, before.roles)?;
        if actor.is(&before) {
            return Err(DomainError::Forbidden("You can't delete your own account.".into()));
        }
        if before.deleted_at.is_some() {
            return Ok(before);
        }
        let now = Timestamp::now();
        let after = User { deleted_at: Some(now), ..actor.next_version(&before) };
        let change =
            FieldChange { field: "deleted".into(), sensitive: false, before: None, after: Some(now.rfc3339()) };
        self.save(&before, &after, &actor.audit(AuditAction::UserDeleted, Some(&after), vec![change])).await?;
        self.end_sessions(&after).await;
        Ok(after)
    }

    /// Ends a blocked or deleted user's sessions. Best effort, after the change is committed:
    /// every request checks that its user is enabled and not deleted anyway, so a session left
    /// behind by a failure here lets nobody in, and reporting the committed change as failed
    /// would be wrong.
    async fn end_sessions(&self, user: &User) {
        let _ = self.store.delete_user_sessions(user.id, None).await;
        self.end_app_sign_ins(user).await;
    }

    /// Brings a deleted user back with everything intact.
    pub async fn restore_user(&self, actor: &Actor, id: UserId) -> Result<User, DomainError> {
        let before = self.get_user(actor, id).await?;
        actor.require(Permission::ManageAccountState, before.roles)?;
        let Some(deleted_at) = before.deleted_at else {
            return Ok(before);
        };
        let after = User { deleted_at: None, ..actor.next_version(&before) };
        let change =
            FieldChange { field: "deleted".into(), sensitive: false, before: Some(deleted_at.rfc3339()), after: None };
        self.save(&before, &after, &actor.audit(AuditAction::UserRestored, Some(&after), vec![change])).await?;
        Ok(after)
    }

    /// Replaces a user's administrator roles (Global Administrators only).
    pub async fn set_roles(
        &self,
        actor: &Actor,
        id: UserId,
        expected_version: i64,
        roles: RoleSet,
    ) -> Result<User, DomainError> {
        actor.require(Permission::AssignRoles, RoleSet::NONE)?;
        let before = self.get_active_user(actor, id).await?;
        if before.version != expected_version {
            return Err(DomainError::VersionConflict { changed_by: before.updated_by, changed_at: before.updated_at });
        }
        if actor.is(&before) && !roles.contains(Role::GlobalAdministrator) {
            return Err(DomainError::Forbidden(
                "You can't remove your own Global Administrator role; ask another Global Administrator.".into(),
            ));
        }
        if before.roles == roles {
            return Ok(before);
        }
        let after = User { roles, ..actor.next_version(&before) };
        let audit = actor.audit(AuditAction::RolesChanged, Some(&after), vec![roles_change(before.roles, roles)]);
        self.save(&before, &after, &audit).await?;
        Ok(after)
    }

    /// Sets a new password for a user (typed, or generated and returned), ends all their
    /// sessions and tells them; when the user is an administrator, every Global Administrator
    /// is told too.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        id: UserId,
        password: Option<String>,
        must_change: bool,
    ) -> Result<Option<String>, DomainError> {
        let user = self.get_active_user(actor, id).await?;
        actor.require(Permission::ResetPassword, user.roles)?;
        if actor.is(&user) {
            return Err(DomainError::Forbidden("Change your own password on your My account page.".into()));
        }
        let min_length = self.min_password_length().await?;
        let generated = password.is_none().then(|| password::generate(min_length));
        let new_password = password.or_else(|| generated.clone()).unwrap_or_default();
        password::check_strength("password", &new_password, user.username.as_str(), min_length)
            .map_err(|e| DomainError::Invalid(vec![e]))?;
        let hash = hash_off_thread(new_password).await?;
        let change = bool_change("must_change_password", user.must_change_password, must_change);
        let audit = actor.audit(AuditAction::PasswordReset, Some(&user), vec![change]);
        let occasion = Occasion { actor, at: audit.at };
        let mut notices = notify::password_changed(&user, PasswordEvent::ResetByAdministrator, &occasion);
        notices.extend(self.tell_global_administrators(&user, &occasion).await?);
        self.store.set_password(id, &hash, must_change, &audit, &notices).await?;
        self.queued(&notices);
        self.store.delete_user_sessions(id, None).await?;
        self.end_app_sign_ins(&user).await;
        Ok(generated)
    }

    /// Notices to every Global Administrator when `user` is an administrator whose password was
    /// reset; none otherwise.
    pub(crate) async fn tell_global_administrators(
        &self,
        user: &User,
        occasion: &Occasion<'_>,
    ) -> Result<Vec<Message>, DomainError> {
        if !user.roles.is_admin() {
            return Ok(Vec::new());
        }
        let globals: Vec<User> = self
            .store
            .list_administrators()
            .await?
            .into_iter()
            .filter(|u| u.roles.contains(Role::GlobalAdministrator))
            .collect();
        Ok(notify::administrator_password_reset(user, &globals, occasion))
    }

    /// Ends every session of a user, wherever they signed in.
    pub async fn sign_out_everywhere(&self, actor: &Actor, id: UserId) -> Result<(), DomainError> {
        let user = self.get_active_user(actor, id).await?;
        actor.require(Permission::ResetPassword, user.roles)?;
        let audit = actor.audit(AuditAction::SessionsRevoked, Some(&user), Vec::new());
        self.store.revoke_sessions(id, &audit).await?;
        self.end_app_sign_ins(&user).await;
        Ok(())
    }

    /// Permanently removes users deleted more than [`DELETED_RETENTION_DAYS`] ago.
    pub async fn purge_expired(&self) -> Result<u64, DomainError> {
        let cutoff = Timestamp::now().plus_seconds(-DELETED_RETENTION_DAYS * 24 * 60 * 60);
        Ok(self.store.purge_deleted(cutoff, "Roster retention").await?)
    }

    async fn save(&self, before: &User, after: &User, audit: &AuditEntry) -> Result<(), DomainError> {
        self.save_with(before, after, audit, &[]).await
    }

    /// Saves a change with the messages it causes, all or nothing.
    async fn save_with(
        &self,
        before: &User,
        after: &User,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), DomainError> {
        self.store.save_user(before, after, audit, messages).await.map_err(|e| match e {
            StoreError::VersionConflict { changed_by, changed_at } => {
                DomainError::VersionConflict { changed_by, changed_at }
            }
            StoreError::NotFound => DomainError::NotFound("user"),
            other => other.into(),
        })?;
        self.queued(messages);
        Ok(())
    }
}

impl ContactInfo {
    /// The fields set in `contact`, as changes from nothing.
    fn changes_from_empty(&self, contact: &ContactInfo) -> Vec<FieldChange> {
        let mut empty = self.clone();
        empty.display_name.clear();
        contact.changes_from(&empty)
    }
}

/// A search as the stores take it: trimmed, lower-cased, and none when empty.
fn normalised_search(search: Option<String>) -> Option<String> {
    search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty())
}

fn roles_change(before: RoleSet, after: RoleSet) -> FieldChange {
    let text = |r: RoleSet| (r.is_admin()).then(|| r.display());
    FieldChange { field: "roles".into(), sensitive: true, before: text(before), after: text(after) }
}

fn bool_change(field: &str, before: bool, after: bool) -> FieldChange {
    FieldChange {
        field: field.into(),
        sensitive: true,
        before: Some(before.to_string()),
        after: Some(after.to_string()),
    }
}

/// Argon2 takes tens of milliseconds of CPU: keep it off the async worker threads.
async fn hash_off_thread(password: String) -> Result<String, DomainError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| DomainError::Internal(format!("password hashing failed: {e}")))
}
