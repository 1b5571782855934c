//! A user's profile and contact information, as the "Manage contact information" form edits it.

use std::collections::HashSet;

use crate::audit::FieldChange;
use crate::email;
use crate::error::FieldError;
use crate::phone::{self, Phone, Region};
use crate::text;
use crate::user::UserId;

/// The most alternate email addresses one user may have.
pub const MAX_ALTERNATE_EMAILS: usize = 10;

/// The form's raw input, exactly as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactInput {
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    /// The full name as a provisioning client formats it (SCIM's `name.formatted`).
    pub formatted_name: String,
    pub job_title: String,
    pub department: String,
    pub office: String,
    pub office_phone: String,
    pub mobile_phone: String,
    pub alternate_mobile_phone: String,
    pub fax: String,
    pub alternate_emails: Vec<String>,
    pub street_address: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    /// The primary email address; blank means none set, so notices go to the username.
    pub mail: String,
    pub employee_id: String,
    pub company_name: String,
    pub cost_center: String,
    pub division: String,
    /// A language tag such as `en-US`.
    pub preferred_language: String,
    /// SCIM's `locale`, for formats of dates and numbers, a tag such as `en-US`.
    pub locale: String,
    /// The manager's user id; the directory turns a username typed here into the id first.
    pub manager: String,
}

/// Validated contact information. Phones are held in their stored form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactInfo {
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub formatted_name: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub office: Option<String>,
    pub office_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub alternate_mobile_phone: Option<String>,
    pub fax: Option<String>,
    pub alternate_emails: Vec<String>,
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    /// The primary email address, where notices go; while none is set they go to the username
    /// (and so follow a rename).
    pub mail: Option<String>,
    /// Graph's `employeeId`, SCIM's enterprise `employeeNumber`.
    pub employee_id: Option<String>,
    /// Graph's `companyName`, SCIM's enterprise `organization`.
    pub company_name: Option<String>,
    pub cost_center: Option<String>,
    pub division: Option<String>,
    pub preferred_language: Option<String>,
    pub locale: Option<String>,
    pub manager: Option<UserId>,
}

/// Everything validation needs to know besides the input.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext<'a> {
    /// The region for phone numbers typed without `+country`.
    pub region: Region,
    /// The user's own sign-in name, which may not double as an alternate address.
    pub username: &'a str,
}

