//! The sign-in log.

use async_trait::async_trait;
use roster_domain::signin_log::{SignInEvent, SignInQuery};
use roster_domain::store::SignInLogStore;
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;

use super::audit::push_log_page;
use super::rows::{flag, get_flag, parse_id, Params};
use super::{Row, Store};

fn event_from_row(row: &Row) -> Result<SignInEvent, StoreError> {
    let user_id: Option<String> = row.try_get("user_id")?;
    Ok(SignInEvent {
        id: row.try_get("id")?,
        at: Timestamp(row.try_get("at")?),
        user_id: user_id.map(|s| parse_id(&s)).transpose()?,
        username: row.try_get("username")?,
        success: get_flag(row, "success")?,
        method: row.try_get("method")?,
        detail: row.try_get("detail")?,
        client_ip: row.try_get("client_ip")?,
    })
}

#[async_trait]
impl SignInLogStore for Store {
    async fn record_signin(&self, event: &SignInEvent) -> Result<(), StoreError> {
        sqlx::query(
            "insert into signin_log (at, user_id, username, success, method, detail, client_ip) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event.at.millis())
        .bind(event.user_id.map(|id| id.to_string()))
        .bind(&event.username)
        .bind(flag(event.success))
        .bind(&event.method)
        .bind(&event.detail)
        .bind(&event.client_ip)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn list_signins(&self, query: &SignInQuery) -> Result<Vec<SignInEvent>, StoreError> {
        let mut sql = String::from(
            "select id, at, user_id, username, success, method, detail, client_ip from signin_log where 1 = 1",
        );
        let mut params = Params::default();
        if let Some(username) = &query.username {
            sql.push_str(&format!(" and username = {}", params.push(username.clone())?));
        }
        if let Some(success) = query.success {
            sql.push_str(&format!(" and success = {}", params.push(flag(success))?));
        }
        push_log_page(&mut sql, &mut params, query.from, query.until, query.before, query.limit)?;
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn trim_signins(&self, before: Timestamp) -> Result<u64, StoreError> {
        let removed =
            sqlx::query("delete from signin_log where at < $1").bind(before.millis()).execute(self.writer()).await?;
        Ok(removed.rows_affected())
    }
}
