//! The audit log: appended in the same transaction as each change.

use async_trait::async_trait;
use roster_domain::audit::{
    seal, AuditAction, AuditEntry, AuditQuery, ChainLink, ChainState, FieldChange, LogCursor, SealedEntry,
};
use roster_domain::outbox::Message;
use roster_domain::store::AuditStore;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;

use super::rows::{parse_id, Params};
use super::{insert_audit_rows, outbox, Connection, Row, Store, DIALECT, FOR_UPDATE};

/// Records sealed per `update … from (values …)` statement: three parameters each.
const SEAL_CHUNK: usize = DIALECT.rows_per_statement(300, 3);

/// Appends one record inside the caller's transaction.
pub(crate) async fn insert(conn: &mut Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    insert_many(conn, &[entry]).await
}

/// Appends records inside the caller's transaction, as the engine does it best.
pub(crate) async fn insert_many(conn: &mut Connection, entries: &[&AuditEntry]) -> Result<(), StoreError> {
    insert_audit_rows(conn, entries).await
}

/// The columns of a record, in the order the engines' inserts write them.
pub(crate) const INSERT_COLUMNS: &str =
    "at, actor_id, actor_name, target_id, target_name, group_id, action, changes, client_ip, request_id";

/// Ends the query of a log page: the time range, the records after the page's cursor, newest
/// first, and the page size.
pub(crate) fn push_log_page(
    sql: &mut String,
    params: &mut Params,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
    before: Option<LogCursor>,
    limit: u32,
) -> Result<(), StoreError> {
    if let Some(from) = from {
        sql.push_str(&format!(" and at >= {}", params.push(from.millis())?));
    }
    if let Some(until) = until {
        sql.push_str(&format!(" and at < {}", params.push(until.millis())?));
    }
    if let Some(before) = before {
        let (at, id) = (params.push(before.at.millis())?, params.push(before.id)?);
        sql.push_str(&format!(" and (at, id) < ({at}, {id})"));
    }
    sql.push_str(&format!(" order by at desc, id desc limit {}", params.push(i64::from(limit.clamp(1, 1000)))?));
    Ok(())
}

/// The columns [`entry_from_row`] reads.
const COLUMNS: &str =
    "id, at, actor_id, actor_name, target_id, target_name, group_id, action, changes, client_ip, request_id";

fn entry_from_row(row: &Row) -> Result<AuditEntry, StoreError> {
    let id_of = |name: &str| -> Result<_, StoreError> {
        row.try_get::<Option<String>, _>(name)?.map(|s| parse_id(&s)).transpose()
    };
    let action: String = row.try_get("action")?;
    let changes: String = row.try_get("changes")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: Timestamp(row.try_get("at")?),
        actor_id: id_of("actor_id")?,
        actor_name: row.try_get("actor_name")?,
        target_id: id_of("target_id")?,
        target_name: row.try_get("target_name")?,
        group_id: row
            .try_get::<Option<String>, _>("group_id")?
            .map(|s| s.parse().map_err(|e| StoreError::backend(format!("bad group id {s:?}: {e}"))))
            .transpose()?,
        action: AuditAction::from_code(&action)
            .ok_or_else(|| StoreError::backend(format!("unknown audit action {action:?}")))?,
        changes: serde_json::from_str::<Vec<FieldChange>>(&changes).map_err(StoreError::backend)?,
        client_ip: row.try_get("client_ip")?,
        request_id: row.try_get("request_id")?,
    })
}

/// One end of the chain (`head` or `anchor`); a head of 0 is an empty chain.
async fn chain_end(conn: &mut Connection, name: &str, lock: bool) -> Result<Option<ChainLink>, StoreError> {
    let sql = format!("select seq, hash from audit_chain where name = $1{}", if lock { FOR_UPDATE } else { "" });
    let row: Option<(i64, String)> = sqlx::query_as(&sql).bind(name).fetch_optional(&mut *conn).await?;
    Ok(row.filter(|(seq, _)| *seq > 0).map(|(seq, hash)| ChainLink { seq, hash }))
}

