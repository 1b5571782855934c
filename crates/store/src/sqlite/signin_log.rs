//! The sign-in log.

use roster_domain::signin_log::{SignInEvent, SignInQuery};
use roster_domain::{StoreError, Timestamp};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, Row};

use crate::sqlite::audit::push_log_page;
use crate::sqlite::rows::parse_id;
use crate::sqlite::SqliteStore;

fn event_from_row(row: &SqliteRow) -> Result<SignInEvent, StoreError> {
    let user_id: Option<String> = row.try_get("user_id")?;
    Ok(SignInEvent {
        id: row.try_get("id")?,
        at: Timestamp(row.try_get("at")?),
        user_id: user_id.map(|s| parse_id(&s)).transpose()?,
        username: row.try_get("username")?,
        success: row.try_get("success")?,
        method: row.try_get("method")?,
        detail: row.try_get("detail")?,
        client_ip: row.try_get("client_ip")?,
    })
}

impl SqliteStore {
    pub(crate) async fn record_signin(&self, event: &SignInEvent) -> Result<(), StoreError> {
        sqlx::query(
            "insert into signin_log (at, user_id, username, success, method, detail, client_ip) \
             values (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(event.at.millis())
        .bind(event.user_id.map(|id| id.to_string()))
        .bind(&event.username)
        .bind(event.success)
        .bind(&event.method)
        .bind(&event.detail)
        .bind(&event.client_ip)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(crate) async fn list_signins(&self, query: &SignInQuery) -> Result<Vec<SignInEvent>, StoreError> {
        let mut sql = String::from(
            "select id, at, user_id, username, success, method, detail, client_ip from signin_log where 1 = 1",
        );
        let mut args = SqliteArguments::default();
        if let Some(username) = &query.username {
            sql.push_str(" and username = ?");
            args.add(username.clone()).map_err(StoreError::backend)?;
        }
        if let Some(success) = query.success {
            sql.push_str(" and success = ?");
            args.add(success).map_err(StoreError::backend)?;
        }
        push_log_page(&mut sql, &mut args, query.from, query.until, query.before, query.limit)?;
        let rows = sqlx::query_with(&sql, args).fetch_all(&self.readers).await?;
        rows.iter().map(event_from_row).collect()
    }

    pub(crate) async fn trim_signins(&self, before: Timestamp) -> Result<u64, StoreError> {
        let removed =
            sqlx::query("delete from signin_log where at < ?").bind(before.millis()).execute(&self.writer).await?;
        Ok(removed.rows_affected())
    }
}
