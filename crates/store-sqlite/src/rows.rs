//! Conversions between rows and domain types.

use roster_domain::contact::ContactInfo;
use roster_domain::user::{User, UserId, UserSummary, Username};
use roster_domain::{RoleSet, StoreError, Timestamp};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::backend;

/// The columns every full-user query selects, in [`user_from_row`]'s order.
pub(crate) const USER_COLUMNS: &str = "id, username, display_name, first_name, last_name, job_title, department, \
     office, office_phone, mobile_phone, alternate_mobile_phone, fax, street_address, city, state, postal_code, \
     country, roles, enabled, must_change_password, created_at, updated_at, updated_by, version, deleted_at";

/// The columns of a list row, in [`summary_from_row`]'s order.
pub(crate) const SUMMARY_COLUMNS: &str = "id, username, display_name, mobile_phone, roles, enabled, deleted_at";

pub(crate) fn parse_id(text: &str) -> Result<UserId, StoreError> {
    text.parse().map_err(|e| backend(format!("bad user id {text:?}: {e}")))
}

pub(crate) fn user_from_row(row: &SqliteRow, alternate_emails: Vec<String>) -> Result<User, StoreError> {
    let get = |name: &str| row.try_get::<Option<String>, _>(name).map_err(backend);
    Ok(User {
        id: parse_id(&row.try_get::<String, _>("id").map_err(backend)?)?,
        username: Username::from_stored(row.try_get("username").map_err(backend)?),
        contact: ContactInfo {
            display_name: row.try_get("display_name").map_err(backend)?,
            first_name: get("first_name")?,
            last_name: get("last_name")?,
            job_title: get("job_title")?,
            department: get("department")?,
            office: get("office")?,
            office_phone: get("office_phone")?,
            mobile_phone: get("mobile_phone")?,
            alternate_mobile_phone: get("alternate_mobile_phone")?,
            fax: get("fax")?,
            alternate_emails,
            street_address: get("street_address")?,
            city: get("city")?,
            state: get("state")?,
            postal_code: get("postal_code")?,
            country: get("country")?,
        },
        roles: RoleSet::from_bits(row.try_get("roles").map_err(backend)?),
        enabled: row.try_get("enabled").map_err(backend)?,
        must_change_password: row.try_get("must_change_password").map_err(backend)?,
        created_at: Timestamp(row.try_get("created_at").map_err(backend)?),
        updated_at: Timestamp(row.try_get("updated_at").map_err(backend)?),
        updated_by: row.try_get("updated_by").map_err(backend)?,
        version: row.try_get("version").map_err(backend)?,
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at").map_err(backend)?.map(Timestamp),
    })
}

pub(crate) fn summary_from_row(row: &SqliteRow) -> Result<UserSummary, StoreError> {
    Ok(UserSummary {
        id: parse_id(&row.try_get::<String, _>("id").map_err(backend)?)?,
        username: Username::from_stored(row.try_get("username").map_err(backend)?),
        display_name: row.try_get("display_name").map_err(backend)?,
        mobile_phone: row.try_get("mobile_phone").map_err(backend)?,
        roles: RoleSet::from_bits(row.try_get("roles").map_err(backend)?),
        enabled: row.try_get("enabled").map_err(backend)?,
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at").map_err(backend)?.map(Timestamp),
    })
}