async fn set_chain_end(conn: &mut Connection, name: &str, link: &ChainLink) -> Result<(), StoreError> {
    sqlx::query(
        "insert into audit_chain (name, seq, hash) values ($1, $2, $3) \
         on conflict (name) do update set seq = excluded.seq, hash = excluded.hash",
    )
    .bind(name)
    .bind(link.seq)
    .bind(&link.hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl AuditStore for Store {
    async fn record(&self, entry: &AuditEntry, messages: &[Message]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert(&mut tx, entry).await?;
        outbox::insert(&mut tx, messages).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn seal_audit(&self, limit: u32) -> Result<u64, StoreError> {
        // Every node looks every two seconds: nothing to seal must not take the write lock.
        let waiting: bool = sqlx::query_scalar("select exists (select 1 from audit_log where seq is null)")
            .fetch_one(self.reader())
            .await?;
        if !waiting {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        // The head row is every sealer's lock: created once, then each sealer waits for the one
        // before it and continues its chain. A record committed late (a lower id than records
        // sealed already) is simply sealed later, with the next number.
        sqlx::query("insert into audit_chain (name, seq, hash) values ('head', 0, '') on conflict (name) do nothing")
            .execute(&mut *tx)
            .await?;
        let head = chain_end(&mut tx, "head", true).await?;
        let sql = format!("select {COLUMNS} from audit_log where seq is null order by id limit $1");
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        let entries = rows.iter().map(entry_from_row).collect::<Result<Vec<_>, _>>()?;
        let sealed = seal(head, &entries);
        let Some((_, last)) = sealed.last() else {
            return Ok(0);
        };
        for chunk in sealed.chunks(SEAL_CHUNK) {
            let mut params = Params::default();
            let mut rows = Vec::with_capacity(chunk.len());
            for (id, link) in chunk {
                let row = [params.push(*id)?, params.push(link.seq)?, params.push(link.hash.clone())?];
                rows.push(format!("({})", row.join(", ")));
            }
            // A `values` list's columns are column1, column2, … in both engines.
            let sql = format!(
                "update audit_log set seq = v.column2, hash = v.column3 from (values {}) as v \
                 where audit_log.id = v.column1",
                rows.join(", ")
            );
            sqlx::query_with(&sql, params.into_arguments()).execute(&mut *tx).await?;
        }
        set_chain_end(&mut tx, "head", last).await?;
        tx.commit().await?;
        Ok(sealed.len() as u64)
    }

    async fn audit_chain(&self, after_seq: i64, limit: u32) -> Result<Vec<SealedEntry>, StoreError> {
        let sql = format!("select {COLUMNS}, seq, hash from audit_log where seq > $1 order by seq limit $2");
        let rows = sqlx::query(&sql).bind(after_seq).bind(i64::from(limit)).fetch_all(self.reader()).await?;
        rows.iter()
            .map(|row| {
                Ok(SealedEntry { seq: row.try_get("seq")?, hash: row.try_get("hash")?, entry: entry_from_row(row)? })
            })
            .collect()
    }

    async fn audit_chain_state(&self) -> Result<ChainState, StoreError> {
        // One snapshot for the three answers.
        let mut tx = self.reader().begin().await?;
        let unsealed: i64 =
            sqlx::query_scalar("select count(*) from audit_log where seq is null").fetch_one(&mut *tx).await?;
        Ok(ChainState {
            anchor: chain_end(&mut tx, "anchor", false).await?,
            head: chain_end(&mut tx, "head", false).await?,
            unsealed: unsealed as u64,
        })
    }

    async fn trim_audit(&self, before: Timestamp, entry: &AuditEntry) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        // Sealing and trimming take turns on the head row, so the chain does not move meanwhile.
        sqlx::query(&format!("select 1 from audit_chain where name = 'head'{FOR_UPDATE}")).execute(&mut *tx).await?;
        // The chain stays whole: only a run of records from its start, all older than the cutoff,
        // goes, even where a later-sealed record carries an earlier time.
        let (first_kept, last_sealed): (Option<i64>, Option<i64>) = sqlx::query_as(
            "select (select min(seq) from audit_log where seq is not null and at >= $1), \
             (select max(seq) from audit_log where seq is not null and at < $1)",
        )
        .bind(before.millis())
        .fetch_one(&mut *tx)
        .await?;
        let Some(last) = first_kept.map(|s| s - 1).or(last_sealed).filter(|s| *s > 0) else {
            return Ok(0);
        };
        let hash: Option<String> =
            sqlx::query_scalar("select hash from audit_log where seq = $1").bind(last).fetch_optional(&mut *tx).await?;
        let Some(hash) = hash else {
            return Ok(0);
        };
        let removed = sqlx::query("delete from audit_log where seq <= $1").bind(last).execute(&mut *tx).await?;
        set_chain_end(&mut tx, "anchor", &ChainLink { seq: last, hash }).await?;
        insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(removed.rows_affected())
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = format!("select {COLUMNS} from audit_log where 1 = 1");
        let mut params = Params::default();
        if let Some(target) = query.target {
            sql.push_str(&format!(" and target_id = {}", params.push(target.to_string())?));
        }
        if let Some(actor) = query.actor {
            sql.push_str(&format!(" and actor_id = {}", params.push(actor.to_string())?));
        }
        if let Some(action) = query.action {
            sql.push_str(&format!(" and action = {}", params.push(action.code())?));
        }
        if let Some(group) = query.group {
            sql.push_str(&format!(" and group_id = {}", params.push(group.to_string())?));
        }
        push_log_page(&mut sql, &mut params, query.from, query.until, query.before, query.limit)?;
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(entry_from_row).collect()
    }
}
