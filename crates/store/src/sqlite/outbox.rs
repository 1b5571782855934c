//! The outbox: queued in the writer's transactions, claimed by delivery workers with a lease.

use std::collections::HashSet;

use roster_domain::outbox::{Channel, Claim, DeliveryState, Lease, Message, MessageKind, OutboxEntry, Outcome};
use roster_domain::{StoreError, Timestamp};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, Row, SqliteConnection};

use crate::sqlite::rows::parse_id;
use crate::sqlite::SqliteStore;

const COLUMNS: &str = "id, channel, kind, recipient, user_id, subject, body_text, body_html, created_at, state, \
    attempts, next_attempt_at, last_error, finished_at, redacted";

/// Rows per multi-row insert: nine parameters each, well inside SQLite's limit of 32,766.
const INSERT_CHUNK: usize = 100;

/// Queues messages inside the caller's transaction, due at once, in one statement per hundred
/// (a save's notices cost one round trip, not one each).
pub(crate) async fn insert(conn: &mut SqliteConnection, messages: &[Message]) -> Result<(), StoreError> {
    for chunk in messages.chunks(INSERT_CHUNK) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0)"; chunk.len()].join(", ");
        let sql = format!(
            "insert into outbox (channel, kind, recipient, user_id, subject, body_text, body_html, created_at, \
             state, attempts, next_attempt_at, redacted) values {rows}"
        );
        let mut args = SqliteArguments::default();
        for m in chunk {
            let add = |r: Result<(), sqlx::error::BoxDynError>| r;
            add(args.add(m.channel.code())).map_err(StoreError::backend)?;
            add(args.add(m.kind.code())).map_err(StoreError::backend)?;
            add(args.add(m.recipient.clone())).map_err(StoreError::backend)?;
            add(args.add(m.user_id.map(|id| id.to_string()))).map_err(StoreError::backend)?;
            add(args.add(m.subject.clone())).map_err(StoreError::backend)?;
            add(args.add(m.text.clone())).map_err(StoreError::backend)?;
            add(args.add(m.html.clone())).map_err(StoreError::backend)?;
            add(args.add(m.created_at.millis())).map_err(StoreError::backend)?;
            add(args.add(m.created_at.millis())).map_err(StoreError::backend)?;
        }
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Held messages recorded by one statement, within SQLite's limit on parameters.
const HELD_PER_STATEMENT: usize = 500;

/// Records what one attempt came to, releasing its lease, if the message is still under `lease`
/// (and so has no outcome yet); returns whether it was.
async fn record(
    conn: &mut SqliteConnection,
    lease: Lease,
    id: i64,
    outcome: &Outcome,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let query = match outcome {
        Outcome::Delivered { redact } => sqlx::query(
            "update outbox set state = 'delivered', finished_at = ?, lease_until = null, last_error = null, \
             redacted = ?, body_text = case when ? then '' else body_text end, \
             body_html = case when ? then null else body_html end \
             where id = ? and lease_until = ? and state = 'pending'",
        )
        .bind(at.millis())
        .bind(redact)
        .bind(redact)
        .bind(redact),
        Outcome::Retry { error, at: next } => sqlx::query(
            "update outbox set next_attempt_at = ?, last_error = ?, lease_until = null \
             where id = ? and lease_until = ? and state = 'pending'",
        )
        .bind(next.millis())
        .bind(error),
        // A message given up is never sent: its body (a code, perhaps) is erased too.
        Outcome::Failed { error } => sqlx::query(
            "update outbox set state = 'failed', finished_at = ?, last_error = ?, lease_until = null, \
             body_text = '', body_html = null, redacted = 1 where id = ? and lease_until = ? and state = 'pending'",
        )
        .bind(at.millis())
        .bind(error),
        Outcome::Held => sqlx::query(
            "update outbox set state = 'held', finished_at = ?, lease_until = null \
             where id = ? and lease_until = ? and state = 'pending'",
        )
        .bind(at.millis()),
    };
    let done = query.bind(id).bind(lease.until.millis()).execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Taken messages, in the order they fell due.
fn in_due_order(rows: &[SqliteRow]) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut entries = rows.iter().map(entry_from_row).collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| (e.next_attempt_at, e.message.id));
    Ok(entries)
}

