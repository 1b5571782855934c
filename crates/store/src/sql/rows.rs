//! Conversions between rows and domain types, and the numbered parameters statements take.

use roster_domain::contact::ContactInfo;
use roster_domain::user::{User, UserId, UserSummary, Username};
use roster_domain::{RoleSet, StoreError, Timestamp};
use sqlx::{Arguments, Database, Encode, Row as _, Type};

use super::{Db, Row};

/// The columns every full-user query selects, in [`user_from_row`]'s order.
pub(crate) const USER_COLUMNS: &str = "id, username, display_name, first_name, last_name, job_title, department, \
     office, office_phone, mobile_phone, alternate_mobile_phone, fax, street_address, city, state, postal_code, \
     country, roles, enabled, must_change_password, created_at, updated_at, updated_by, version, deleted_at, \
     alternate_email_list, mail, formatted_name, external_id, employee_id, company_name, cost_center, division, \
     preferred_language, locale, manager_id";

/// The columns of a list row, in [`summary_from_row`]'s order.
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, username, display_name, mobile_phone, alternate_email_list, department, roles, enabled, created_at, deleted_at";

/// Arguments for a statement built at run time, each named `$n` in the order it was added
/// (SQLite reads `$n` as PostgreSQL does). PostgreSQL wants every parameter it is sent to
/// appear in the statement, so statements whose shape varies number only the parameters they
/// use.
#[derive(Default)]
pub(crate) struct Params<'q> {
    args: <Db as Database>::Arguments<'q>,
    count: usize,
}

impl<'q> Params<'q> {
    /// Adds a value and returns its placeholder.
    pub(crate) fn push<T>(&mut self, value: T) -> Result<String, StoreError>
    where
        T: 'q + Encode<'q, Db> + Type<Db>,
    {
        self.args.add(value).map_err(StoreError::backend)?;
        self.count += 1;
        Ok(format!("${}", self.count))
    }

    /// The arguments, to run the statement with.
    pub(crate) fn into_arguments(self) -> <Db as Database>::Arguments<'q> {
        self.args
    }
}

/// A flag as stored: 0 or 1 in a bigint column.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// A stored flag read back.
pub(crate) fn get_flag(row: &Row, name: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(name)? != 0)
}

/// A stored user id.
pub(crate) fn parse_id(text: &str) -> Result<UserId, StoreError> {
    text.parse().map_err(|e| StoreError::backend(format!("bad user id {text:?}: {e}")))
}

/// A user's alternate addresses as their row holds them: a JSON array, in order.
pub(crate) fn email_list(addresses: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(addresses).map_err(StoreError::backend)
}

fn parse_email_list(stored: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(stored).map_err(StoreError::backend)
}

/// A user from a row of [`USER_COLUMNS`].
pub(crate) fn user_from_row(row: &Row) -> Result<User, StoreError> {
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
            mail: get("mail")?,
            formatted_name: get("formatted_name")?,
            employee_id: get("employee_id")?,
            company_name: get("company_name")?,
            cost_center: get("cost_center")?,
            division: get("division")?,
            preferred_language: get("preferred_language")?,
            locale: get("locale")?,
            manager: get("manager_id")?.as_deref().map(parse_id).transpose()?,
        },
        roles: RoleSet::from_bits(row.try_get("roles")?),
        enabled: get_flag(row, "enabled")?,
        must_change_password: get_flag(row, "must_change_password")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
        updated_by: row.try_get("updated_by")?,
        version: row.try_get("version")?,
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(Timestamp),
        external_id: get("external_id")?,
    })
}

/// A list row from a row of [`SUMMARY_COLUMNS`].
pub(crate) fn summary_from_row(row: &Row) -> Result<UserSummary, StoreError> {
    Ok(UserSummary {
        id: parse_id(&row.try_get::<String, _>("id")?)?,
        username: Username::from_stored(row.try_get("username")?),
        display_name: row.try_get("display_name")?,
        mobile_phone: row.try_get("mobile_phone")?,
        alternate_email: parse_email_list(row.try_get("alternate_email_list")?)?.into_iter().next(),
        department: row.try_get("department")?,
        roles: RoleSet::from_bits(row.try_get("roles")?),
        enabled: get_flag(row, "enabled")?,
        created_at: Timestamp(row.try_get("created_at")?),
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(Timestamp),
    })
}
