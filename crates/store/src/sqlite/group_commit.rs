//! Group commit for saves and new users: changes that arrive while a commit is being flushed
//! wait for the next one and share it, so a burst of them costs one disk flush, not one each.
//!
//! A batch first updates each save's row, version-checked: a save refused for a conflict has
//! then written nothing (its update matched no row), needs no rollback of its own, and the
//! others go on. The rest of the accepted saves (addresses, verifications, audit records,
//! messages) is then written in a few statements for the whole batch. Any other failure rolls the whole batch back, and its saves are then
//! retried one transaction each, so one bad save cannot fail its neighbours. Every caller hears
//! its own result only after its transaction is durably committed. New users go the same way:
//! an insert refused for a taken username writes nothing and fails alone. So do refresh-token
//! rotations, which the token endpoint makes at thousands a second: a rotation whose token was
//! used already writes nothing and is refused alone. Access tokens of the client-credentials
//! grant, also made at thousands a second, share commits too.

use std::future::Future;

use roster_domain::apps::AppToken;
use roster_domain::audit::AuditEntry;
use roster_domain::oidc::grant::{Rotation, UserToken};
use roster_domain::outbox::Message;
use roster_domain::store::{FoundToken, OidcStore as _};
use roster_domain::user::User;
use roster_domain::StoreError;
use sqlx::{Connection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::sqlite::apps::insert_app_tokens;
use crate::sqlite::oidc::insert_tokens;
use crate::sqlite::rows::Params;
use crate::sqlite::users::{insert_emails, insert_user_row, update_row, write_rest, Accepted, NewUser};
use crate::sqlite::DIALECT;
use crate::sqlite::{audit, outbox, SqliteStore};

/// The most saves one transaction takes.
const MAX_BATCH: usize = 256;

/// One save waiting for a commit.
pub(crate) struct SaveJob {
    pub before: User,
    pub after: User,
    pub audit: Vec<AuditEntry>,
    pub messages: Vec<Message>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// One new user waiting for a commit.
pub(crate) struct InsertJob {
    pub user: User,
    pub password_hash: Option<String>,
    pub audit: AuditEntry,
    pub messages: Vec<Message>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A refresh token's successors, to be stored as it is marked used.
pub(crate) struct Rotating {
    pub hash: String,
    pub now: roster_domain::Timestamp,
    pub next: Vec<UserToken>,
}

/// One refresh-token rotation waiting for a commit.
pub(crate) struct RotateJob {
    pub rotation: Rotating,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// One access token waiting for a commit.
pub(crate) struct AppTokenJob {
    pub token: AppToken,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A change a committer writes in a transaction shared with others of its kind.
pub(crate) trait Job: Send + Sync + Sized + 'static {
    /// Writes `jobs` in one transaction: each job's own refusal in its slot, or the failure of
    /// the whole batch.
    fn commit(
        writer: &SqlitePool,
        jobs: &[Self],
    ) -> impl Future<Output = Result<Vec<Result<(), StoreError>>, StoreError>> + Send;

    /// Tells the caller how its change went.
    fn reply(self, result: Result<(), StoreError>);
}

impl Job for SaveJob {
    fn commit(
        writer: &SqlitePool,
        jobs: &[Self],
    ) -> impl Future<Output = Result<Vec<Result<(), StoreError>>, StoreError>> + Send {
        commit(writer, jobs)
    }

    fn reply(self, result: Result<(), StoreError>) {
        let _ = self.reply.send(result);
    }
}

impl Job for InsertJob {
    fn commit(
        writer: &SqlitePool,
        jobs: &[Self],
    ) -> impl Future<Output = Result<Vec<Result<(), StoreError>>, StoreError>> + Send {
        commit_inserts(writer, jobs)
    }

    fn reply(self, result: Result<(), StoreError>) {
        let _ = self.reply.send(result);
    }
}

impl Job for RotateJob {
    fn commit(
        writer: &SqlitePool,
        jobs: &[Self],
    ) -> impl Future<Output = Result<Vec<Result<(), StoreError>>, StoreError>> + Send {
        commit_rotations(writer, jobs)
    }

    fn reply(self, result: Result<(), StoreError>) {
        let _ = self.reply.send(result);
    }
}

impl Job for AppTokenJob {
    async fn commit(writer: &SqlitePool, jobs: &[Self]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut conn = writer.acquire().await?;
        let mut tx = conn.begin_with("begin immediate").await?;
        let tokens: Vec<&AppToken> = jobs.iter().map(|j| &j.token).collect();
        insert_app_tokens(&mut tx, &tokens).await?;
        tx.commit().await?;
        Ok(jobs.iter().map(|_| Ok(())).collect())
    }

    fn reply(self, result: Result<(), StoreError>) {
        let _ = self.reply.send(result);
    }
}

/// Starts a committer on the writer pool; it stops when every sender is gone.
pub(crate) fn spawn<J: Job>(writer: SqlitePool) -> mpsc::Sender<J> {
    let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
    tokio::spawn(run(writer, receiver));
    sender
}

async fn run<J: Job>(writer: SqlitePool, mut receiver: mpsc::Receiver<J>) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let results = match J::commit(&writer, &jobs).await {
            Ok(results) => results,
            Err(_) if jobs.len() > 1 => {
                let mut results = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    let alone = J::commit(&writer, std::slice::from_ref(job)).await;
                    results.push(alone.and_then(|mut r| r.pop().unwrap_or(Ok(()))));
                }
                results
            }
            Err(e) => vec![Err(e)],
        };
        for (job, result) in jobs.into_iter().zip(results) {
            job.reply(result);
        }
    }
}

async fn commit(writer: &SqlitePool, jobs: &[SaveJob]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut conn = writer.acquire().await?;
    let mut tx = conn.begin_with("begin immediate").await?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut accepted = Vec::with_capacity(jobs.len());
    for job in jobs {
        match update_row(&mut tx, &job.before, &job.after).await {
            Ok(()) => {
                results.push(Ok(()));
                accepted.push(Accepted {
                    before: &job.before,
                    after: &job.after,
                    audit: &job.audit,
                    messages: &job.messages,
                });
            }
            Err(refused @ (StoreError::VersionConflict { .. } | StoreError::NotFound)) => results.push(Err(refused)),
            Err(failure) => return Err(failure),
        }
    }
    write_rest(&mut tx, &accepted).await?;
    tx.commit().await?;
    Ok(results)
}

async fn commit_inserts(writer: &SqlitePool, jobs: &[InsertJob]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut conn = writer.acquire().await?;
    let mut tx = conn.begin_with("begin immediate").await?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut accepted = Vec::with_capacity(jobs.len());
    for job in jobs {
        match insert_user_row(&mut tx, &job.user, job.password_hash.as_deref()).await {
            Ok(()) => {
                results.push(Ok(()));
                accepted.push(job);
            }
            Err(taken @ StoreError::Duplicate(_)) => results.push(Err(taken)),
            Err(failure) => return Err(failure),
        }
    }
    let users: Vec<&User> = accepted.iter().map(|j| &j.user).collect();
    insert_emails(&mut tx, &users).await?;
    let entries: Vec<&AuditEntry> = accepted.iter().map(|j| &j.audit).collect();
    audit::insert_many(&mut tx, &entries).await?;
    let messages: Vec<Message> = accepted.iter().flat_map(|j| j.messages.iter().cloned()).collect();
    outbox::insert(&mut tx, &messages).await?;
    tx.commit().await?;
    Ok(results)
}

/// Hashes per statement that marks refresh tokens used: one parameter each, and the time.
const HASHES_PER_UPDATE: usize = DIALECT.rows_per_statement(500, 1);

/// Rotates each of `rotations` whose refresh token is still unused, in the caller's
/// transaction: marks the old tokens used and stores the successors of those it marked.
/// Returns, for each rotation, whether it happened.
async fn mark_used(conn: &mut sqlx::SqliteConnection, rotations: &[&Rotating]) -> Result<Vec<bool>, StoreError> {
    let mut marked = std::collections::HashSet::new();
    for chunk in rotations.chunks(HASHES_PER_UPDATE) {
        let mut params = Params::default();
        let now = params.push(chunk[0].now.millis())?;
        let hashes = chunk.iter().map(|r| params.push(r.hash.clone())).collect::<Result<Vec<_>, _>>()?;
        let sql = format!(
            "update oauth_tokens set used_at = {now} where refresh = 1 and used_at is null and hash in ({}) \
             returning hash",
            hashes.join(", ")
        );
        let rows: Vec<String> = sqlx::query_scalar_with(&sql, params.into_arguments()).fetch_all(&mut *conn).await?;
        marked.extend(rows);
    }
    // The same token twice in one batch (a replay racing the first use): only the first wins.
    let done: Vec<bool> = rotations.iter().map(|r| marked.remove(&r.hash)).collect();
    let next: Vec<&UserToken> =
        rotations.iter().zip(&done).filter(|(_, done)| **done).flat_map(|(r, _)| &r.next).collect();
    insert_tokens(conn, &next).await?;
    Ok(done)
}

/// Rotations whose token was used already are refused as not found.
async fn commit_rotations(writer: &SqlitePool, jobs: &[RotateJob]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut conn = writer.acquire().await?;
    let mut tx = conn.begin_with("begin immediate").await?;
    let rotations: Vec<&Rotating> = jobs.iter().map(|j| &j.rotation).collect();
    let done = mark_used(&mut tx, &rotations).await?;
    tx.commit().await?;
    Ok(done.into_iter().map(|done| if done { Ok(()) } else { Err(StoreError::NotFound) }).collect())
}

impl SqliteStore {
    /// Makes a rotation: the token is read and checked off the writer, where a read costs no
    /// round trip, and rotated in the next shared commit, where `used_at is null` settles a
    /// race between two rotations of it.
    pub(crate) async fn rotate(&self, rotation: &Rotation) -> Result<Option<FoundToken>, StoreError> {
        let Some(found) = self.get_user_token(&rotation.hash).await? else { return Ok(None) };
        let may_sign_in = found.user.enabled && found.user.deleted_at.is_none();
        if !rotation.admits(&found.token, found.used_at, may_sign_in) {
            return Ok(None);
        }
        let next = rotation.successors(&found.token).to_vec();
        let rotating = Rotating { hash: rotation.hash.clone(), now: rotation.now, next };
        if !self.commit_rotation(rotating).await? {
            return Ok(None);
        }
        Ok(Some(FoundToken { used_at: Some(rotation.now), ..found }))
    }

    /// Rotates a refresh token in the next shared commit, and answers once it is durable:
    /// `false` if the token was used already.
    async fn commit_rotation(&self, rotation: Rotating) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.rotations
            .send(RotateJob { rotation, reply })
            .await
            .map_err(|_| StoreError::backend("the committer has stopped"))?;
        match answer.await.map_err(|_| StoreError::backend("the committer dropped a rotation"))? {
            Ok(()) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stores an access token in the next shared commit, and answers once it is durable.
    pub(crate) async fn commit_app_token(&self, token: AppToken) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.app_tokens
            .send(AppTokenJob { token, reply })
            .await
            .map_err(|_| StoreError::backend("the committer has stopped"))?;
        answer.await.map_err(|_| StoreError::backend("the committer dropped an access token"))?
    }

    /// Adds a user in the next shared commit, and answers once it is durable.
    pub(crate) async fn commit_new_user(&self, new: NewUser<'_>) -> Result<(), StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = InsertJob {
            user: new.user.clone(),
            password_hash: new.password_hash.map(str::to_string),
            audit: new.audit.clone(),
            messages: new.messages.to_vec(),
            reply,
        };
        self.inserts.send(job).await.map_err(|_| StoreError::backend("the committer has stopped"))?;
        answer.await.map_err(|_| StoreError::backend("the committer dropped a new user"))?
    }

    /// Saves a user in the next shared commit, and answers once it is durable.
    pub(crate) async fn commit_save(&self, save: Accepted<'_>) -> Result<(), StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = SaveJob {
            before: save.before.clone(),
            after: save.after.clone(),
            audit: save.audit.to_vec(),
            messages: save.messages.to_vec(),
            reply,
        };
        self.saves.send(job).await.map_err(|_| StoreError::backend("the committer has stopped"))?;
        answer.await.map_err(|_| StoreError::backend("the committer dropped a save"))?
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::AuditAction;
    use roster_domain::store::{AuditStore, ImportStore, UserStore};

    use crate::sqlite::fixtures::{audit, user};
    use crate::sqlite::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn concurrent_saves_share_commits_but_conflicts_stay_their_own() {
        let data = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(data.path()).await.unwrap();
        let users: Vec<User> = (0..20).map(user).collect();
        store.insert_users_bulk(&mut std::iter::once(users.clone()), &audit(AuditAction::UserCreated)).await.unwrap();

        // Two saves of every user from version 1: exactly one of each pair may win.
        let mut tasks = Vec::new();
        for u in &users {
            for city in ["Leeds", "York"] {
                let store = store.clone();
                let before = u.clone();
                let mut next = u.clone();
                next.version = 2;
                next.updated_by = city.into();
                next.contact.city = Some(city.into());
                next.contact.alternate_emails = vec![format!("{city}@fabrikam.com")];
                tasks.push(tokio::spawn(async move {
                    store.save_user(&before, &next, &audit(AuditAction::ContactChanged), &[]).await
                }));
            }
        }
        let mut won = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => won += 1,
                Err(StoreError::VersionConflict { .. }) => conflicts += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((won, conflicts), (20, 20));
        for u in &users {
            let stored = store.get_user(u.id).await.unwrap().unwrap();
            assert_eq!(stored.version, 2);
            let city = stored.contact.city.clone().unwrap();
            assert_eq!(stored.updated_by, city, "the winner's whole change, nothing of the loser's");
            assert_eq!(stored.contact.alternate_emails, vec![format!("{city}@fabrikam.com")]);
        }
        let audits = store
            .list_audit(&roster_domain::AuditQuery {
                target: None,
                limit: 1000,
                ..roster_domain::AuditQuery::default()
            })
            .await
            .unwrap();
        let saved = audits.iter().filter(|a| a.action == AuditAction::ContactChanged).count();
        assert_eq!(saved, 20, "a refused save leaves no audit record");
    }

    #[tokio::test]
    async fn two_saves_of_one_user_in_one_batch_end_with_the_second() {
        let data = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(data.path()).await.unwrap();
        let u = user(0);
        store.insert_users_bulk(&mut std::iter::once(vec![u.clone()]), &audit(AuditAction::UserCreated)).await.unwrap();
        let mut first = u.clone();
        first.version = 2;
        first.contact.alternate_emails = vec!["a@fabrikam.com".into(), "b@fabrikam.com".into()];
        let mut second = first.clone();
        second.version = 3;
        second.contact.alternate_emails = vec!["c@fabrikam.com".into()];
        let job = |before: &User, after: &User| SaveJob {
            before: before.clone(),
            after: after.clone(),
            audit: vec![audit(AuditAction::ContactChanged)],
            messages: Vec::new(),
            reply: oneshot::channel().0,
        };
        let results = commit(&store.writer, &[job(&u, &first), job(&first, &second)]).await.unwrap();
        assert!(results.iter().all(Result::is_ok));
        let stored = store.get_user(u.id).await.unwrap().unwrap();
        assert_eq!((stored.version, stored.contact.alternate_emails), (3, vec!["c@fabrikam.com".to_string()]));
        let audits = store
            .list_audit(&roster_domain::AuditQuery { target: None, limit: 10, ..roster_domain::AuditQuery::default() })
            .await
            .unwrap();
        assert_eq!(audits.iter().filter(|a| a.action == AuditAction::ContactChanged).count(), 2);
    }

    #[tokio::test]
    async fn new_users_share_commits_and_a_taken_username_fails_alone() {
        let data = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(data.path()).await.unwrap();
        let mut users: Vec<User> = (0..30).map(user).collect();
        for (i, u) in users.iter_mut().enumerate() {
            u.contact.alternate_emails = vec![format!("alt{i}@fabrikam.com")];
        }
        let mut twin = user(7);
        twin.contact.display_name = "Twin".into();
        users.push(twin);
        let mut tasks = Vec::new();
        for u in users.clone() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let taken = results.iter().filter(|r| matches!(r, Err(StoreError::Duplicate(_)))).count();
        assert_eq!((results.iter().filter(|r| r.is_ok()).count(), taken), (30, 1));
        for (u, result) in users.iter().zip(&results) {
            let stored = store.get_user(u.id).await.unwrap();
            assert_eq!(stored.is_some(), result.is_ok(), "{}", u.contact.display_name);
            if let Some(stored) = stored {
                assert_eq!(stored.contact.alternate_emails, u.contact.alternate_emails);
            }
        }
        let audits = store
            .list_audit(&roster_domain::AuditQuery { limit: 100, ..roster_domain::AuditQuery::default() })
            .await
            .unwrap();
        assert_eq!(audits.len(), 30, "the refused user left no audit record");
    }
}
