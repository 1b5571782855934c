//! The outbox: queued in the transactions of the changes that cause it, claimed by delivery
//! workers on any node with a lease.

use std::collections::HashSet;

use async_trait::async_trait;
use roster_domain::outbox::{Channel, Claim, DeliveryState, Lease, Message, MessageKind, OutboxEntry, Outcome};
use roster_domain::store::OutboxStore;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;

use super::rows::{flag, get_flag, parse_id, Params};
use super::{Connection, Row, Store, DIALECT, FOR_UPDATE};

const COLUMNS: &str = "id, channel, kind, recipient, user_id, subject, body_text, body_html, created_at, state, \
    attempts, next_attempt_at, last_error, finished_at, redacted";

/// Messages per insert statement (a save's notices cost one round trip, not one each).
const INSERT_CHUNK: usize = 100;

/// Queues messages inside the caller's transaction, due at once.
pub(crate) async fn insert(conn: &mut Connection, messages: &[Message]) -> Result<(), StoreError> {
    for chunk in messages.chunks(INSERT_CHUNK) {
        let mut params = Params::default();
        let mut rows = Vec::with_capacity(chunk.len());
        for m in chunk {
            let row = [
                params.push(m.channel.code())?,
                params.push(m.kind.code())?,
                params.push(m.recipient.clone())?,
                params.push(m.user_id.map(|id| id.to_string()))?,
                params.push(m.subject.clone())?,
                params.push(m.text.clone())?,
                params.push(m.html.clone())?,
                params.push(m.created_at.millis())?,
            ];
            let created_at = &row[7];
            rows.push(format!("({}, 'pending', 0, {created_at}, 0)", row.join(", ")));
        }
        let sql = format!(
            "insert into outbox (channel, kind, recipient, user_id, subject, body_text, body_html, created_at, \
             state, attempts, next_attempt_at, redacted) values {}",
            rows.join(", ")
        );
        sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records what one attempt came to, releasing its lease, if the message is still under `lease`
/// (and so has no outcome yet); returns whether it was.
async fn record(
    conn: &mut Connection,
    lease: Lease,
    id: i64,
    outcome: &Outcome,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let query = match outcome {
        Outcome::Delivered { redact } => sqlx::query(
            "update outbox set state = 'delivered', finished_at = $1, lease_until = null, last_error = null, \
             redacted = $2, body_text = case when $2 = 1 then '' else body_text end, \
             body_html = case when $2 = 1 then null else body_html end \
             where id = $3 and lease_until = $4 and state = 'pending'",
        )
        .bind(at.millis())
        .bind(flag(*redact)),
        Outcome::Retry { error, at: next } => sqlx::query(
            "update outbox set next_attempt_at = $1, last_error = $2, lease_until = null \
             where id = $3 and lease_until = $4 and state = 'pending'",
        )
        .bind(next.millis())
        .bind(error),
        // A message given up is never sent: its body (a code, perhaps) is erased too.
        Outcome::Failed { error } => sqlx::query(
            "update outbox set state = 'failed', finished_at = $1, last_error = $2, lease_until = null, \
             body_text = '', body_html = null, redacted = 1 where id = $3 and lease_until = $4 and state = 'pending'",
        )
        .bind(at.millis())
        .bind(error),
        Outcome::Held => sqlx::query(
            "update outbox set state = 'held', finished_at = $1, lease_until = null \
             where id = $2 and lease_until = $3 and state = 'pending'",
        )
        .bind(at.millis()),
    };
    let done = query.bind(id).bind(lease.until.millis()).execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Taken messages, in the order they fell due.
/// Held messages recorded by one statement.
const HELD_PER_STATEMENT: usize = 500;

/// Records held messages (in the order of their ids) as [`record`] does, in one statement;
/// returns those left unrecorded.
async fn record_held(conn: &mut Connection, lease: Lease, ids: &[i64], at: Timestamp) -> Result<Vec<i64>, StoreError> {
    let mut params = Params::default();
    let (finished, held_under) = (params.push(at.millis())?, params.push(lease.until.millis())?);
    let list = ids.iter().map(|id| params.push(*id)).collect::<Result<Vec<_>, _>>()?;
    if !FOR_UPDATE.is_empty() {
        // One update locks its rows in the order its plan meets them: take them in id order
        // first, as the one-by-one outcomes are, so that two workers cannot deadlock.
        let mut locks = Params::default();
        let ids_again = ids.iter().map(|id| locks.push(*id)).collect::<Result<Vec<_>, _>>()?;
        let lock = format!("select id from outbox where id in ({}) order by id{FOR_UPDATE}", ids_again.join(", "));
        sqlx::query_with(&lock, locks.into_arguments()).execute(&mut *conn).await?;
    }
    let sql = format!(
        "update outbox set state = 'held', finished_at = {finished}, lease_until = null where lease_until = \
         {held_under} and state = 'pending' and id in ({}) returning id",
        list.join(", ")
    );
    let recorded: HashSet<i64> =
        sqlx::query_scalar_with(&sql, params.into_arguments()).fetch_all(&mut *conn).await?.into_iter().collect();
    Ok(ids.iter().copied().filter(|id| !recorded.contains(id)).collect())
}

fn in_due_order(rows: &[Row]) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut entries = rows.iter().map(entry_from_row).collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| (e.next_attempt_at, e.message.id));
    Ok(entries)
}

fn entry_from_row(row: &Row) -> Result<OutboxEntry, StoreError> {
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
        redacted: get_flag(row, "redacted")?,
    })
}