impl ContactInput {
    /// Validates every field, collecting every problem rather than stopping at the first.
    pub fn validate(&self, ctx: ValidationContext<'_>) -> Result<ContactInfo, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut take = |r: Result<Option<String>, FieldError>| -> Option<String> {
            r.unwrap_or_else(|e| {
                errors.push(e);
                None
            })
        };
        let display_name = take(text::required("display_name", "Display name", &self.display_name, 256).map(Some));
        let first_name = take(text::optional("first_name", "First name", &self.first_name, 64));
        let last_name = take(text::optional("last_name", "Last name", &self.last_name, 64));
        let formatted_name = take(text::optional("formatted_name", "Full name", &self.formatted_name, 256));
        let job_title = take(text::optional("job_title", "Job title", &self.job_title, 128));
        let department = take(text::optional("department", "Department", &self.department, 64));
        let office = take(text::optional("office", "Office", &self.office, 128));
        let street_address =
            take(text::optional_multiline("street_address", "Street address", &self.street_address, 1024));
        let city = take(text::optional("city", "City", &self.city, 128));
        let state = take(text::optional("state", "State or province", &self.state, 128));
        let postal_code = take(text::optional("postal_code", "ZIP or postal code", &self.postal_code, 40));
        let country = take(text::optional("country", "Country or region", &self.country, 128));
        let employee_id = take(text::optional("employee_id", "Employee ID", &self.employee_id, MAX_EMPLOYEE_ID));
        let company_name = take(text::optional("company_name", "Company name", &self.company_name, 64));
        let cost_center = take(text::optional("cost_center", "Cost center", &self.cost_center, 64));
        let division = take(text::optional("division", "Division", &self.division, 64));
        let preferred_language = take(language("preferred_language", "Preferred language", &self.preferred_language));
        let locale = take(language("locale", "Locale", &self.locale));
        let manager = match self.manager.trim() {
            "" => None,
            text => match text.parse::<UserId>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new("manager", "Enter the manager's username."));
                    None
                }
            },
        };
        let mail = match self.mail.trim() {
            "" => None,
            raw => match email::normalise(raw) {
                Ok(address) => Some(address),
                Err(reason) => {
                    errors.push(FieldError::new("mail", reason));
                    None
                }
            },
        };

        let mut phone_field = |field: &str, label: &str, raw: &str| -> Option<String> {
            match phone::optional(field, label, raw, ctx.region) {
                Ok(p) => p.as_ref().map(Phone::stored),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        };
        let office_phone = phone_field("office_phone", "Office phone", &self.office_phone);
        let mobile_phone = phone_field("mobile_phone", "Mobile phone", &self.mobile_phone);
        let alternate_mobile_phone =
            phone_field("alternate_mobile_phone", "Alternate mobile phone", &self.alternate_mobile_phone);
        let fax = phone_field("fax", "Fax number", &self.fax);
        let number = |stored: &Option<String>| stored.as_deref().map(|s| s.split('x').next().unwrap_or(s).to_string());
        if mobile_phone.is_some() && number(&mobile_phone) == number(&alternate_mobile_phone) {
            // Two fields, one handset: it would count twice where two methods are required.
            errors.push(FieldError::new(
                "alternate_mobile_phone",
                "The alternate mobile phone must be a different number from the mobile phone.",
            ));
        }

        let alternate_emails = validate_emails(&self.alternate_emails, ctx.username, mail.as_deref(), &mut errors);

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ContactInfo {
            display_name: display_name.unwrap_or_default(),
            first_name,
            last_name,
            formatted_name,
            job_title,
            department,
            office,
            office_phone,
            mobile_phone,
            alternate_mobile_phone,
            fax,
            alternate_emails,
            street_address,
            city,
            state,
            postal_code,
            country,
            mail,
            employee_id,
            company_name,
            cost_center,
            division,
            preferred_language,
            locale,
            manager,
        })
    }
}

/// Graph's limit on `employeeId`.
pub const MAX_EMPLOYEE_ID: usize = 16;

