//! The audit log: appended in the same transaction as each change.

use roster_domain::audit::{AuditAction, AuditEntry, AuditQuery, FieldChange};
use roster_domain::{StoreError, Timestamp};
use sqlx::{PgConnection, Row};

use crate::rows::{parse_id, Params};
use crate::{backend, PostgresStore};

/// Records per insert statement.
const INSERT_CHUNK: usize = 100;

/// Appends one record inside the caller's transaction.
pub(crate) async fn insert(conn: &mut PgConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    insert_many(conn, &[entry]).await
}

/// Appends records inside the caller's transaction, a hundred to a statement.
pub(crate) async fn insert_many(conn: &mut PgConnection, entries: &[&AuditEntry]) -> Result<(), StoreError> {
    for chunk in entries.chunks(INSERT_CHUNK) {
        let mut params = Params::default();
        let mut rows = Vec::with_capacity(chunk.len());
        for entry in chunk {
            let changes = serde_json::to_string(&entry.changes).map_err(backend)?;
            let row = [
                params.push(entry.at.millis())?,
                params.push(entry.actor_id.map(|id| id.to_string()))?,
                params.push(entry.actor_name.clone())?,
                params.push(entry.target_id.map(|id| id.to_string()))?,
                params.push(entry.target_name.clone())?,
                params.push(entry.action.code())?,
                params.push(changes)?,
                params.push(entry.client_ip.clone())?,
                params.push(entry.request_id.clone())?,
            ];
            rows.push(format!("({})", row.join(", ")));
        }
        let sql = format!(
            "insert into audit_log (at, actor_id, actor_name, target_id, target_name, action, changes, client_ip, \
             request_id) values {}",
            rows.join(", ")
        );
        sqlx::query_with(&sql, params.into_arguments()).execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

impl PostgresStore {
    pub(crate) async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = String::from(
            "select id, at, actor_id, actor_name, target_id, target_name, action, changes, client_ip, request_id \
             from audit_log where 1 = 1",
        );
        let mut params = Params::default();
        if let Some(target) = query.target {
            sql.push_str(&format!(" and target_id = {}", params.push(target.to_string())?));
        }
        if let Some(before) = query.before_id {
            sql.push_str(&format!(" and id < {}", params.push(before)?));
        }
        sql.push_str(&format!(" order by id desc limit {}", params.push(i64::from(query.limit.clamp(1, 1000)))?));
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(&self.pool).await.map_err(backend)?;
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
