//! The audit log: appended in the same transaction as each change.

use roster_domain::audit::{AuditAction, AuditEntry, AuditQuery, FieldChange};
use roster_domain::{StoreError, Timestamp};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Row, SqliteConnection};

use crate::rows::parse_id;
use crate::{backend, SqliteStore};

/// Appends one record inside the caller's transaction.
pub(crate) async fn insert(conn: &mut SqliteConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    insert_many(conn, &[entry]).await
}

/// Appends records inside the caller's transaction, a hundred to a statement.
pub(crate) async fn insert_many(conn: &mut SqliteConnection, entries: &[&AuditEntry]) -> Result<(), StoreError> {
    for chunk in entries.chunks(100) {
        let mut args = SqliteArguments::default();
        for entry in chunk {
            let changes = serde_json::to_string(&entry.changes).map_err(backend)?;
            let add = |r: Result<(), sqlx::error::BoxDynError>| r.map_err(backend);
            add(args.add(entry.at.millis()))?;
            add(args.add(entry.actor_id.map(|id| id.to_string())))?;
            add(args.add(entry.actor_name.clone()))?;
            add(args.add(entry.target_id.map(|id| id.to_string())))?;
            add(args.add(entry.target_name.clone()))?;
            add(args.add(entry.action.code()))?;
            add(args.add(changes))?;
            add(args.add(entry.client_ip.clone()))?;
            add(args.add(entry.request_id.clone()))?;
        }
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "insert into audit_log (at, actor_id, actor_name, target_id, target_name, action, changes, client_ip, \
             request_id) values {rows}"
        );
        sqlx::query_with(&sql, args).execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = String::from(
            "select id, at, actor_id, actor_name, target_id, target_name, action, changes, client_ip, request_id \
             from audit_log where 1 = 1",
        );
        let mut args = SqliteArguments::default();
        if let Some(target) = query.target {
            sql.push_str(" and target_id = ?");
            args.add(target.to_string()).map_err(backend)?;
        }
        if let Some(before) = query.before_id {
            sql.push_str(" and id < ?");
            args.add(before).map_err(backend)?;
        }
        sql.push_str(" order by id desc limit ?");
        args.add(i64::from(query.limit.clamp(1, 1000))).map_err(backend)?;
        let rows = sqlx::query_with(&sql, args).fetch_all(&self.readers).await.map_err(backend)?;
        rows.iter()
            .map(|row| {
                let id_of = |name: &str| -> Result<_, StoreError> {
                    row.try_get::<Option<String>, _>(name).map_err(backend)?.map(|s| parse_id(&s)).transpose()
                };
                let action: String = row.try_get("action").map_err(backend)?;
                let changes: String = row.try_get("changes").map_err(backend)?;
                Ok(AuditEntry {
                    id: row.try_get("id").map_err(backend)?,
                    at: Timestamp(row.try_get("at").map_err(backend)?),
                    actor_id: id_of("actor_id")?,
                    actor_name: row.try_get("actor_name").map_err(backend)?,
                    target_id: id_of("target_id")?,
                    target_name: row.try_get("target_name").map_err(backend)?,
                    action: AuditAction::from_code(&action)
                        .ok_or_else(|| backend(format!("unknown audit action {action:?}")))?,
                    changes: serde_json::from_str::<Vec<FieldChange>>(&changes).map_err(backend)?,
                    client_ip: row.try_get("client_ip").map_err(backend)?,
                    request_id: row.try_get("request_id").map_err(backend)?,
                })
            })
            .collect()
    }
}