#[async_trait]
impl OutboxStore for Store {
    async fn queue_messages(&self, messages: &[Message]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert(&mut tx, messages).await?;
        Ok(tx.commit().await?)
    }

    /// One statement, which passes over rows another worker is claiming at this moment instead
    /// of waiting for them (see `unlocked_among` in `crate::dialect`). The channels are a list of parameters, a
    /// plain filter on the rows the due index yields.
    async fn claim_messages(&self, now: Timestamp, channels: &[Channel], limit: u32) -> Result<Claim, StoreError> {
        let lease = Lease::claimed_at(now);
        if channels.is_empty() {
            return Ok(Claim { lease, entries: Vec::new() });
        }
        let mut params = Params::default();
        let until = params.push(lease.until.millis())?;
        let due = params.push(now.millis())?;
        let codes = channels.iter().map(|c| params.push(c.code())).collect::<Result<Vec<_>, _>>()?.join(", ");
        let limit = params.push(i64::from(limit))?;
        let sql = format!(
            "update outbox set lease_until = {until}, attempts = attempts + 1 where {} returning {COLUMNS}",
            (DIALECT.unlocked_among)(
                "id",
                &format!(
                    "select id from outbox where state = 'pending' and next_attempt_at <= {due} and (lease_until \
                     is null or lease_until <= {due}) and channel in ({codes}) order by next_attempt_at, id \
                     limit {limit}"
                )
            )
        );
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.writer()).await?;
        Ok(Claim { lease, entries: in_due_order(&rows)? })
    }

    /// The claim's selection, marked held at once: no lease, since nothing will be sent; rows
    /// another worker is claiming are skipped as in `claim_messages`.
    async fn hold_messages(
        &self,
        now: Timestamp,
        channels: &[Channel],
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Params::default();
        let due = params.push(now.millis())?;
        let codes = channels.iter().map(|c| params.push(c.code())).collect::<Result<Vec<_>, _>>()?.join(", ");
        let limit = params.push(i64::from(limit))?;
        let sql = format!(
            "update outbox set state = 'held', finished_at = {due}, lease_until = null, attempts = attempts + 1 \
             where {} returning {COLUMNS}",
            (DIALECT.unlocked_among)(
                "id",
                &format!(
                    "select id from outbox where state = 'pending' and next_attempt_at <= {due} and (lease_until \
                     is null or lease_until <= {due}) and channel in ({codes}) order by next_attempt_at, id \
                     limit {limit}"
                )
            )
        );
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.writer()).await?;
        in_due_order(&rows)
    }

    /// In one transaction, in the order of the ids (the same id keeps its outcomes' order):
    /// two workers holding overlapping messages, after a lease ran out, then lock them in the
    /// same order and cannot deadlock. A run of held messages, the bulk of a round without
    /// transports, is recorded by one statement (its ids in order too).
    async fn record_deliveries(
        &self,
        lease: Lease,
        outcomes: &[(i64, Outcome)],
        at: Timestamp,
    ) -> Result<Vec<i64>, StoreError> {
        let mut ordered: Vec<&(i64, Outcome)> = outcomes.iter().collect();
        ordered.sort_by_key(|(id, _)| *id);
        let mut lost = Vec::new();
        let mut tx = self.begin_write().await?;
        for run in ordered.chunk_by(|(_, a), (_, b)| matches!(a, Outcome::Held) && matches!(b, Outcome::Held)) {
            if let [(_, Outcome::Held), ..] = run {
                for ids in run.chunks(HELD_PER_STATEMENT) {
                    let ids: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
                    lost.extend(record_held(&mut tx, lease, &ids, at).await?);
                }
                continue;
            }
            for (id, outcome) in run {
                if !record(&mut tx, lease, *id, outcome, at).await? {
                    lost.push(*id);
                }
            }
        }
        tx.commit().await?;
        Ok(lost)
    }

    async fn list_outbox(&self, before: Option<i64>, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let sql = format!("select {COLUMNS} from outbox where id < $1 order by id desc limit $2");
        let rows =
            sqlx::query(&sql).bind(before.unwrap_or(i64::MAX)).bind(i64::from(limit)).fetch_all(self.reader()).await?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn trim_outbox(&self, finished_before: Timestamp, keep_held: u32) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let finished = sqlx::query("delete from outbox where state in ('delivered', 'failed') and finished_at < $1")
            .bind(finished_before.millis())
            .execute(&mut *tx)
            .await?;
        let held = sqlx::query(
            "delete from outbox where state = 'held' and id <= coalesce((select id from outbox where state = 'held' \
             order by id desc limit 1 offset $1), 0)",
        )
        .bind(i64::from(keep_held))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(finished.rows_affected() + held.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use roster_domain::outbox::LEASE_SECONDS;

    use super::super::fixtures::{message, other_node, test_store};
    use super::*;

    fn ids(entries: &[OutboxEntry]) -> Vec<i64> {
        entries.iter().map(|e| e.message.id).collect()
    }

    #[tokio::test]
    async fn a_claimed_message_goes_to_one_worker_until_its_lease_runs_out() {
        let Some((_db, store)) = test_store().await else { return };
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
    async fn trimming_removes_old_finished_messages_and_all_but_the_newest_held() {
        let Some((_db, store)) = test_store().await else { return };
        store.queue_messages(&(0..7).map(message).collect::<Vec<_>>()).await.unwrap();
        for (ids, state, finished) in [("1, 2", "delivered", 100), ("3", "failed", 5_000), ("4, 5, 6", "held", 100)] {
            sqlx::query(&format!("update outbox set state = '{state}', finished_at = {finished} where id in ({ids})"))
                .execute(store.writer())
                .await
                .unwrap();
        }
        assert_eq!(store.trim_outbox(Timestamp(1_000), 2).await.unwrap(), 3);
        let left = store.list_outbox(None, 10).await.unwrap();
        assert_eq!(ids(&left), [7, 6, 5, 3], "the pending one, the two newest held, the recent failure");
        assert_eq!(store.trim_outbox(Timestamp(1_000), 2).await.unwrap(), 0, "nothing more to trim");
    }

    #[tokio::test]
    async fn a_claim_takes_only_the_channels_it_names() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
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
        let sms = node.claim_messages(now, &[Channel::Sms, Channel::Email], 16).await.unwrap();
        assert_eq!(ids(&sms.entries), [2, 4, 6], "there for a node that can send them");
    }

    #[tokio::test]
    async fn recorded_outcomes_decide_what_is_claimed_again() {
        let Some((_db, store)) = test_store().await else { return };
        store.queue_messages(&(0..4).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let lease = store.claim_messages(now, &Channel::ALL, 16).await.unwrap().lease;
        store.record_deliveries(lease, &[(1, Outcome::Delivered { redact: true })], now).await.unwrap();
        let retry_at = Timestamp(20_000);
        let outcomes = [(4, Outcome::Held), (3, Outcome::Failed { error: "no such user".into() })];
        assert!(store.record_deliveries(lease, &outcomes, now).await.unwrap().is_empty(), "all recorded");
        let retry = Outcome::Retry { error: "busy".into(), at: retry_at };
        store.record_deliveries(lease, &[(2, retry)], now).await.unwrap();

        let claim = |at| store.claim_messages(at, &Channel::ALL, 16);
        assert!(claim(Timestamp(19_999)).await.unwrap().entries.is_empty(), "the retry is not due yet");
        let due = claim(retry_at).await.unwrap();
        assert_eq!(due.entries.len(), 1);
        let first = &due.entries[0];
        assert_eq!((first.message.id, first.attempts, first.last_error.as_deref()), (2, 2, Some("busy")));

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

        store.record_deliveries(due.lease, &[(2, Outcome::Delivered { redact: false })], now).await.unwrap();
        let kept = store.list_outbox(None, 10).await.unwrap();
        let kept = kept.iter().find(|e| e.message.id == 2).unwrap();
        assert!(!kept.redacted && kept.message.text == "Body 1", "delivered unredacted keeps its body");
    }

    #[tokio::test]
    async fn a_late_record_after_a_takeover_changes_nothing() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        store.queue_messages(&(0..3).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let overran = store.claim_messages(now, &Channel::ALL, 16).await.unwrap();
        let later = now.plus_seconds(LEASE_SECONDS);
        let taken_over = node.claim_messages(later, &Channel::ALL, 2).await.unwrap();
        assert_eq!(ids(&taken_over.entries), [1, 2]);

        // The first node's sends finally come back: what it says of 1 and 2 is not its to say.
        let retry = Outcome::Retry { error: "busy".into(), at: later };
        let outcomes = [(2, Outcome::Held), (1, retry), (3, Outcome::Delivered { redact: true })];
        assert_eq!(store.record_deliveries(overran.lease, &outcomes, later).await.unwrap(), [1, 2]);
        let listed = store.list_outbox(None, 10).await.unwrap();
        let by_id = |id: i64| listed.iter().find(|e| e.message.id == id).unwrap();
        assert!([1, 2].map(by_id).iter().all(|e| e.state == DeliveryState::Pending && e.last_error.is_none()));
        assert_eq!(by_id(3).state, DeliveryState::Delivered, "still under its lease");
        let third = store.claim_messages(later.plus_seconds(1), &Channel::ALL, 16).await.unwrap();
        assert!(third.entries.is_empty(), "the new lease still holds: nobody else takes them");

        let outcomes = [(1, Outcome::Delivered { redact: true }), (2, Outcome::Failed { error: "refused".into() })];
        assert!(node.record_deliveries(taken_over.lease, &outcomes, later).await.unwrap().is_empty());
        let listed = store.list_outbox(None, 10).await.unwrap();
        let states: Vec<_> = listed.iter().map(|e| e.state).collect();
        assert_eq!(states, [DeliveryState::Delivered, DeliveryState::Failed, DeliveryState::Delivered]);
    }

    #[tokio::test]
    async fn a_round_of_held_messages_is_recorded_together_with_the_others() {
        let Some((_db, store)) = test_store().await else { return };
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
        let Some((_db, store)) = test_store().await else { return };
        store.queue_messages(&(0..5).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let leased = store.claim_messages(now, &Channel::ALL, 1).await.unwrap().entries;
        let held = store.hold_messages(now, &Channel::ALL, 16).await.unwrap();
        assert_eq!(ids(&held), [2, 3, 4, 5], "not the leased one, every channel");
        assert!(held.iter().all(|e| e.state == DeliveryState::Held && e.attempts == 1 && e.finished_at == Some(now)));
        assert!(store.hold_messages(now, &Channel::ALL, 16).await.unwrap().is_empty(), "held once");
        let listed = store.list_outbox(None, 10).await.unwrap();
        let first = listed.iter().find(|e| e.message.id == leased[0].message.id).unwrap();
        assert_eq!(first.state, DeliveryState::Pending, "its worker records it");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn workers_on_two_nodes_never_take_the_same_message() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        store.queue_messages(&(0..300).map(message).collect::<Vec<_>>()).await.unwrap();
        let now = Timestamp(10_000);
        let mut workers = Vec::new();
        for w in 0..8 {
            let store = if w % 2 == 0 { store.clone() } else { node.clone() };
            workers.push(tokio::spawn(async move {
                let mut claimed = Vec::new();
                loop {
                    // Some workers hold what they take, some send one channel only.
                    let batch = match w % 4 {
                        3 => store.hold_messages(now, &Channel::ALL, 7).await.unwrap(),
                        1 => store.claim_messages(now, &[Channel::Sms], 7).await.unwrap().entries,
                        _ => store.claim_messages(now, &Channel::ALL, 7).await.unwrap().entries,
                    };
                    assert!(batch.len() <= 7, "never more than asked for");
                    if w % 4 == 1 {
                        assert!(batch.iter().all(|e| e.message.channel == Channel::Sms));
                    }
                    if batch.is_empty() {
                        return claimed;
                    }
                    claimed.extend(batch.iter().map(|e| e.message.id));
                }
            }));
        }
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "a message was taken twice");
        assert_eq!(distinct.len(), 300, "every message was taken");
        let listed = store.list_outbox(None, 1000).await.unwrap();
        assert!(listed.iter().all(|e| e.attempts == 1));
    }
}
