//! A user's profile and contact information, as the "Manage contact information" form edits it.

use std::collections::HashSet;

use crate::audit::FieldChange;
use crate::email;
use crate::error::FieldError;
use crate::phone::{self, Phone, Region};
use crate::text;

/// The most alternate email addresses one user may have.
pub const MAX_ALTERNATE_EMAILS: usize = 10;

/// The form's raw input, exactly as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactInput {
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
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
}

/// Validated contact information. Phones are held in their stored form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactInfo {
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
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
        let job_title = take(text::optional("job_title", "Job title", &self.job_title, 128));
        let department = take(text::optional("department", "Department", &self.department, 64));
        let office = take(text::optional("office", "Office", &self.office, 128));
        let street_address =
            take(text::optional_multiline("street_address", "Street address", &self.street_address, 1024));
        let city = take(text::optional("city", "City", &self.city, 128));
        let state = take(text::optional("state", "State or province", &self.state, 128));
        let postal_code = take(text::optional("postal_code", "ZIP or postal code", &self.postal_code, 40));
        let country = take(text::optional("country", "Country or region", &self.country, 128));

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

        let alternate_emails = validate_emails(&self.alternate_emails, ctx.username, &mut errors);

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ContactInfo {
            display_name: display_name.unwrap_or_default(),
            first_name,
            last_name,
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
        })
    }
}

/// The form field name of the `index`-th (0-based) alternate email input.
pub fn alternate_email_field(index: usize) -> String {
    format!("alternate_email.{}", index + 1)
}

fn validate_emails(raw: &[String], username: &str, errors: &mut Vec<FieldError>) -> Vec<String> {
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
    fn editing_input_round_trips() {
        let info = valid_input().validate(ctx()).unwrap();
        assert_eq!(info.to_input().validate(ctx()).unwrap(), info);
    }
}
