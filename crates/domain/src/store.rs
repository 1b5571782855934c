//! The storage interface. One implementation per database engine; nothing else touches SQL.
//!
//! Every method that changes the directory takes the audit record to write with it, and must
//! commit both in one durable transaction or neither.

use async_trait::async_trait;

use crate::access_pass::AccessPass;
use crate::apps::{App, AppLogo, AppSecret, AppToken};
use crate::audit::{AuditEntry, AuditQuery, ChainState, SealedEntry};
use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::group::{Group, GroupFilter, GroupId, GroupQuery, MemberId, MemberRef};
use crate::mfa::{MfaState, PendingSignIn};
use crate::oidc::grant::{AppGrant, AuthCode, Rotation, Scopes, UserToken};
use crate::oidc::keys::StoredKey;
use crate::outbox::{Channel, Claim, Lease, Message, OutboxEntry, Outcome};
use crate::passkey::{Ceremony, StoredPasskey};
use crate::recovery::{ContactMethod, OneTimeCode, Purpose, ResetSession, Verification};
use crate::session::Session;
use crate::signin_log::{SignInEvent, SignInQuery};
use crate::user::{Cursor, User, UserId, UserQuery, UserSummary, Username};
use crate::user_filter::UserFilter;

/// What sign-in needs to know about a username.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: UserId,
    /// `None` when no password was ever set (sign-in impossible).
    pub password_hash: Option<String>,
}

/// One migration this build carries, and whether the database has applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// The store's own account of its health, for readiness checks, metrics and `roster migrate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStatus {
    /// The database engine (`SQLite`, `PostgreSQL`).
    pub engine: &'static str,
    /// Every migration this build carries, oldest first.
    pub migrations: Vec<MigrationState>,
    /// Messages waiting for delivery, due now or later.
    pub outbox_pending: u64,
    /// Open database connections.
    pub pool_size: u32,
    /// Idle connections among them.
    pub pool_idle: u32,
    /// The most connections the store opens.
    pub pool_max: u32,
}

impl StoreStatus {
    /// Migrations this build carries that the database has not applied.
    pub fn pending(&self) -> impl Iterator<Item = &MigrationState> {
        self.migrations.iter().filter(|m| !m.applied)
    }
}

/// One user to write as part of a [`UserBatches`] change.
#[derive(Debug, Clone)]
pub enum UserWrite {
    /// A new user, without a password.
    Create { user: User, audit: AuditEntry },
    /// A stored user replaced by its next version, with the audit records and messages the
    /// change causes. When the username changes, the old one stays an alias until
    /// `alias_until`.
    Update {
        before: Box<User>,
        after: User,
        audit: Vec<AuditEntry>,
        messages: Vec<Message>,
        alias_until: Option<Timestamp>,
    },
}

/// A former username that still signs its user in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameAlias {
    pub username: String,
    pub user_id: UserId,
    pub expires_at: Timestamp,
}

/// A change to many users that a store applies in one transaction, batch by batch: the store
/// asks for the next batch's usernames, reads those users inside the transaction (so that no
/// other save can come in between) and writes what [`UserBatches::plan`] makes of them.
pub trait UserBatches: Send {
    /// Only read: the store writes nothing and may use a read-only snapshot.
    fn dry_run(&self) -> bool;
    /// The usernames of the next batch, or `None` after the last.
    fn next_batch(&mut self) -> Option<Vec<Username>>;
    /// What to write for the batch just named, given the stored users that have those
    /// usernames (deleted ones included, in any order) and the unexpired aliases among them.
    fn plan(&mut self, stored: Vec<User>, aliases: Vec<UsernameAlias>) -> Vec<UserWrite>;
    /// Whether to commit what was written, asked once after the last batch.
    fn commit(&self) -> bool;
}

/// The order of users an API lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FindOrder {
    /// The store's own order: stable between pages, and its cheapest walk through the whole
    /// directory (by id, or by the order rows were added).
    #[default]
    Id,
    /// By case-folded display name, then id.
    DisplayName,
    /// By username (unique).
    Username,
}

