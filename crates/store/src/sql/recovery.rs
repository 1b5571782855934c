//! Verified contacts, one-time codes and resets under way.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::outbox::Message;
use roster_domain::recovery::{ContactMethod, MethodKind, OneTimeCode, Purpose, ResetSession, Verification};
use roster_domain::store::RecoveryStore;
use roster_domain::user::UserId;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;

use super::rows::{parse_id, Params};

/// Users whose verifications one statement reads: a page of the longest list the APIs give.
const IDS_PER_QUERY: usize = DIALECT.rows_per_statement(1_000, 1);
use super::{audit, outbox, Connection, Row, Store, DIALECT};

/// Forgets the verification of contacts that changed or were removed (each with its user),
/// inside a save: a changed contact must be verified again.
pub(crate) async fn forget_changed(conn: &mut Connection, gone: &[(UserId, ContactMethod)]) -> Result<(), StoreError> {
    if gone.is_empty() {
        return Ok(());
    }
    let mut params = Params::default();
    let mut triples = Vec::with_capacity(gone.len());
    for (user, method) in gone {
        let user = params.push(user.to_string())?;
        let kind = params.push(method.kind.code())?;
        let value = params.push(method.value.clone())?;
        triples.push(format!("({user}, {kind}, {value})"));
    }
    let sql =
        format!("delete from contact_verifications where (user_id, method, value) in (values {})", triples.join(", "));
    sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await?;
    Ok(())
}

/// Deletes the rows of `table` whose `expires_at` is before `before`, inside the caller's
/// transaction. Rows that another transaction holds (another node sweeping the same rows) are
/// left to it rather than waited for, so concurrent sweeps never block or deadlock each other.
pub(crate) async fn sweep_expired(
    conn: &mut Connection,
    table: &str,
    key: &str,
    before: Timestamp,
) -> Result<(), StoreError> {
    let sql = format!(
        "delete from {table} where {}",
        (DIALECT.unlocked_among)(key, &format!("select {key} from {table} where expires_at < $1"))
    );
    sqlx::query(&sql).bind(before.millis()).execute(&mut *conn).await?;
    Ok(())
}

fn method_of(kind: &str, value: String) -> Result<ContactMethod, StoreError> {
    let kind =
        MethodKind::from_code(kind).ok_or_else(|| StoreError::backend(format!("unknown contact method {kind:?}")))?;
    Ok(ContactMethod { kind, value })
}

fn verification_from_row(row: &Row) -> Result<Verification, StoreError> {
    Ok(Verification {
        method: method_of(&row.try_get::<String, _>("method")?, row.try_get("value")?)?,
        verified_at: Timestamp(row.try_get("verified_at")?),
    })
}

fn code_from_row(row: &Row) -> Result<OneTimeCode, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name);
    let purpose = text("purpose")?;
    Ok(OneTimeCode {
        id: text("id")?,
        user_id: parse_id(&text("user_id")?)?,
        purpose: Purpose::from_code(&purpose)
            .ok_or_else(|| StoreError::backend(format!("unknown code purpose {purpose:?}")))?,
        method: method_of(&text("method")?, text("value")?)?,
        hash: text("code_hash")?,
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        used_at: row.try_get::<Option<i64>, _>("used_at")?.map(Timestamp),
    })
}

#[async_trait]
impl RecoveryStore for Store {
    async fn get_verifications(&self, user_id: UserId) -> Result<Vec<Verification>, StoreError> {
        let rows = sqlx::query("select method, value, verified_at from contact_verifications where user_id = $1")
            .bind(user_id.to_string())
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(verification_from_row).collect()
    }

