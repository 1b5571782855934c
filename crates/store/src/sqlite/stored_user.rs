//! Pages of users read as one JSON value: handing a page of a thousand users over row by row
//! from SQLite's thread costs several times the query itself.

use roster_domain::contact::ContactInfo;
use roster_domain::user::{User, Username};
use roster_domain::{RoleSet, StoreError, Timestamp};

use crate::sqlite::rows::{parse_id, Params};
use crate::sqlite::SqliteStore;

/// The `json_object` arguments that write a row of [`USER_COLUMNS`] (from a query named
/// `users`) and its addresses as one [`StoredUser`].
pub(crate) const STORED_USER_FIELDS: &str = "'id', id, 'username', username, 'display_name', display_name, \
     'first_name', first_name, 'last_name', last_name, 'job_title', job_title, 'department', department, \
     'office', office, 'office_phone', office_phone, 'mobile_phone', mobile_phone, \
     'alternate_mobile_phone', alternate_mobile_phone, 'fax', fax, 'street_address', street_address, \
     'city', city, 'state', state, 'postal_code', postal_code, 'country', country, 'roles', roles, \
     'enabled', enabled, 'must_change_password', must_change_password, 'created_at', created_at, \
     'updated_at', updated_at, 'updated_by', updated_by, 'version', version, 'deleted_at', deleted_at, \
     'emails', json(alternate_email_list), 'mail', mail, 'formatted_name', formatted_name, 'external_id', external_id, \
     'employee_id', employee_id, 'company_name', company_name, 'cost_center', cost_center, \
     'division', division, 'preferred_language', preferred_language, 'locale', locale, 'manager_id', manager_id";

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
    mail: Option<String>,
    formatted_name: Option<String>,
    external_id: Option<String>,
    employee_id: Option<String>,
    company_name: Option<String>,
    cost_center: Option<String>,
    division: Option<String>,
    preferred_language: Option<String>,
    locale: Option<String>,
    manager_id: Option<String>,
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
                mail: self.mail,
                formatted_name: self.formatted_name,
                employee_id: self.employee_id,
                company_name: self.company_name,
                cost_center: self.cost_center,
                division: self.division,
                preferred_language: self.preferred_language,
                locale: self.locale,
                manager: self.manager_id.as_deref().map(parse_id).transpose()?,
            },
            roles: RoleSet::from_bits(self.roles),
            enabled: self.enabled != 0,
            must_change_password: self.must_change_password != 0,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            updated_by: self.updated_by,
            version: self.version,
            deleted_at: self.deleted_at.map(Timestamp),
            external_id: self.external_id,
        })
    }
}

impl SqliteStore {
    /// The users of `page` (a query of `row_key`, `display_key` and the user columns, in
    /// `order`), each with its row key, read as one JSON value.
    pub(crate) async fn read_found(
        &self,
        page: &str,
        args: Params<'_>,
        order: &str,
    ) -> Result<Vec<(User, String)>, StoreError> {
        let outer_order = order.replace("rowid", "row_key");
        let sql = format!(
            "select json_group_array(json_object({STORED_USER_FIELDS}, 'row_key', row_key) order by {outer_order}) \
             from ({page}) as users"
        );
        let json: String = sqlx::query_scalar_with(&sql, args.into_arguments()).fetch_one(&self.readers).await?;
        let stored: Vec<StoredUser> = serde_json::from_str(&json).map_err(StoreError::backend)?;
        stored
            .into_iter()
            .map(|s| {
                let row_key = s.row_key.unwrap_or_default().to_string();
                Ok((s.into_user()?, row_key))
            })
            .collect()
    }
}