fn entry_from_row(row: &SqliteRow) -> Result<OutboxEntry, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name);
    let int = |name: &str| row.try_get::<i64, _>(name);
    let unknown = |what: &str, value: String| StoreError::backend(format!("unknown outbox {what} {value:?}"));
    let channel = text("channel")?;
    let kind = text("kind")?;
    let state = text("state")?;
    let user_id: Option<String> = row.try_get("user_id")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    Ok(OutboxEntry {
        message: Message {
            id: int("id")?,
            channel: Channel::from_code(&channel).ok_or_else(|| unknown("channel", channel))?,
            kind: MessageKind::from_code(&kind).ok_or_else(|| unknown("kind", kind))?,
            recipient: text("recipient")?,
            user_id: user_id.as_deref().map(parse_id).transpose()?,
            subject: text("subject")?,
            text: text("body_text")?,
            html: row.try_get("body_html")?,
            created_at: Timestamp(int("created_at")?),
        },
        state: DeliveryState::from_code(&state).ok_or_else(|| unknown("state", state))?,
        attempts: u32::try_from(int("attempts")?).unwrap_or(u32::MAX),
        next_attempt_at: Timestamp(int("next_attempt_at")?),
        last_error: row.try_get("last_error")?,
        finished_at: finished_at.map(Timestamp),
        redacted: row.try_get("redacted")?,
    })
}

