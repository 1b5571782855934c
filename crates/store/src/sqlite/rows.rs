//! Conversions between rows and domain types.

use roster_domain::contact::ContactInfo;
use roster_domain::user::{User, UserId, UserSummary, Username};
use roster_domain::{RoleSet, StoreError, Timestamp};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

/// The columns every full-user query selects, in [`user_from_row`]'s order.
pub(crate) const USER_COLUMNS: &str = "id, username, display_name, first_name, last_name, job_title, department, \
     office, office_phone, mobile_phone, alternate_mobile_phone, fax, street_address, city, state, postal_code, \
     country, roles, enabled, must_change_password, created_at, updated_at, updated_by, version, deleted_at, \
     alternate_email_list";

/// The columns of a list row, in [`summary_from_row`]'s order.
pub(crate) const SUMMARY_COLUMNS: &str = "id, username, display_name, mobile_phone, roles, enabled, deleted_at";

pub(crate) fn parse_id(text: &str) -> Result<UserId, StoreError> {
    text.parse().map_err(|e| StoreError::backend(format!("bad user id {text:?}: {e}")))
}

/// A user from a row of [`USER_COLUMNS`].
pub(crate) fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    let get = |name: &str| row.try_get::<Option<String>, _>(name);
    let alternate_emails = parse_email_list(row.try_get("alternate_email_list")?)?;
    Ok(User {
        id: parse_id(&row.try_get::<String, _>("id")?)?,
        username: Username::from_stored(row.try_get("username")?),
        contact: ContactInfo {
            display_name: row.try_get("display_name")?,
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
        roles: RoleSet::from_bits(row.try_get("roles")?),
        enabled: row.try_get("enabled")?,
        must_change_password: row.try_get("must_change_password")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
        updated_by: row.try_get("updated_by")?,
        version: row.try_get("version")?,
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(Timestamp),
    })
}

/// A user's alternate addresses as their row holds them: a JSON array, in order.
pub(crate) fn email_list(addresses: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(addresses).map_err(StoreError::backend)
}

fn parse_email_list(stored: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(stored).map_err(StoreError::backend)
}

/// The `json_object` arguments that write a row of [`USER_COLUMNS`] (from a query named
/// `users`) and its addresses as one [`StoredUser`].
pub(crate) const STORED_USER_FIELDS: &str = "'id', id, 'username', username, 'display_name', display_name, \
     'first_name', first_name, 'last_name', last_name, 'job_title', job_title, 'department', department, \
     'office', office, 'office_phone', office_phone, 'mobile_phone', mobile_phone, \
     'alternate_mobile_phone', alternate_mobile_phone, 'fax', fax, 'street_address', street_address, \
     'city', city, 'state', state, 'postal_code', postal_code, 'country', country, 'roles', roles, \
     'enabled', enabled, 'must_change_password', must_change_password, 'created_at', created_at, \
     'updated_at', updated_at, 'updated_by', updated_by, 'version', version, 'deleted_at', deleted_at, \
     'emails', json(alternate_email_list)";

/// A user as [`STORED_USER_FIELDS`] writes it.
#[derive(serde::Deserialize)]
pub(crate) struct StoredUser {
    id: String,
    username: String,
    display_name: String,
    first_name: Option<String>,
    last_name: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    office: Option<String>,
    office_phone: Option<String>,
    mobile_phone: Option<String>,
    alternate_mobile_phone: Option<String>,
    fax: Option<String>,
    street_address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    roles: i64,
    enabled: i64,
    must_change_password: i64,
    created_at: i64,
    updated_at: i64,
    updated_by: String,
    version: i64,
    deleted_at: Option<i64>,
    emails: Vec<String>,
    /// The row's position, where a query asks for it.
    #[serde(default)]
    pub row_key: Option<i64>,
}

impl StoredUser {
    /// The user it holds.
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: parse_id(&self.id)?,
            username: Username::from_stored(self.username),
            contact: ContactInfo {
                display_name: self.display_name,
                first_name: self.first_name,
                last_name: self.last_name,
                job_title: self.job_title,
                department: self.department,
                office: self.office,
                office_phone: self.office_phone,
                mobile_phone: self.mobile_phone,
                alternate_mobile_phone: self.alternate_mobile_phone,
                fax: self.fax,
                alternate_emails: self.emails,
                street_address: self.street_address,
                city: self.city,
                state: self.state,
                postal_code: self.postal_code,
                country: self.country,
            },
            roles: RoleSet::from_bits(self.roles),
            enabled: self.enabled != 0,
            must_change_password: self.must_change_password != 0,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            updated_by: self.updated_by,
            version: self.version,
            deleted_at: self.deleted_at.map(Timestamp),
        })
    }
}

pub(crate) fn summary_from_row(row: &SqliteRow) -> Result<UserSummary, StoreError> {
    Ok(UserSummary {
        id: parse_id(&row.try_get::<String, _>("id")?)?,
        username: Username::from_stored(row.try_get("username")?),
        display_name: row.try_get("display_name")?,
        mobile_phone: row.try_get("mobile_phone")?,
        roles: RoleSet::from_bits(row.try_get("roles")?),
        enabled: row.try_get("enabled")?,
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(Timestamp),
    })
}