/// Which active users an API lists: those matching `filter`, in `order`, after `after` (a
/// keyset cursor of the order's key and id) or else from `offset`, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct UserFind {
    pub filter: Option<UserFilter>,
    pub order: FindOrder,
    pub descending: bool,
    pub after: Option<Cursor>,
    pub offset: u64,
    pub limit: u32,
}

/// A user an API listed, with the cursor that continues the list after it. The cursor's key
/// is the store's own (for [`FindOrder::Id`] it need not be the id), so it is opaque to callers.
#[derive(Debug, Clone)]
pub struct FoundUser {
    pub user: User,
    pub cursor: Cursor,
}

/// A fixed-window counter's state after an increment.
pub type Count = u32;

/// The storage engine behind a [`crate::Directory`]: every part of the interface, which an
/// engine gets by implementing each of them.
pub trait Store:
    UserStore
    + ListingStore
    + ImportStore
    + SessionStore
    + RecoveryStore
    + MfaStore
    + AccessPassStore
    + PasskeyStore
    + OutboxStore
    + AuditStore
    + SignInLogStore
    + AppStore
    + SettingsStore
    + GroupStore
    + OidcStore
    + 'static
{
}

impl<
        T: UserStore
            + ListingStore
            + ImportStore
            + SessionStore
            + RecoveryStore
            + MfaStore
            + AccessPassStore
            + PasskeyStore
            + OutboxStore
            + AuditStore
            + SignInLogStore
            + AppStore
            + SettingsStore
            + GroupStore
            + OidcStore
            + 'static,
    > Store for T
{
}