impl SqliteStore {
    pub(crate) async fn queue_messages(&self, messages: &[Message]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn record(
        &self,
        entry: &roster_domain::AuditEntry,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        crate::sqlite::audit::insert(&mut tx, entry).await?;
        insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    pub(crate) async fn claim_messages(
        &self,
        now: Timestamp,
        channels: &[Channel],
        limit: u32,
    ) -> Result<Claim, StoreError> {
        let lease = Lease::claimed_at(now);
        if channels.is_empty() {
            return Ok(Claim { lease, entries: Vec::new() });
        }
        let sql = format!(
            "update outbox set lease_until = ?, attempts = attempts + 1 where id in (select id from outbox \
             where state = 'pending' and next_attempt_at <= ? and (lease_until is null or lease_until <= ?) \
             and channel in ({}) order by next_attempt_at, id limit ?) returning {COLUMNS}",
            vec!["?"; channels.len()].join(", ")
        );
        let mut query = sqlx::query(&sql).bind(lease.until.millis()).bind(now.millis()).bind(now.millis());
        for channel in channels {
            query = query.bind(channel.code());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.writer).await?;
        Ok(Claim { lease, entries: in_due_order(&rows)? })
    }

    /// The claim's selection, marked held at once: no lease, since nothing will be sent.
    pub(crate) async fn hold_messages(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let sql = format!(
            "update outbox set state = 'held', finished_at = ?, lease_until = null, attempts = attempts + 1 \
             where id in (select id from outbox where state = 'pending' and next_attempt_at <= ? \
             and (lease_until is null or lease_until <= ?) order by next_attempt_at, id limit ?) returning {COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(now.millis())
            .bind(now.millis())
            .bind(now.millis())
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        in_due_order(&rows)
    }

    pub(crate) async fn record_deliveries(
        &self,
        lease: Lease,
        outcomes: &[(i64, Outcome)],
        at: Timestamp,
    ) -> Result<Vec<i64>, StoreError> {
        let mut lost = Vec::new();
        let mut tx = self.writer.begin().await?;
        // Held messages, the bulk of a round without transports, are recorded by one statement:
        // each statement is a round trip to the writer's thread that saves wait behind.
        let held: Vec<i64> = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Held)).map(|(id, _)| *id).collect();
        for ids in held.chunks(HELD_PER_STATEMENT) {
            let sql = format!(
                "update outbox set state = 'held', finished_at = ?, lease_until = null where lease_until = ? \
                 and state = 'pending' and id in ({}) returning id",
                vec!["?"; ids.len()].join(", ")
            );
            let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(at.millis()).bind(lease.until.millis());
            for id in ids {
                query = query.bind(id);
            }
            let recorded: HashSet<i64> = query.fetch_all(&mut *tx).await?.into_iter().collect();
            lost.extend(ids.iter().filter(|id| !recorded.contains(id)));
        }
        for (id, outcome) in outcomes.iter().filter(|(_, o)| !matches!(o, Outcome::Held)) {
            if !record(&mut tx, lease, *id, outcome, at).await? {
                lost.push(*id);
            }
        }
        tx.commit().await?;
        lost.sort_unstable();
        Ok(lost)
    }

    pub(crate) async fn list_outbox(&self, before: Option<i64>, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let sql = format!("select {COLUMNS} from outbox where id < ? order by id desc limit ?");
        let rows =
            sqlx::query(&sql).bind(before.unwrap_or(i64::MAX)).bind(i64::from(limit)).fetch_all(&self.readers).await?;
        rows.iter().map(entry_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::outbox::LEASE_SECONDS;
    #[allow(unused_imports)]
    use roster_domain::store::*;

    use super::*;

    /// Message number `i`, an email or a text by parity (its id is `i + 1`).
    fn message(i: i64) -> Message {
        Message {
            id: 0,
            channel: if i % 2 == 0 { Channel::Email } else { Channel::Sms },
            kind: MessageKind::Notice,
            recipient: format!("r{i}@contoso.com"),
            user_id: None,
            subject: format!("Subject {i}"),
            text: format!("Body {i}"),
            html: Some(format!("<p>Body {i}</p>")),
            created_at: Timestamp(1_000 + i),
        }
    }

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let data = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(data.path()).await.unwrap();
        (data, store)
    }

    fn ids(entries: &[OutboxEntry]) -> Vec<i64> {
        entries.iter().map(|e| e.message.id).collect()
    }

    #[tokio::test]
    async fn a_claimed_message_goes_to_one_worker_until_its_lease_runs_out() {
        let (_data, store) = store().await;
        store.queue_messages(&(0..5).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let first = store.claim_messages(now, &Channel::ALL, 3).await.unwrap();
        let second = store.claim_messages(now, &Channel::ALL, 16).await.unwrap();
        assert_eq!(ids(&first.entries), [1, 2, 3], "oldest first");
        assert_eq!(ids(&second.entries), [4, 5], "a second worker gets only the rest");
        assert_eq!(first.lease, Lease { until: now.plus_seconds(LEASE_SECONDS) });
        assert!(store.claim_messages(now, &Channel::ALL, 16).await.unwrap().entries.is_empty());
        assert!(first.entries.iter().all(|e| e.attempts == 1 && e.state == DeliveryState::Pending));
        assert_eq!(first.entries[0].message, Message { id: 1, ..message(0) });

        // The worker holding 1–3 died: after the lease, another takes them over.
        let later = now.plus_seconds(LEASE_SECONDS);
        let taken_over = store.claim_messages(later, &Channel::ALL, 16).await.unwrap();
        assert_eq!(ids(&taken_over.entries), [1, 2, 3, 4, 5]);
        assert!(taken_over.entries.iter().all(|e| e.attempts == 2));
    }

    #[tokio::test]
    async fn a_claim_takes_only_the_channels_it_names() {
        let (_data, store) = store().await;
        store.queue_messages(&(0..6).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        assert!(store.claim_messages(now, &[], 16).await.unwrap().entries.is_empty(), "no channel, nothing");
        let email = store.claim_messages(now, &[Channel::Email], 16).await.unwrap();
        assert_eq!(ids(&email.entries), [1, 3, 5]);
        assert!(email.entries.iter().all(|e| e.message.channel == Channel::Email));
        assert!(store.claim_messages(now, &[Channel::Email], 16).await.unwrap().entries.is_empty());
        let listed = store.list_outbox(None, 10).await.unwrap();
        let texts: Vec<_> = listed.iter().filter(|e| e.message.channel == Channel::Sms).collect();
        assert_eq!(texts.len(), 3);
        assert!(texts.iter().all(|e| e.state == DeliveryState::Pending && e.attempts == 0), "left untouched");
        let sms = store.claim_messages(now, &[Channel::Sms], 16).await.unwrap();
        assert_eq!(ids(&sms.entries), [2, 4, 6], "there for a worker that can send them");
    }

    #[tokio::test]
    async fn recorded_outcomes_decide_what_is_claimed_again() {
        let (_data, store) = store().await;
        store.queue_messages(&(0..4).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let lease = store.claim_messages(now, &Channel::ALL, 16).await.unwrap().lease;
        store.record_deliveries(lease, &[(1, Outcome::Delivered { redact: true })], now).await.unwrap();
        let retry_at = Timestamp(20_000);
        let retry = Outcome::Retry { error: "busy".into(), at: retry_at };
        store.record_deliveries(lease, &[(2, retry)], now).await.unwrap();
        store.record_deliveries(lease, &[(3, Outcome::Failed { error: "no such user".into() })], now).await.unwrap();
        let lost = store.record_deliveries(lease, &[(4, Outcome::Held)], now).await.unwrap();
        assert!(lost.is_empty(), "all recorded");

        let claim = |at| store.claim_messages(at, &Channel::ALL, 16);
        assert!(claim(Timestamp(19_999)).await.unwrap().entries.is_empty(), "the retry is not due yet");
        let due = claim(retry_at).await.unwrap().entries;
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].message.id, due[0].attempts, due[0].last_error.as_deref()), (2, 2, Some("busy")));

        let listed = store.list_outbox(None, 10).await.unwrap();
        let by_id = |id: i64| listed.iter().find(|e| e.message.id == id).unwrap();
        let delivered = by_id(1);
        assert_eq!(delivered.state, DeliveryState::Delivered);
        assert!(delivered.redacted && delivered.message.text.is_empty() && delivered.message.html.is_none());
        assert_eq!(delivered.finished_at, Some(now));
        assert_eq!((by_id(3).state, by_id(3).last_error.as_deref()), (DeliveryState::Failed, Some("no such user")));
        assert!(by_id(3).redacted && by_id(3).message.text.is_empty(), "a failed message keeps no body");
        let late = store.record_deliveries(lease, &[(1, Outcome::Failed { error: "late".into() })], now).await;
        assert_eq!(late.unwrap(), [1], "reported as not recorded");
        let late = store.list_outbox(None, 10).await.unwrap();
        assert_eq!(late.iter().find(|e| e.message.id == 1).unwrap().state, DeliveryState::Delivered, "not overwritten");
        assert_eq!(by_id(4).state, DeliveryState::Held);
        assert_eq!(by_id(4).message.text, "Body 3", "held messages keep their bodies");
        assert_eq!(ids(&listed), [4, 3, 2, 1], "newest first");
        assert_eq!(store.list_outbox(Some(3), 10).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_late_record_after_a_takeover_changes_nothing() {
        let (_data, store) = store().await;
        store.queue_messages(&(0..3).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let overran = store.claim_messages(now, &Channel::ALL, 16).await.unwrap();
        let later = now.plus_seconds(LEASE_SECONDS);
        let taken_over = store.claim_messages(later, &Channel::ALL, 2).await.unwrap();
        assert_eq!(ids(&taken_over.entries), [1, 2]);

        // The first worker's sends finally come back: what it says of 1 and 2 is not its to say.
        let retry = Outcome::Retry { error: "busy".into(), at: later };
        let outcomes = [(1, retry), (2, Outcome::Held), (3, Outcome::Delivered { redact: true })];
        assert_eq!(store.record_deliveries(overran.lease, &outcomes, later).await.unwrap(), [1, 2]);
        let listed = store.list_outbox(None, 10).await.unwrap();
        let by_id = |id: i64| listed.iter().find(|e| e.message.id == id).unwrap();
        assert!([1, 2].map(by_id).iter().all(|e| e.state == DeliveryState::Pending && e.last_error.is_none()));
        assert_eq!(by_id(3).state, DeliveryState::Delivered, "still under its lease");
        let third = store.claim_messages(later.plus_seconds(1), &Channel::ALL, 16).await.unwrap();
        assert!(third.entries.is_empty(), "the new lease still holds: nobody else takes them");

        let outcomes = [(1, Outcome::Delivered { redact: true }), (2, Outcome::Failed { error: "refused".into() })];
        assert!(store.record_deliveries(taken_over.lease, &outcomes, later).await.unwrap().is_empty());
        let listed = store.list_outbox(None, 10).await.unwrap();
        let states: Vec<_> = listed.iter().map(|e| e.state).collect();
        assert_eq!(states, [DeliveryState::Delivered, DeliveryState::Failed, DeliveryState::Delivered]);
    }

    #[tokio::test]
    async fn a_round_of_held_messages_is_recorded_together_with_the_others() {
        let (_data, store) = store().await;
        let count = HELD_PER_STATEMENT as i64 + 20;
        store.queue_messages(&(0..count).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let claimed = store.claim_messages(now, &Channel::ALL, count as u32).await.unwrap();
        assert_eq!(claimed.entries.len() as i64, count);
        let lease = claimed.lease;
        store.record_deliveries(lease, &[(2, Outcome::Delivered { redact: true })], now).await.unwrap();
        let mut round: Vec<(i64, Outcome)> = claimed.entries.iter().map(|e| (e.message.id, Outcome::Held)).collect();
        round[0].1 = Outcome::Retry { error: "busy".into(), at: Timestamp(20_000) };
        assert_eq!(store.record_deliveries(lease, &round, now).await.unwrap(), [2], "already recorded");

        let listed = store.list_outbox(None, 1_000).await.unwrap();
        let state = |id: i64| listed.iter().find(|e| e.message.id == id).unwrap().state;
        assert_eq!(state(1), DeliveryState::Pending, "the retry waits");
        assert_eq!(state(2), DeliveryState::Delivered, "a recorded outcome is never overwritten");
        assert!((3..=count).all(|id| state(id) == DeliveryState::Held), "past one statement's worth too");
    }

    #[tokio::test]
    async fn holding_takes_what_a_claim_would_and_records_it_at_once() {
        let (_data, store) = store().await;
        store.queue_messages(&(0..5).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let leased = store.claim_messages(now, &Channel::ALL, 1).await.unwrap().entries;
        let held = store.hold_messages(now, 16).await.unwrap();
        assert_eq!(ids(&held), [2, 3, 4, 5], "not the leased one, every channel");
        assert!(held.iter().all(|e| e.state == DeliveryState::Held && e.attempts == 1 && e.finished_at == Some(now)));
        assert!(store.hold_messages(now, 16).await.unwrap().is_empty(), "held once");
        let listed = store.list_outbox(None, 10).await.unwrap();
        let first = listed.iter().find(|e| e.message.id == leased[0].message.id).unwrap();
        assert_eq!(first.state, DeliveryState::Pending, "its worker records it");
    }
}
