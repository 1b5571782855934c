//! The audit log: appended in the same transaction as each change.

use roster_domain::audit::{
    seal, AuditAction, AuditEntry, AuditQuery, ChainLink, ChainState, FieldChange, LogCursor, SealedEntry,
};
use roster_domain::{StoreError, Timestamp};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, Connection, Row, SqliteConnection};

use crate::sqlite::rows::parse_id;
use crate::sqlite::SqliteStore;

/// Appends one record inside the caller's transaction.
pub(crate) async fn insert(conn: &mut SqliteConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    insert_many(conn, &[entry]).await
}

/// Appends records inside the caller's transaction, a hundred to a statement.
pub(crate) async fn insert_many(conn: &mut SqliteConnection, entries: &[&AuditEntry]) -> Result<(), StoreError> {
    for chunk in entries.chunks(100) {
        let mut args = SqliteArguments::default();
        for entry in chunk {
            let changes = serde_json::to_string(&entry.changes).map_err(StoreError::backend)?;
            let add = |r: Result<(), sqlx::error::BoxDynError>| r;
            add(args.add(entry.at.millis())).map_err(StoreError::backend)?;
            add(args.add(entry.actor_id.map(|id| id.to_string()))).map_err(StoreError::backend)?;
            add(args.add(entry.actor_name.clone())).map_err(StoreError::backend)?;
            add(args.add(entry.target_id.map(|id| id.to_string()))).map_err(StoreError::backend)?;
            add(args.add(entry.target_name.clone())).map_err(StoreError::backend)?;
            add(args.add(entry.action.code())).map_err(StoreError::backend)?;
            add(args.add(changes)).map_err(StoreError::backend)?;
            add(args.add(entry.client_ip.clone())).map_err(StoreError::backend)?;
            add(args.add(entry.request_id.clone())).map_err(StoreError::backend)?;
        }
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "insert into audit_log (at, actor_id, actor_name, target_id, target_name, action, changes, client_ip, \
             request_id) values {rows}"
        );
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Ends the query of a log page: the time range, the records after the page's cursor, newest
/// first, and the page size.
pub(crate) fn push_log_page(
    sql: &mut String,
    args: &mut SqliteArguments<'_>,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
    before: Option<LogCursor>,
    limit: u32,
) -> Result<(), StoreError> {
    if let Some(from) = from {
        sql.push_str(" and at >= ?");
        args.add(from.millis()).map_err(StoreError::backend)?;
    }
    if let Some(until) = until {
        sql.push_str(" and at < ?");
        args.add(until.millis()).map_err(StoreError::backend)?;
    }
    if let Some(before) = before {
        sql.push_str(" and (at, id) < (?, ?)");
        args.add(before.at.millis()).map_err(StoreError::backend)?;
        args.add(before.id).map_err(StoreError::backend)?;
    }
    sql.push_str(" order by at desc, id desc limit ?");
    args.add(i64::from(limit.clamp(1, 1000))).map_err(StoreError::backend)
}

/// The columns [`entry_from_row`] reads.
const COLUMNS: &str = "id, at, actor_id, actor_name, target_id, target_name, action, changes, client_ip, request_id";

/// Records sealed per `update … from (values …)` statement: three parameters each.
const SEAL_CHUNK: usize = 300;

fn entry_from_row(row: &SqliteRow) -> Result<AuditEntry, StoreError> {
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
        action: AuditAction::from_code(&action)
            .ok_or_else(|| StoreError::backend(format!("unknown audit action {action:?}")))?,
        changes: serde_json::from_str::<Vec<FieldChange>>(&changes).map_err(StoreError::backend)?,
        client_ip: row.try_get("client_ip")?,
        request_id: row.try_get("request_id")?,
    })
}

/// One end of the chain (`head` or `anchor`); a head of 0 is an empty chain.
async fn chain_end(conn: &mut SqliteConnection, name: &str) -> Result<Option<ChainLink>, StoreError> {
    let row: Option<(i64, String)> = sqlx::query_as("select seq, hash from audit_chain where name = ?")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.filter(|(seq, _)| *seq > 0).map(|(seq, hash)| ChainLink { seq, hash }))
}