/// Users, read and saved one at a time.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Number of users, deleted ones included.
    async fn count_users(&self) -> Result<u64, StoreError>;

    /// Adds a user (refusing a taken username with [`StoreError::Duplicate`]) with its audit
    /// record and messages, in one transaction.
    async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// One user by id, deleted or not.
    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The users with these ids that exist, deleted or not, in any order.
    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;

    /// The credentials of a (lower-cased) username, deleted users excluded: the user whose
    /// username it is, else the user whose unexpired former username it is.
    async fn get_credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError>;

    /// Saves `after`, whose username differs from `before`'s, as [`UserStore::save_user`] does,
    /// keeping the old username as an alias until `alias_until`. The new name is refused with
    /// [`StoreError::Duplicate`] when it is another user's username or unexpired alias.
    async fn rename_user(
        &self,
        before: &User,
        after: &User,
        alias_until: Timestamp,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// A user's unexpired former usernames, with when each stops working, newest first.
    async fn aliases_of(&self, id: UserId) -> Result<Vec<(String, Timestamp)>, StoreError>;

    /// The stored password hash of a user.
    async fn get_password_hash(&self, id: UserId) -> Result<Option<String>, StoreError>;

    /// Every active user holding an administrator role, by username.
    async fn list_administrators(&self) -> Result<Vec<User>, StoreError>;

    /// Replaces `before` by `after` if the stored version is still `before.version` (`after.version`
    /// must be the next one), queueing `messages` with it; only what differs need be written.
    /// Otherwise [`StoreError::VersionConflict`] and nothing changes.
    async fn save_user(
        &self,
        before: &User,
        after: &User,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// Sets a user's password hash and must-change flag, bumping its version, and queues `messages`.
    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// Permanently removes users deleted before `deleted_before`, with an audit record each;
    /// returns how many.
    async fn purge_deleted(&self, deleted_before: Timestamp, actor: &str) -> Result<u64, StoreError>;
}

/// Pages of users: the admin center's list and the APIs' searches.
#[async_trait]
pub trait ListingStore: Send + Sync {
    /// One page of users: `query.limit` rows at most, in the query's order (reversed for `before`).
    async fn list_users(&self, query: &UserQuery) -> Result<Vec<UserSummary>, StoreError>;

    /// Active users matching a filter, one page (see [`UserFind`]). The store selects exactly
    /// the users [`UserFilter::matches`] accepts.
    async fn find_users(&self, find: &UserFind) -> Result<Vec<FoundUser>, StoreError>;

    /// How many users the list `query` describes (its search, filter and deleted state; not its
    /// cursor or limit), counting no further than `bound + 1`.
    async fn count_listed(&self, query: &UserQuery, bound: u64) -> Result<u64, StoreError>;

    /// How many active users match `filter`.
    async fn count_found(&self, filter: Option<&UserFilter>) -> Result<u64, StoreError>;
}

/// Changes to many users at once: bulk loads and CSV imports.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Adds many users, batch by batch, with one audit record for all. Into an empty directory
    /// the whole load is one transaction (all or nothing); otherwise each batch commits on its
    /// own so that a running server can write in between, and the audit record goes with the
    /// first, so that no committed user is ever without one.
    async fn insert_users_bulk(
        &self,
        batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Applies `batches` in one transaction (see [`UserBatches`]); returns whether it committed.
    /// A write that fails (a username taken meanwhile by another node) fails the whole change.
    async fn apply_user_batches(&self, batches: &mut dyn UserBatches) -> Result<bool, StoreError>;
}

/// Sign-in sessions, and the counters and locks that throttle sign-ins and codes.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// A session by token hash.
    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;

    /// Records activity on a session.
    async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<(), StoreError>;

    /// Ends one session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Ends all of a user's sessions and sign-ins waiting for a second step, with its audit
    /// record.
    async fn revoke_sessions(&self, user_id: UserId, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Ends all of a user's sessions except `keep` (a token hash), and every sign-in of theirs
    /// waiting for a second step.
    async fn delete_user_sessions(&self, user_id: UserId, keep: Option<&str>) -> Result<(), StoreError>;

    /// Adds one to the counter `key` in the window starting at `window_start` and returns the
    /// new count: a later window than the stored one restarts at one, an earlier one (a node
    /// whose clock is behind) counts into the stored window.
    async fn increment_counter(&self, key: &str, window_start: Timestamp) -> Result<Count, StoreError>;

    /// The counter `key` in the window starting at `window_start` or a later one (0 when the
    /// stored window is older).
    async fn get_counter(&self, key: &str, window_start: Timestamp) -> Result<Count, StoreError>;

    /// Forgets the counter `key`.
    async fn reset_counter(&self, key: &str) -> Result<(), StoreError>;

    /// Locks `key` until `until`.
    async fn set_lock(&self, key: &str, until: Timestamp) -> Result<(), StoreError>;

    /// Until when `key` is locked, if it ever was (the caller compares with now).
    async fn get_lock(&self, key: &str) -> Result<Option<Timestamp>, StoreError>;
}

/// Verified contacts, one-time codes and password resets under way.
#[async_trait]
pub trait RecoveryStore: Send + Sync {
    /// The verified contacts of a user (only those whose values are still current).
    async fn get_verifications(&self, user_id: UserId) -> Result<Vec<Verification>, StoreError>;

    /// The verified contacts of each of these users that exist, as (user, verification) pairs.
    async fn get_verifications_of(&self, ids: &[UserId]) -> Result<Vec<(UserId, Verification)>, StoreError>;

    /// Stores a new code with the message that carries it, and its audit record if any.
    async fn insert_code(
        &self,
        code: &OneTimeCode,
        audit: Option<&AuditEntry>,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// A code by id.
    async fn get_code(&self, id: &str) -> Result<Option<OneTimeCode>, StoreError>;

    /// The newest unused code of `user_id` for `purpose` sent to `method`.
    async fn latest_code(
        &self,
        user_id: UserId,
        purpose: Purpose,
        method: &ContactMethod,
    ) -> Result<Option<OneTimeCode>, StoreError>;

    /// Counts one entry of code `id` before it is checked, so that parallel guesses cannot slip
    /// past the limit; `None` when the code is used or has had `max` entries already.
    async fn count_code_entry(&self, id: &str, max: u32) -> Result<Option<u32>, StoreError>;

    /// Marks code `id` used, once: `false` if it was used already. With `verified`, also
    /// records that contact as verified, with its audit record, in the same transaction.
    async fn use_code(
        &self,
        id: &str,
        at: Timestamp,
        verified: Option<(UserId, &Verification, &AuditEntry)>,
    ) -> Result<bool, StoreError>;

    /// Stores a reset under way (new or changed).
    async fn save_reset(&self, reset: &ResetSession) -> Result<(), StoreError>;

    /// A reset under way by token hash.
    async fn get_reset(&self, token_hash: &str) -> Result<Option<ResetSession>, StoreError>;

    /// Forgets a reset.
    async fn delete_reset(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// The second sign-in step: authenticator apps, recovery codes and sign-ins waiting for it.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// A user's second-factor state.
    async fn get_mfa(&self, user_id: UserId) -> Result<MfaState, StoreError>;

    /// Sets (or with `None` removes) the authenticator app, confirmed or not, with the audit
    /// record and notices of a change people should hear of.
    async fn set_app(
        &self,
        user_id: UserId,
        sealed_secret: Option<&str>,
        confirmed: bool,
        audit: Option<&AuditEntry>,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// Records that an app code for `step` was used; `false` if that step or a later one was
    /// used already (a replayed code).
    async fn advance_app_step(&self, user_id: UserId, step: i64) -> Result<bool, StoreError>;

    /// Records whether the user chose a second step.
    async fn set_mfa_chosen(&self, user_id: UserId, chosen: bool, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Replaces the user's recovery codes (keyed hashes).
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[String],
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// Uses a recovery code once: `false` if it is unknown or used.
    async fn use_recovery_code(&self, user_id: UserId, hash: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// Stores a sign-in waiting for its second step (new or changed).
    async fn save_pending_signin(&self, pending: &PendingSignIn) -> Result<(), StoreError>;

    /// A sign-in waiting for its second step, by token hash.
    async fn get_pending_signin(&self, token_hash: &str) -> Result<Option<PendingSignIn>, StoreError>;

    /// Forgets a sign-in waiting for its second step.
    async fn delete_pending_signin(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// Temporary Access Passes, one per user at most.
#[async_trait]
pub trait AccessPassStore: Send + Sync {
    /// A user's pass, usable or not.
    async fn get_access_pass(&self, user_id: UserId) -> Result<Option<AccessPass>, StoreError>;

    /// Gives the user `pass`, replacing any pass they had, with its audit record and notices.
    async fn put_access_pass(
        &self,
        pass: &AccessPass,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// Removes the user's pass `id`, with its audit record and notices; `false` (and nothing
    /// written) when they have no pass by that id.
    async fn delete_access_pass(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<bool, StoreError>;

    /// Records a sign-in with the pass `id` at `at`: `false` when it is gone, or is a one-time
    /// pass that a sign-in used already (two sign-ins at once: one wins).
    async fn use_access_pass(&self, id: uuid::Uuid, at: Timestamp) -> Result<bool, StoreError>;
}

/// Passkeys and the WebAuthn ceremonies under way.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// A user's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: UserId) -> Result<Vec<StoredPasskey>, StoreError>;

    /// Which of these users have at least one passkey, in any order.
    async fn passkey_holders_among(&self, users: &[UserId]) -> Result<Vec<UserId>, StoreError>;

    /// The passkey with this credential id (base64url), whoever's it is.
    async fn passkey_by_credential(&self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError>;

    /// Adds a passkey with its audit record and notices; a credential id registered already
    /// (to anyone) is [`StoreError::Duplicate`].
    async fn insert_passkey(
        &self,
        passkey: &StoredPasskey,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError>;

    /// Records a sign-in with the passkey `id`, and its credential as the library updated it
    /// (the signature counter).
    async fn passkey_used(&self, passkey: &StoredPasskey, at: Timestamp) -> Result<(), StoreError>;

    /// Removes the user's passkey `id` with its audit record and notices; `false` (nothing
    /// written) when they have none by that id.
    async fn delete_passkey(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
        audit: &AuditEntry,
        messages: &[Message],
    ) -> Result<bool, StoreError>;

    /// Keeps a ceremony under way (sweeping expired ones).
    async fn save_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError>;

    /// Takes a ceremony out by its token's hash: a second take, on any node, finds nothing.
    async fn take_ceremony(&self, token_hash: &str) -> Result<Option<Ceremony>, StoreError>;
}

/// Messages waiting for delivery, and what became of them.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues messages that go with no other change.
    async fn queue_messages(&self, messages: &[Message]) -> Result<(), StoreError>;

    /// Claims up to `limit` pending messages on `channels` due at `now` that no live lease
    /// holds, leasing them all under one [`Lease`] from `now` and counting the attempt; oldest
    /// due first. Messages on other channels stay pending for a worker that can send them.
    async fn claim_messages(&self, now: Timestamp, channels: &[Channel], limit: u32) -> Result<Claim, StoreError>;

    /// Marks up to `limit` due messages on `channels` held and returns them, claim and record in
    /// one statement: for a worker that holds what it cannot send and has no transport for
    /// people at all (the embedded database's development setting, never a node sharing the
    /// outbox).
    async fn hold_messages(
        &self,
        now: Timestamp,
        channels: &[Channel],
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Records what the attempts to deliver messages (by id) claimed under `lease` came to, in
    /// one transaction, releasing the lease. Only messages still under `lease` are changed: one
    /// whose lease ran out and was taken over by another claim, or that has an outcome already,
    /// is left as it is. Returns the ids of the outcomes left unrecorded that way, in order.
    async fn record_deliveries(
        &self,
        lease: Lease,
        outcomes: &[(i64, Outcome)],
        at: Timestamp,
    ) -> Result<Vec<i64>, StoreError>;

    /// Queued messages, newest first, with ids below `before`.
    async fn list_outbox(&self, before: Option<i64>, limit: u32) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Removes delivered and given-up messages finished before `finished_before`, and all but
    /// the newest `keep_held` held ones; returns how many went. Pending messages all stay.
    async fn trim_outbox(&self, finished_before: Timestamp, keep_held: u32) -> Result<u64, StoreError>;
}

/// The audit trail and its hash chain.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes an audit record of an event that changes nothing else, with its messages.
    async fn record(&self, audit: &AuditEntry, messages: &[Message]) -> Result<(), StoreError>;

    /// Audit records, newest first.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Seals up to `limit` unsealed audit records into the chain, lowest id first: each gets
    /// the next number and its [`crate::audit::chain_hash`] after the last sealed record. Sealers
    /// on several nodes take turns. Returns how many were sealed.
    async fn seal_audit(&self, limit: u32) -> Result<u64, StoreError>;

    /// Sealed records numbered above `after_seq`, in chain order.
    async fn audit_chain(&self, after_seq: i64, limit: u32) -> Result<Vec<SealedEntry>, StoreError>;

    /// The chain's anchor and head, and how many records wait to be sealed.
    async fn audit_chain_state(&self) -> Result<ChainState, StoreError>;

    /// Removes sealed records written before `before`, making the last of them the chain's
    /// anchor, and writes `audit` (which says how many) in the same transaction; returns how
    /// many were removed.
    async fn trim_audit(&self, before: Timestamp, audit: &AuditEntry) -> Result<u64, StoreError>;
}

/// The log of sign-in attempts.
#[async_trait]
pub trait SignInLogStore: Send + Sync {
    /// Appends an attempt to the sign-in log.
    async fn record_signin(&self, event: &SignInEvent) -> Result<(), StoreError>;

    /// Sign-in attempts, newest first.
    async fn list_signins(&self, query: &SignInQuery) -> Result<Vec<SignInEvent>, StoreError>;

    /// Removes sign-in attempts made before `before`; returns how many.
    async fn trim_signins(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// Application registrations, their client secrets and access tokens.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Registers an application with its first client secret, if it holds one.
    async fn insert_app(&self, app: &App, secret: Option<&AppSecret>, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Every registered application, by name.
    async fn list_apps(&self) -> Result<Vec<App>, StoreError>;

    /// One application by client id.
    async fn get_app(&self, id: uuid::Uuid) -> Result<Option<App>, StoreError>;

    /// Replaces an application's name and permissions.
    async fn update_app(&self, app: &App, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Removes an application with its secrets and tokens; `false` if there was none.
    async fn delete_app(&self, id: uuid::Uuid, audit: &AuditEntry) -> Result<bool, StoreError>;

    /// Replaces an application's logo (`None` removes it) at `at`, with the audit record.
    async fn set_app_logo(
        &self,
        id: uuid::Uuid,
        logo: Option<&AppLogo>,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// An application's logo, if it has one.
    async fn get_app_logo(&self, id: uuid::Uuid) -> Result<Option<AppLogo>, StoreError>;

    /// An application's client secrets, newest first, expired ones included.
    async fn list_app_secrets(&self, app_id: uuid::Uuid) -> Result<Vec<AppSecret>, StoreError>;

    /// Adds a client secret.
    async fn insert_app_secret(&self, secret: &AppSecret, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Removes a client secret and the tokens issued against it; `false` if there was none.
    async fn delete_app_secret(
        &self,
        app_id: uuid::Uuid,
        secret_id: uuid::Uuid,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// Stores an access token.
    async fn insert_app_token(&self, token: &AppToken) -> Result<(), StoreError>;

    /// An access token by hash, with its application.
    async fn get_app_token(&self, hash: &str) -> Result<Option<(AppToken, App)>, StoreError>;

    /// Forgets access tokens that expired before `before`; returns how many.
    async fn trim_app_tokens(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// A user token as the store holds it, with its user.
#[derive(Debug, Clone)]
pub struct FoundToken {
    pub token: UserToken,
    /// When a refresh token was exchanged; `None` while it is unused.
    pub used_at: Option<Timestamp>,
    pub user: User,
}

/// Signing in to applications: the keys that sign ID tokens, authorization codes and the
/// access and refresh tokens they become.
#[async_trait]
pub trait OidcStore: Send + Sync {
    /// Every signing key, retired ones included.
    async fn list_signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Adds new keys and replaces changed ones (a retirement time), with the audit record.
    async fn save_signing_keys(&self, keys: &[StoredKey], audit: &AuditEntry) -> Result<(), StoreError>;

    /// Stores an authorization code.
    async fn insert_auth_code(&self, code: &AuthCode) -> Result<(), StoreError>;

    /// Marks a code redeemed into `chain` and returns it; `Err(chain)` with the chain of its
    /// first redemption if it was redeemed before; `Ok(None)` if there is no such code.
    async fn redeem_auth_code(
        &self,
        hash: &str,
        chain: uuid::Uuid,
    ) -> Result<Result<Option<AuthCode>, uuid::Uuid>, StoreError>;

    /// Stores access and refresh tokens.
    async fn insert_user_tokens(&self, tokens: &[&UserToken]) -> Result<(), StoreError>;

    /// A token by hash, with its user (read in the same query: every token request needs both).
    async fn get_user_token(&self, hash: &str) -> Result<Option<FoundToken>, StoreError>;

    /// Makes `rotation` if it [admits](crate::oidc::grant::Rotation::admits) its token: marks
    /// the token used and stores its successors at once, and returns the token, now used, with
    /// its user. `None`, and nothing changed, if it does not (or another rotation won the race).
    async fn rotate_refresh_token(&self, rotation: &Rotation) -> Result<Option<FoundToken>, StoreError>;

    /// Undoes `rotation`, made but never answered: its successors go and its token is unused
    /// again.
    async fn undo_rotation(&self, rotation: &Rotation) -> Result<(), StoreError>;

    /// Ends one token; `false` if there was none.
    async fn delete_user_token(&self, hash: &str) -> Result<bool, StoreError>;

    /// Ends every code and token issued for `user`, to every application.
    async fn delete_tokens_of(&self, user: UserId) -> Result<(), StoreError>;

    /// Ends every token of `chain`, with the audit record.
    async fn revoke_token_chain(&self, chain: uuid::Uuid, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Forgets codes, tokens and client assertions that expired before `before`; returns how
    /// many.
    async fn trim_user_tokens(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Notes that `app_id` used the client assertion `jti`, kept until `expires_at`; `false` if
    /// it was used before.
    async fn use_client_assertion(
        &self,
        app_id: uuid::Uuid,
        jti: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The users and groups assigned to an application.
    async fn list_assignments(&self, app_id: uuid::Uuid) -> Result<Vec<MemberId>, StoreError>;

    /// Assigns and unassigns users and groups, with the audit record.
    async fn change_assignments(
        &self,
        app_id: uuid::Uuid,
        add: &[MemberId],
        remove: &[MemberId],
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The applications `user` is assigned to directly or through one of `groups`.
    async fn assigned_apps(&self, user: UserId, groups: &[GroupId]) -> Result<Vec<uuid::Uuid>, StoreError>;

    /// A person's standing with an application.
    async fn get_app_grant(&self, user: UserId, app_id: uuid::Uuid) -> Result<Option<AppGrant>, StoreError>;

    /// Notes a sign-in to an application at `at`, adding `consented` to what the person
    /// consented to (with its audit record, when they consented just now).
    async fn record_app_sign_in(
        &self,
        user: UserId,
        app_id: uuid::Uuid,
        consented: Scopes,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError>;

    /// Every application a person has signed in to or consented to, with its name.
    async fn list_app_grants(&self, user: UserId) -> Result<Vec<(AppGrant, String)>, StoreError>;

    /// Withdraws a person's consent to an application and ends its tokens for them; `false` if
    /// there was nothing to withdraw.
    async fn revoke_app_grant(&self, user: UserId, app_id: uuid::Uuid, audit: &AuditEntry) -> Result<bool, StoreError>;
}

/// The organisation's settings and the store's own health.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// An organisation setting.
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Changes several organisation settings at once, with one audit record.
    async fn set_settings(&self, values: &[(&str, String)], audit: &AuditEntry) -> Result<(), StoreError>;

    /// A choice `user` made for themselves, by name.
    async fn get_preference(&self, user: UserId, name: &str) -> Result<Option<String>, StoreError>;

    /// Keeps a choice `user` made for themselves (not audited: it changes only what they see).
    async fn set_preference(&self, user: UserId, name: &str, value: &str) -> Result<(), StoreError>;

    /// Reads the database's state now; an error means it cannot be reached.
    async fn status(&self) -> Result<StoreStatus, StoreError>;
}

/// A change to one group's members or owners, applied in one transaction with an audit
/// record per member that actually changed.
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    /// Members to add, each with its record; ones already in the group are left as they are
    /// and their records dropped.
    pub add: Vec<(MemberId, AuditEntry)>,
    /// Members to remove, each with its record; ones not in the group are skipped likewise.
    pub remove: Vec<(MemberId, AuditEntry)>,
    /// Owners to add (users only), with the group's record of the change.
    pub add_owners: Vec<UserId>,
    /// Owners to remove.
    pub remove_owners: Vec<UserId>,
    /// Written when owners change.
    pub owners_audit: Option<AuditEntry>,
}

/// What a [`MemberChange`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanged {
    /// The members that were not in the group before.
    pub added: Vec<MemberId>,
    /// The members that were in the group before.
    pub removed: Vec<MemberId>,
}

/// Groups, their members and owners, and the transitive closure of their nesting.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Adds a group with its first owners and its audit record.
    async fn insert_group(&self, group: &Group, owners: &[UserId], audit: &AuditEntry) -> Result<(), StoreError>;

    /// One group by id, deleted or not.
    async fn get_group(&self, id: GroupId) -> Result<Option<Group>, StoreError>;

    /// The groups with these ids that exist, deleted or not, in any order.
    async fn get_groups(&self, ids: &[GroupId]) -> Result<Vec<Group>, StoreError>;

    /// One page of groups (see [`GroupQuery`]); the store selects exactly the groups
    /// [`GroupFilter::matches`] accepts.
    async fn list_groups(&self, query: &GroupQuery) -> Result<Vec<Group>, StoreError>;

    /// How many active groups match `filter`.
    async fn count_groups(&self, filter: Option<&GroupFilter>) -> Result<u64, StoreError>;

    /// Replaces `before` by `after` if the stored version is still `before.version`; otherwise
    /// [`StoreError::VersionConflict`]. Deleting (setting `deleted_at`) also takes the group out
    /// of every group it was in and every group out of it, and out of the membership closure;
    /// restoring puts it back into the closure, without the nesting it had.
    async fn save_group(&self, before: &Group, after: &Group, audit: &[AuditEntry]) -> Result<(), StoreError>;

    /// Applies a change to an active group's members and owners and bumps its version;
    /// [`StoreError::NotFound`] when the group is not active, [`StoreError::Cycle`] when a group
    /// to add already holds this one at any depth.
    async fn change_members(&self, group: GroupId, change: &MemberChange) -> Result<MemberChanged, StoreError>;

    /// What each of `ids` names among users and groups (deleted ones included), in any order;
    /// ids that name nothing are left out. Reads only ids, names and state.
    async fn member_refs(&self, ids: &[uuid::Uuid]) -> Result<Vec<MemberRef>, StoreError>;

    /// Applies changes to several groups' members in one transaction: all of them or none.
    async fn change_many_members(&self, changes: &[(GroupId, MemberChange)]) -> Result<Vec<MemberChanged>, StoreError>;

    /// Members of a group, active users and groups, in id order after `after`, at most `limit`;
    /// with `transitive`, also the members of its member groups at any depth.
    async fn list_members(
        &self,
        group: GroupId,
        transitive: bool,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> Result<Vec<MemberId>, StoreError>;

    /// How many active users and groups are direct members of a group.
    async fn count_members(&self, group: GroupId) -> Result<u64, StoreError>;

    /// Which of `candidates` are direct members of `group`.
    async fn members_among(&self, group: GroupId, candidates: &[MemberId]) -> Result<Vec<MemberId>, StoreError>;

    /// The active groups `member` is in, in id order after `after`, at most `limit`; with
    /// `transitive`, also the groups those are in, at any depth.
    async fn groups_of(
        &self,
        member: MemberId,
        transitive: bool,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<GroupId>, StoreError>;

    /// Whether `user` is a member of any of `groups`, directly or through nesting: one indexed
    /// query at any depth.
    async fn in_any_group(&self, user: UserId, groups: &[GroupId]) -> Result<bool, StoreError>;

    /// Which of `users` are members of which of `groups`, directly or through nesting, as
    /// (user, group) pairs in no order: one indexed query for a page of users.
    async fn memberships_among(
        &self,
        users: &[UserId],
        groups: &[GroupId],
    ) -> Result<Vec<(UserId, GroupId)>, StoreError>;

    /// The owners of a group, active or not.
    async fn list_owners(&self, group: GroupId) -> Result<Vec<UserId>, StoreError>;

    /// Whether `user` owns `group`.
    async fn is_owner(&self, group: GroupId, user: UserId) -> Result<bool, StoreError>;

    /// The groups `user` owns, active or not.
    async fn groups_owned_by(&self, user: UserId) -> Result<Vec<GroupId>, StoreError>;

    /// Permanently removes groups deleted before `deleted_before`, with an audit record each;
    /// returns how many.
    async fn purge_deleted_groups(&self, deleted_before: Timestamp, actor: &str) -> Result<u64, StoreError>;
}