/// A language tag as Graph's `preferredLanguage` takes it: a language code of two or three
/// letters, then optional subtags of letters and digits (`en`, `en-US`, `zh-Hant-TW`).
fn language(field: &str, label: &str, raw: &str) -> Result<Option<String>, FieldError> {
    let Some(tag) = text::optional(field, label, raw, 35)? else {
        return Ok(None);
    };
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    let primary_ok = (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !primary_ok || !rest_ok {
        return Err(FieldError::new(
            field,
            "Enter a language tag such as en, en-US or fr-CA: a two- or three-letter language code, then optional \
             parts after a hyphen.",
        ));
    }
    Ok(Some(tag))
}

/// The form field name of the `index`-th (0-based) alternate email input.
pub fn alternate_email_field(index: usize) -> String {
    format!("alternate_email.{}", index + 1)
}

fn validate_emails(raw: &[String], username: &str, mail: Option<&str>, errors: &mut Vec<FieldError>) -> Vec<String> {
    // Counted before any address is parsed: a list of thousands is refused for its length alone,
    // at the cost of a scan, rather than parsed and compared address by address.
    if let Some((extra, _)) =
        raw.iter().enumerate().filter(|(_, value)| !value.trim().is_empty()).nth(MAX_ALTERNATE_EMAILS)
    {
        errors.push(FieldError::new(
            alternate_email_field(extra),
            format!("A user can have at most {MAX_ALTERNATE_EMAILS} alternate email addresses."),
        ));
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let own = email::key(username);
    let primary = mail.map(email::key);
    for (i, value) in raw.iter().enumerate() {
        if value.trim().is_empty() {
            continue;
        }
        let field = alternate_email_field(i);
        match email::normalise(value) {
            Err(reason) => errors.push(FieldError::new(field, reason)),
            Ok(address) => {
                let key = email::key(&address);
                if key == own {
                    errors.push(FieldError::new(
                        field,
                        "This is the user's own sign-in name. An alternate address must be a different mailbox, \
                         so the user can still be reached if this one is lost.",
                    ));
                } else if primary.as_ref() == Some(&key) {
                    errors.push(FieldError::new(
                        field,
                        "This is the user's primary email address. An alternate address must be a different \
                         mailbox, so the user can still be reached if that one is lost.",
                    ));
                } else if !seen.insert(key) {
                    errors.push(FieldError::new(field, "This address is already in the list."));
                } else {
                    out.push(address);
                }
            }
        }
    }
    out
}

impl ContactInfo {
    /// The form input that shows this information for editing (phones in international format).
    pub fn to_input(&self) -> ContactInput {
        let phone = |p: &Option<String>| {
            p.as_deref()
                .map(|s| Phone::from_stored(s).map(|p| p.international()).unwrap_or_else(|| s.to_string()))
                .unwrap_or_default()
        };
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        ContactInput {
            display_name: self.display_name.clone(),
            first_name: s(&self.first_name),
            last_name: s(&self.last_name),
            formatted_name: s(&self.formatted_name),
            job_title: s(&self.job_title),
            department: s(&self.department),
            office: s(&self.office),
            office_phone: phone(&self.office_phone),
            mobile_phone: phone(&self.mobile_phone),
            alternate_mobile_phone: phone(&self.alternate_mobile_phone),
            fax: phone(&self.fax),
            alternate_emails: self.alternate_emails.clone(),
            street_address: s(&self.street_address),
            city: s(&self.city),
            state: s(&self.state),
            postal_code: s(&self.postal_code),
            country: s(&self.country),
            mail: s(&self.mail),
            employee_id: s(&self.employee_id),
            company_name: s(&self.company_name),
            cost_center: s(&self.cost_center),
            division: s(&self.division),
            preferred_language: s(&self.preferred_language),
            locale: s(&self.locale),
            manager: self.manager.map(|id| id.to_string()).unwrap_or_default(),
        }
    }

    /// Field-by-field differences from `before` to `self`, recovery contacts flagged.
    pub fn changes_from(&self, before: &ContactInfo) -> Vec<FieldChange> {
        let mut out = Vec::new();
        let mut cmp = |field: &'static str, sensitive: bool, old: Option<String>, new: Option<String>| {
            if old != new {
                out.push(FieldChange { field: field.to_string(), sensitive, before: old, after: new });
            }
        };
        cmp("display_name", false, Some(before.display_name.clone()), Some(self.display_name.clone()));
        cmp("first_name", false, before.first_name.clone(), self.first_name.clone());
        cmp("last_name", false, before.last_name.clone(), self.last_name.clone());
        cmp("formatted_name", false, before.formatted_name.clone(), self.formatted_name.clone());
        cmp("job_title", false, before.job_title.clone(), self.job_title.clone());
        cmp("department", false, before.department.clone(), self.department.clone());
        cmp("office", false, before.office.clone(), self.office.clone());
        cmp("office_phone", true, before.office_phone.clone(), self.office_phone.clone());
        cmp("mobile_phone", true, before.mobile_phone.clone(), self.mobile_phone.clone());
        cmp("alternate_mobile_phone", true, before.alternate_mobile_phone.clone(), self.alternate_mobile_phone.clone());
        cmp("fax", false, before.fax.clone(), self.fax.clone());
        let join = |v: &[String]| (!v.is_empty()).then(|| v.join("; "));
        cmp("alternate_emails", true, join(&before.alternate_emails), join(&self.alternate_emails));
        cmp("street_address", false, before.street_address.clone(), self.street_address.clone());
        cmp("city", false, before.city.clone(), self.city.clone());
        cmp("state", false, before.state.clone(), self.state.clone());
        cmp("postal_code", false, before.postal_code.clone(), self.postal_code.clone());
        cmp("country", false, before.country.clone(), self.country.clone());
        // Notices go to the primary address: a change of it is a change of a recovery contact.
        cmp("mail", true, before.mail.clone(), self.mail.clone());
        cmp("employee_id", false, before.employee_id.clone(), self.employee_id.clone());
        cmp("company_name", false, before.company_name.clone(), self.company_name.clone());
        cmp("cost_center", false, before.cost_center.clone(), self.cost_center.clone());
        cmp("division", false, before.division.clone(), self.division.clone());
        cmp("preferred_language", false, before.preferred_language.clone(), self.preferred_language.clone());
        cmp("locale", false, before.locale.clone(), self.locale.clone());
        let id = |m: &Option<UserId>| m.map(|id| id.to_string());
        cmp("manager", false, id(&before.manager), id(&self.manager));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ValidationContext<'static> {
        ValidationContext { region: Region::default(), username: "alex.wilber@contoso.com" }
    }

    fn valid_input() -> ContactInput {
        ContactInput {
            display_name: " Alex Wilber ".into(),
            first_name: "Alex".into(),
            last_name: "Wilber".into(),
            mobile_phone: "+44 7911 123456".into(),
            office_phone: "(201) 555-0123 x12".into(),
            alternate_emails: vec!["alex@Fabrikam.com".into(), "".into()],
            ..ContactInput::default()
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn valid_input_is_normalised() {
        let info = valid_input().validate(ctx()).unwrap();
        assert_eq!(info.display_name, "Alex Wilber");
        assert_eq!(info.mobile_phone.as_deref(), Some("+447911123456"));
        assert_eq!(info.office_phone.as_deref(), Some("+12015550123x12"));
        assert_eq!(info.alternate_emails, vec!["alex@fabrikam.com"]);
        assert_eq!(info.job_title, None);
    }

    #[test]
    fn collects_every_error_by_field() {
        let input = ContactInput {
            display_name: "  ".into(),
            mobile_phone: "12".into(),
            city: "x".repeat(129),
            alternate_emails: vec!["ok@example.com".into(), "bad".into()],
            ..ContactInput::default()
        };
        let errors = input.validate(ctx()).unwrap_err();
        assert_eq!(fields(&errors), vec!["display_name", "city", "mobile_phone", "alternate_email.2"]);
    }

    #[test]
    fn refuses_the_users_own_sign_in_name() {
        let input = ContactInput {
            display_name: "Alex".into(),
            alternate_emails: vec!["Alex.Wilber@CONTOSO.com".into()],
            ..ContactInput::default()
        };
        let errors = input.validate(ctx()).unwrap_err();
        assert_eq!(errors[0].field, "alternate_email.1");
        assert!(errors[0].message.contains("own sign-in name"));
    }

    #[test]
    fn the_alternate_mobile_must_be_another_number() {
        let input = ContactInput {
            mobile_phone: "+44 20 7946 0958".into(),
            alternate_mobile_phone: "020 7946 0958 x12".into(),
            ..valid_input()
        };
        let ctx = ValidationContext { region: Region::parse("GB").unwrap(), username: "alex@contoso.com" };
        let errors = input.validate(ctx).unwrap_err();
        assert_eq!(fields(&errors), ["alternate_mobile_phone"]);
    }

    #[test]
    fn refuses_duplicates_ignoring_case() {
        let input = ContactInput {
            display_name: "Alex".into(),
            alternate_emails: vec!["a@example.com".into(), "A@EXAMPLE.com".into()],
            ..ContactInput::default()
        };
        let errors = input.validate(ctx()).unwrap_err();
        assert_eq!(fields(&errors), vec!["alternate_email.2"]);
    }

    #[test]
    fn allows_at_most_ten_alternate_addresses() {
        let mut input = ContactInput { display_name: "Alex".into(), ..ContactInput::default() };
        input.alternate_emails = (0..10).map(|i| format!("a{i}@example.com")).collect();
        assert!(input.validate(ctx()).is_ok());
        input.alternate_emails.push("a10@example.com".into());
        let errors = input.validate(ctx()).unwrap_err();
        assert_eq!(fields(&errors), vec!["alternate_email.11"]);
    }

    #[test]
    fn a_huge_list_is_refused_for_its_length_alone() {
        let mut input = ContactInput { display_name: "Alex".into(), ..ContactInput::default() };
        // Blanks are inputs left empty, which the form sends; they do not count.
        input.alternate_emails = vec![String::new(); 3];
        input.alternate_emails.extend((0..100_000).map(|i| format!("not an address {i}")));
        let errors = input.validate(ctx()).unwrap_err();
        assert_eq!(fields(&errors), vec!["alternate_email.14"]);
    }

    #[test]
    fn limits_follow_the_directory_schema() {
        type Setter = fn(&mut ContactInput, String);
        let cases: [(&str, Setter, usize); 5] = [
            ("display_name", |i, v| i.display_name = v, 256),
            ("first_name", |i, v| i.first_name = v, 64),
            ("job_title", |i, v| i.job_title = v, 128),
            ("postal_code", |i, v| i.postal_code = v, 40),
            ("street_address", |i, v| i.street_address = v, 1024),
        ];
        for (field, set, max) in cases {
            let mut input = ContactInput { display_name: "A".into(), ..ContactInput::default() };
            set(&mut input, "a".repeat(max));
            assert!(input.validate(ctx()).is_ok(), "{field} at {max}");
            set(&mut input, "a".repeat(max + 1));
            assert_eq!(fields(&input.validate(ctx()).unwrap_err()), vec![field]);
        }
    }

    #[test]
    fn changes_flag_recovery_contacts_as_sensitive() {
        let before = valid_input().validate(ctx()).unwrap();
        let mut after = before.clone();
        after.mobile_phone = None;
        after.city = Some("Leeds".into());
        let changes = after.changes_from(&before);
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().any(|c| c.field == "mobile_phone" && c.sensitive && c.after.is_none()));
        assert!(changes.iter().any(|c| c.field == "city" && !c.sensitive));
    }

    #[test]
    fn the_primary_email_is_kept_as_set_and_is_no_alternate() {
        let same = ContactInput { mail: "Alex.Wilber@contoso.com".into(), ..valid_input() };
        assert_eq!(same.validate(ctx()).unwrap().mail.as_deref(), Some("Alex.Wilber@contoso.com"));
        assert_eq!(valid_input().validate(ctx()).unwrap().mail, None);
        let other = ContactInput { mail: "alex@Contoso-Mail.com".into(), ..valid_input() };
        assert_eq!(other.validate(ctx()).unwrap().mail.as_deref(), Some("alex@contoso-mail.com"));
        let twice = ContactInput {
            mail: "alex@contoso-mail.com".into(),
            alternate_emails: vec!["ALEX@contoso-mail.com".into()],
            ..valid_input()
        };
        let errors = twice.validate(ctx()).unwrap_err();
        assert_eq!(fields(&errors), ["alternate_email.1"]);
        assert!(errors[0].message.contains("primary email"));
        let bad = ContactInput { mail: "not an address".into(), ..valid_input() };
        assert_eq!(fields(&bad.validate(ctx()).unwrap_err()), ["mail"]);
    }

    #[test]
    fn organisation_fields_follow_graphs_rules() {
        let good = ContactInput {
            employee_id: "E-1234567890123".into(),
            preferred_language: "zh-Hant-TW".into(),
            manager: "6e9f1a3c-0000-4000-8000-000000000001".into(),
            ..valid_input()
        };
        let info = good.validate(ctx()).unwrap();
        assert_eq!(info.preferred_language.as_deref(), Some("zh-Hant-TW"));
        assert!(info.manager.is_some());
        let bad = ContactInput {
            employee_id: "1".repeat(MAX_EMPLOYEE_ID + 1),
            preferred_language: "english".into(),
            manager: "somebody".into(),
            ..valid_input()
        };
        assert_eq!(fields(&bad.validate(ctx()).unwrap_err()), ["employee_id", "preferred_language", "manager"]);
        for tag in ["e", "en_US", "en-", "en-toolongsubtag"] {
            assert!(language("locale", "Locale", tag).is_err(), "{tag}");
        }
    }

    #[test]
    fn editing_input_round_trips() {
        let info = valid_input().validate(ctx()).unwrap();
        assert_eq!(info.to_input().validate(ctx()).unwrap(), info);
    }
}