async fn set_chain_end(conn: &mut SqliteConnection, name: &str, link: &ChainLink) -> Result<(), StoreError> {
    sqlx::query(
        "insert into audit_chain (name, seq, hash) values (?, ?, ?) \
         on conflict (name) do update set seq = excluded.seq, hash = excluded.hash",
    )
    .bind(name)
    .bind(link.seq)
    .bind(&link.hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn seal_audit(&self, limit: u32) -> Result<u64, StoreError> {
        // Every node looks every two seconds: nothing to seal must not take the write lock.
        let waiting: bool = sqlx::query_scalar("select exists (select 1 from audit_log where seq is null)")
            .fetch_one(&self.readers)
            .await?;
        if !waiting {
            return Ok(0);
        }
        let mut conn = self.writer.acquire().await?;
        // Immediate: another process sealing meanwhile would otherwise fail this at its first write.
        let mut tx = conn.begin_with("begin immediate").await?;
        let sql = format!("select {COLUMNS} from audit_log where seq is null order by id limit ?");
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let entries = rows.iter().map(entry_from_row).collect::<Result<Vec<_>, _>>()?;
        let sealed = seal(chain_end(&mut tx, "head").await?, &entries);
        for chunk in sealed.chunks(SEAL_CHUNK) {
            let mut args = SqliteArguments::default();
            for (id, link) in chunk {
                args.add(*id).map_err(StoreError::backend)?;
                args.add(link.seq).map_err(StoreError::backend)?;
                args.add(link.hash.clone()).map_err(StoreError::backend)?;
            }
            let sql = format!(
                "update audit_log set seq = v.column2, hash = v.column3 from (values {}) as v \
                 where audit_log.id = v.column1",
                vec!["(?, ?, ?)"; chunk.len()].join(", ")
            );
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        if let Some((_, head)) = sealed.last() {
            set_chain_end(&mut tx, "head", head).await?;
        }
        tx.commit().await?;
        Ok(sealed.len() as u64)
    }

    pub(crate) async fn audit_chain(&self, after_seq: i64, limit: u32) -> Result<Vec<SealedEntry>, StoreError> {
        let sql = format!("select {COLUMNS}, seq, hash from audit_log where seq > ? order by seq limit ?");
        let rows = sqlx::query(&sql).bind(after_seq).bind(i64::from(limit)).fetch_all(&self.readers).await?;
        rows.iter()
            .map(|row| {
                Ok(SealedEntry { seq: row.try_get("seq")?, hash: row.try_get("hash")?, entry: entry_from_row(row)? })
            })
            .collect()
    }

    pub(crate) async fn audit_chain_state(&self) -> Result<ChainState, StoreError> {
        let mut conn = self.readers.acquire().await?;
        let mut tx = conn.begin().await?;
        let unsealed: i64 =
            sqlx::query_scalar("select count(*) from audit_log where seq is null").fetch_one(&mut *tx).await?;
        Ok(ChainState {
            anchor: chain_end(&mut tx, "anchor").await?,
            head: chain_end(&mut tx, "head").await?,
            unsealed: unsealed as u64,
        })
    }

    pub(crate) async fn trim_audit(&self, before: Timestamp, entry: &AuditEntry) -> Result<u64, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("begin immediate").await?;
        // The chain stays whole: only a run of records from its start, all older than the cutoff,
        // goes, even where a later-sealed record carries an earlier time.
        let (first_kept, last_sealed): (Option<i64>, Option<i64>) = sqlx::query_as(
            "select (select min(seq) from audit_log where seq is not null and at >= ?1), \
             (select max(seq) from audit_log where seq is not null and at < ?1)",
        )
        .bind(before.millis())
        .fetch_one(&mut *tx)
        .await?;
        let Some(last) = first_kept.map(|s| s - 1).or(last_sealed).filter(|s| *s > 0) else {
            return Ok(0);
        };
        let hash: Option<String> =
            sqlx::query_scalar("select hash from audit_log where seq = ?").bind(last).fetch_optional(&mut *tx).await?;
        let Some(hash) = hash else {
            return Ok(0);
        };
        let removed = sqlx::query("delete from audit_log where seq <= ?").bind(last).execute(&mut *tx).await?;
        set_chain_end(&mut tx, "anchor", &ChainLink { seq: last, hash }).await?;
        insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(removed.rows_affected())
    }

    pub(crate) async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = format!("select {COLUMNS} from audit_log where 1 = 1");
        let mut args = SqliteArguments::default();
        if let Some(target) = query.target {
            sql.push_str(" and target_id = ?");
            args.add(target.to_string()).map_err(StoreError::backend)?;
        }
        if let Some(actor) = query.actor {
            sql.push_str(" and actor_id = ?");
            args.add(actor.to_string()).map_err(StoreError::backend)?;
        }
        if let Some(action) = query.action {
            sql.push_str(" and action = ?");
            args.add(action.code()).map_err(StoreError::backend)?;
        }
        push_log_page(&mut sql, &mut args, query.from, query.until, query.before, query.limit)?;
        let rows = sqlx::query_with(&sql, args).fetch_all(&self.readers).await?;
        rows.iter().map(entry_from_row).collect()
    }
}