    async fn get_verifications_of(&self, ids: &[UserId]) -> Result<Vec<(UserId, Verification)>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut params = Params::default();
            let keys = chunk.iter().map(|id| params.push(id.to_string())).collect::<Result<Vec<_>, _>>()?;
            let sql = format!(
                "select user_id, method, value, verified_at from contact_verifications where user_id in ({})",
                keys.join(", ")
            );
            for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await? {
                found.push((parse_id(&row.try_get::<String, _>("user_id")?)?, verification_from_row(&row)?));
            }
        }
        Ok(found)
    }

    async fn insert_code(
        &self,
        code: &OneTimeCode,
        entry: Option<&AuditEntry>,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Expired codes are of no use to anyone: each new code sweeps them out.
        sweep_expired(&mut tx, "one_time_codes", "id", code.created_at.plus_seconds(-60 * 60)).await?;
        sqlx::query(
            "insert into one_time_codes (id, user_id, purpose, method, value, code_hash, created_at, expires_at, \
             attempts, used_at) values ($1, $2, $3, $4, $5, $6, $7, $8, 0, null)",
        )
        .bind(&code.id)
        .bind(code.user_id.to_string())
        .bind(code.purpose.code())
        .bind(code.method.kind.code())
        .bind(&code.method.value)
        .bind(&code.hash)
        .bind(code.created_at.millis())
        .bind(code.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = entry {
            audit::insert(&mut tx, entry).await?;
        }
        outbox::insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    async fn get_code(&self, id: &str) -> Result<Option<OneTimeCode>, StoreError> {
        let row =
            sqlx::query("select * from one_time_codes where id = $1").bind(id).fetch_optional(self.writer()).await?;
        row.as_ref().map(code_from_row).transpose()
    }

    async fn latest_code(
        &self,
        user_id: UserId,
        purpose: Purpose,
        method: &ContactMethod,
    ) -> Result<Option<OneTimeCode>, StoreError> {
        let row = sqlx::query(
            "select * from one_time_codes where user_id = $1 and purpose = $2 and method = $3 and value = $4 \
             and used_at is null order by created_at desc limit 1",
        )
        .bind(user_id.to_string())
        .bind(purpose.code())
        .bind(method.kind.code())
        .bind(&method.value)
        .fetch_optional(self.writer())
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// A concurrent entry of the same code waits for this one's row lock and then re-checks
    /// `attempts < max` against the count this one left: the limit holds across nodes.
    async fn count_code_entry(&self, id: &str, max: u32) -> Result<Option<u32>, StoreError> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "update one_time_codes set attempts = attempts + 1 where id = $1 and used_at is null and attempts < $2 \
             returning attempts",
        )
        .bind(id)
        .bind(i64::from(max))
        .fetch_optional(self.writer())
        .await?;
        Ok(attempts.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    /// Of two nodes using the same code at once, the second waits for the first's row lock,
    /// then finds `used_at` set and matches nothing: a code works once.
    async fn use_code(
        &self,
        id: &str,
        at: Timestamp,
        verified: Option<(UserId, &Verification, &AuditEntry)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let used = sqlx::query("update one_time_codes set used_at = $1 where id = $2 and used_at is null")
            .bind(at.millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if used.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some((user, v, entry)) = verified {
            sqlx::query(
                "insert into contact_verifications (user_id, method, value, verified_at) values ($1, $2, $3, $4) \
                 on conflict (user_id, method, value) do update set verified_at = excluded.verified_at",
            )
            .bind(user.to_string())
            .bind(v.method.kind.code())
            .bind(&v.method.value)
            .bind(v.verified_at.millis())
            .execute(&mut *tx)
            .await?;
            audit::insert(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn save_reset(&self, r: &ResetSession) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sweep_expired(&mut tx, "reset_sessions", "token_hash", r.created_at).await?;
        sqlx::query(
            "insert into reset_sessions (token_hash, user_id, username, csrf_token, created_at, expires_at, proven, \
             code_id, code_method, code_expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             on conflict (token_hash) do update set proven = excluded.proven, code_id = excluded.code_id, \
             code_method = excluded.code_method, code_expires_at = excluded.code_expires_at",
        )
        .bind(&r.token_hash)
        .bind(r.user_id.map(|id| id.to_string()))
        .bind(&r.username)
        .bind(&r.csrf_token)
        .bind(r.created_at.millis())
        .bind(r.expires_at.millis())
        .bind(serde_json::to_string(&r.proven).map_err(StoreError::backend)?)
        .bind(&r.code_id)
        .bind(&r.code_method)
        .bind(r.code_expires_at.map(Timestamp::millis))
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    async fn get_reset(&self, token_hash: &str) -> Result<Option<ResetSession>, StoreError> {
        let Some(row) = sqlx::query("select * from reset_sessions where token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.writer())
            .await?
        else {
            return Ok(None);
        };
        let user_id: Option<String> = row.try_get("user_id")?;
        let proven: String = row.try_get("proven")?;
        Ok(Some(ResetSession {
            token_hash: row.try_get("token_hash")?,
            user_id: user_id.as_deref().map(parse_id).transpose()?,
            username: row.try_get("username")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: Timestamp(row.try_get("created_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
            proven: serde_json::from_str(&proven).map_err(StoreError::backend)?,
            code_id: row.try_get("code_id")?,
            code_method: row.try_get("code_method")?,
            code_expires_at: row.try_get::<Option<i64>, _>("code_expires_at")?.map(Timestamp),
        }))
    }

    async fn delete_reset(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from reset_sessions where token_hash = $1").bind(token_hash).execute(self.writer()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::{AuditAction, AuditQuery};
    use roster_domain::recovery::RESET_SESSION_SECONDS;
    use roster_domain::store::{AuditStore, OutboxStore, SessionStore, UserStore};
    use roster_domain::user::User;

    use super::super::fixtures::{audit, message, other_node, test_store, user};
    use super::*;

    fn code(id: &str, user: &User, created_at: i64) -> OneTimeCode {
        OneTimeCode {
            id: id.into(),
            user_id: user.id,
            purpose: Purpose::Verify,
            method: ContactMethod { kind: MethodKind::AlternateEmail, value: "a@fabrikam.com".into() },
            hash: format!("hash-{id}"),
            created_at: Timestamp(created_at),
            expires_at: Timestamp(created_at + 900_000),
            attempts: 0,
            used_at: None,
        }
    }

    async fn with_user(store: &Store) -> User {
        let mut u = user(1);
        u.contact.alternate_emails = vec!["a@fabrikam.com".into()];
        u.contact.mobile_phone = Some("+447700900123".into());
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        u
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_code_is_used_once_and_entered_at_most_max_times_across_nodes() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        let u = with_user(&store).await;
        store.insert_code(&code("c1", &u, 1_000), None, &[message(1)]).await.unwrap();
        assert_eq!(store.get_code("c1").await.unwrap(), Some(code("c1", &u, 1_000)));
        assert_eq!(store.list_outbox(None, 10).await.unwrap().len(), 1, "the code's message goes with it");

        let entries: Vec<_> = (0..20)
            .map(|i| {
                let s = if i % 2 == 0 { store.clone() } else { node.clone() };
                tokio::spawn(async move { s.count_code_entry("c1", 5).await.unwrap() })
            })
            .collect();
        let mut counted = Vec::new();
        for e in entries {
            counted.extend(e.await.unwrap());
        }
        counted.sort_unstable();
        assert_eq!(counted, [1, 2, 3, 4, 5], "each entry counted once, none past the limit");

        let uses: Vec<_> = (0..10)
            .map(|i| {
                let s = if i % 2 == 0 { store.clone() } else { node.clone() };
                tokio::spawn(async move { s.use_code("c1", Timestamp(2_000 + i), None).await.unwrap() })
            })
            .collect();
        let mut won = 0;
        for u in uses {
            won += usize::from(u.await.unwrap());
        }
        assert_eq!(won, 1, "a code works once");
        assert!(store.get_code("c1").await.unwrap().unwrap().used_at.is_some());
        assert_eq!(store.count_code_entry("c1", 50).await.unwrap(), None, "a used code takes no entries");
        assert_eq!(store.latest_code(u.id, Purpose::Verify, &code("c1", &u, 0).method).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_used_code_verifies_its_contact_until_the_contact_changes() {
        let Some((_db, store)) = test_store().await else { return };
        let u = with_user(&store).await;
        store.insert_code(&code("old", &u, 1_000), None, &[]).await.unwrap();
        store.insert_code(&code("new", &u, 2_000), Some(&audit(AuditAction::VerificationSent)), &[]).await.unwrap();
        let method = code("new", &u, 0).method;
        assert_eq!(store.latest_code(u.id, Purpose::Verify, &method).await.unwrap().unwrap().id, "new");

        let phone = ContactMethod { kind: MethodKind::MobilePhone, value: "+447700900123".into() };
        for (id, method) in [("new", method.clone()), ("phone", phone.clone())] {
            if id == "phone" {
                store
                    .insert_code(&OneTimeCode { method: method.clone(), ..code(id, &u, 3_000) }, None, &[])
                    .await
                    .unwrap();
            }
            let v = Verification { method, verified_at: Timestamp(5_000) };
            let entry = audit(AuditAction::ContactVerified);
            assert!(store.use_code(id, Timestamp(5_000), Some((u.id, &v, &entry))).await.unwrap());
        }
        let mut verified = store.get_verifications(u.id).await.unwrap();
        verified.sort_by_key(|v| v.method.key());
        assert_eq!(verified.iter().map(|v| v.method.clone()).collect::<Vec<_>>(), [method.clone(), phone.clone()]);

        let mut next = u.clone();
        next.version = 2;
        next.contact.alternate_emails = vec!["b@fabrikam.com".into()];
        store.save_user(&u, &next, &audit(AuditAction::ContactChanged), &[]).await.unwrap();
        let left = store.get_verifications(u.id).await.unwrap();
        assert_eq!(
            left.iter().map(|v| v.method.clone()).collect::<Vec<_>>(),
            [phone],
            "the changed address is unverified"
        );
        let audits = store.list_audit(&AuditQuery { target: None, limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(audits.iter().filter(|a| a.action == AuditAction::ContactVerified).count(), 2);
    }

    #[tokio::test]
    async fn new_codes_sweep_out_codes_expired_an_hour_ago() {
        let Some((_db, store)) = test_store().await else { return };
        let u = with_user(&store).await;
        store.insert_code(&code("ancient", &u, 0), None, &[]).await.unwrap();
        store.insert_code(&code("recent", &u, 4_000_000), None, &[]).await.unwrap();
        let now = 900_000 + 3_600_000 + 1;
        store.insert_code(&code("fresh", &u, now), None, &[]).await.unwrap();
        assert_eq!(store.get_code("ancient").await.unwrap(), None);
        assert!(store.get_code("recent").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn resets_and_locks_are_stored_changed_and_forgotten() {
        let Some((_db, store)) = test_store().await else { return };
        let u = with_user(&store).await;
        let reset = ResetSession {
            token_hash: "t1".into(),
            user_id: Some(u.id),
            username: "u1@contoso.com".into(),
            csrf_token: "csrf".into(),
            created_at: Timestamp(1_000),
            expires_at: Timestamp(1_000).plus_seconds(RESET_SESSION_SECONDS),
            proven: Vec::new(),
            code_id: Some("c".into()),
            code_method: Some("email:a@fabrikam.com".into()),
            code_expires_at: Some(Timestamp(2_000)),
        };
        store.save_reset(&reset).await.unwrap();
        let changed = ResetSession {
            proven: vec!["email:a@fabrikam.com".into()],
            code_id: None,
            code_method: None,
            code_expires_at: None,
            ..reset.clone()
        };
        store.save_reset(&changed).await.unwrap();
        assert_eq!(store.get_reset("t1").await.unwrap(), Some(changed.clone()));
        let stranger =
            ResetSession { token_hash: "t2".into(), user_id: None, username: "nobody@x.com".into(), ..reset };
        store.save_reset(&stranger).await.unwrap();
        assert_eq!(store.get_reset("t2").await.unwrap(), Some(stranger.clone()));
        let later = ResetSession {
            token_hash: "t3".into(),
            created_at: changed.expires_at.plus_seconds(1),
            expires_at: changed.expires_at.plus_seconds(900),
            ..stranger
        };
        store.save_reset(&later).await.unwrap();
        assert_eq!(store.get_reset("t1").await.unwrap(), None, "expired resets are swept by the next");
        store.delete_reset("t3").await.unwrap();
        assert_eq!(store.get_reset("t3").await.unwrap(), None);

        assert_eq!(store.get_lock("reset:x").await.unwrap(), None);
        store.set_lock("reset:x", Timestamp(10)).await.unwrap();
        store.set_lock("reset:x", Timestamp(20)).await.unwrap();
        assert_eq!(store.get_lock("reset:x").await.unwrap(), Some(Timestamp(20)));
    }
}
