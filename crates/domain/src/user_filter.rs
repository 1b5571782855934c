//! Conditions on users that the API surfaces (Graph `$filter`, SCIM `filter`) compile to and
//! that each store answers in its own SQL.
//!
//! [`UserFilter::matches`] is the reference meaning: a store must select exactly the users it
//! accepts. Text comparisons ignore case, as both Graph and SCIM do for these attributes, and a
//! condition on a field with no value is false except `Ne` and `Not`, which are true there.

use crate::clock::Timestamp;
use crate::user::User;

/// A user attribute a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attr {
    Id,
    Username,
    DisplayName,
    FirstName,
    LastName,
    /// SCIM's `name.formatted`.
    FormattedName,
    JobTitle,
    Department,
    Office,
    OfficePhone,
    MobilePhone,
    AlternateMobilePhone,
    Fax,
    StreetAddress,
    City,
    State,
    PostalCode,
    Country,
    /// Any one of the alternate email addresses (a multi-valued attribute).
    AlternateEmail,
    /// The primary email address: the one set, else the username.
    Mail,
    /// The primary email address only where one is set.
    MailSet,
    /// The provisioning client's id, compared with case.
    ExternalId,
    EmployeeId,
    CompanyName,
    CostCenter,
    Division,
    PreferredLanguage,
    Locale,
    /// The manager's user id.
    Manager,
    /// Whether sign-in is allowed (a boolean attribute).
    Enabled,
    CreatedAt,
    UpdatedAt,
}

/// How an attribute is compared with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    StartsWith,
    EndsWith,
    Contains,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The value on the right of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Time(Timestamp),
}

/// A condition on a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    /// `attr op value`; on [`Attr::AlternateEmail`], true when any address satisfies it.
    Compare {
        attr: Attr,
        op: Op,
        value: Value,
    },
    /// The attribute has a (non-empty) value.
    Present(Attr),
    And(Vec<UserFilter>),
    Or(Vec<UserFilter>),
    Not(Box<UserFilter>),
}

/// What one attribute of one user holds, for evaluation.
enum Held<'a> {
    Text(Vec<&'a str>),
    Bool(bool),
    Time(Timestamp),
}

impl Attr {
    /// Whether values compare with case; every other attribute ignores it.
    pub fn case_exact(self) -> bool {
        self == Attr::ExternalId
    }

    fn of<'a>(self, user: &'a User, id: &'a str, manager: &'a str) -> Held<'a> {
        let c = &user.contact;
        let one = |v: &'a Option<String>| Held::Text(v.as_deref().filter(|s| !s.is_empty()).into_iter().collect());
        match self {
            Attr::Id => Held::Text(vec![id]),
            Attr::Username => Held::Text(vec![user.username.as_str()]),
            Attr::DisplayName => Held::Text(vec![c.display_name.as_str()]),
            Attr::FirstName => one(&c.first_name),
            Attr::LastName => one(&c.last_name),
            Attr::FormattedName => one(&c.formatted_name),
            Attr::JobTitle => one(&c.job_title),
            Attr::Department => one(&c.department),
            Attr::Office => one(&c.office),
            Attr::OfficePhone => one(&c.office_phone),
            Attr::MobilePhone => one(&c.mobile_phone),
            Attr::AlternateMobilePhone => one(&c.alternate_mobile_phone),
            Attr::Fax => one(&c.fax),
            Attr::StreetAddress => one(&c.street_address),
            Attr::City => one(&c.city),
            Attr::State => one(&c.state),
            Attr::PostalCode => one(&c.postal_code),
            Attr::Country => one(&c.country),
            Attr::AlternateEmail => Held::Text(c.alternate_emails.iter().map(String::as_str).collect()),
            Attr::Mail => Held::Text(vec![user.mail()]),
            Attr::MailSet => one(&c.mail),
            Attr::ExternalId => one(&user.external_id),
            Attr::EmployeeId => one(&c.employee_id),
            Attr::CompanyName => one(&c.company_name),
            Attr::CostCenter => one(&c.cost_center),
            Attr::Division => one(&c.division),
            Attr::PreferredLanguage => one(&c.preferred_language),
            Attr::Locale => one(&c.locale),
            Attr::Manager => Held::Text(c.manager.map(|_| manager).into_iter().collect()),
            Attr::Enabled => Held::Bool(user.enabled),
            Attr::CreatedAt => Held::Time(user.created_at),
            Attr::UpdatedAt => Held::Time(user.updated_at),
        }
    }
}

impl Op {
    /// Whether `held op wanted` holds for two lower-cased texts.
    pub fn test_text(self, held: &str, wanted: &str) -> bool {
        match self {
            Op::Eq => held == wanted,
            Op::Ne => held != wanted,
            Op::StartsWith => held.starts_with(wanted),
            Op::EndsWith => held.ends_with(wanted),
            Op::Contains => held.contains(wanted),
            Op::Gt => held > wanted,
            Op::Ge => held >= wanted,
            Op::Lt => held < wanted,
            Op::Le => held <= wanted,
        }
    }

    fn test_ord<T: Ord>(self, held: T, wanted: T) -> bool {
        match self {
            Op::Eq => held == wanted,
            Op::Ne => held != wanted,
            Op::Gt => held > wanted,
            Op::Ge => held >= wanted,
            Op::Lt => held < wanted,
            Op::Le => held <= wanted,
            Op::StartsWith | Op::EndsWith | Op::Contains => false,
        }
    }
}

/// A user's id and manager's id as text, which [`Attr::of`] lends out.
fn ids(user: &User) -> (String, String) {
    (user.id.to_string(), user.contact.manager.map(|m| m.to_string()).unwrap_or_default())
}

impl UserFilter {
    /// `attr eq value` for text.
    pub fn eq(attr: Attr, value: &str) -> UserFilter {
        UserFilter::Compare { attr, op: Op::Eq, value: Value::Text(value.to_string()) }
    }

    /// Whether `user` satisfies the filter.
    pub fn matches(&self, user: &User) -> bool {
        match self {
            UserFilter::And(all) => all.iter().all(|f| f.matches(user)),
            UserFilter::Or(any) => any.iter().any(|f| f.matches(user)),
            UserFilter::Not(inner) => !inner.matches(user),
            UserFilter::Present(attr) => {
                let (id, manager) = ids(user);
                match attr.of(user, &id, &manager) {
                    Held::Text(values) => !values.is_empty(),
                    Held::Bool(_) | Held::Time(_) => true,
                }
            }
            UserFilter::Compare { attr, op, value } => {
                let (id, manager) = ids(user);
                match (attr.of(user, &id, &manager), value) {
                    (Held::Text(values), Value::Text(wanted)) => {
                        let fold = |v: &str| if attr.case_exact() { v.to_string() } else { v.to_lowercase() };
                        let wanted = fold(wanted);
                        if *op == Op::Ne {
                            !values.iter().any(|v| fold(v) == wanted)
                        } else {
                            values.iter().any(|v| op.test_text(&fold(v), &wanted))
                        }
                    }
                    (Held::Bool(held), Value::Bool(wanted)) => op.test_ord(held, *wanted),
                    (Held::Time(held), Value::Time(wanted)) => op.test_ord(held, *wanted),
                    _ => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::ContactInfo;
    use crate::role::RoleSet;
    use crate::user::{UserId, Username};

    fn user() -> User {
        User {
            id: UserId::random(),
            username: Username::parse("adele.vance@contoso.com").unwrap(),
            contact: ContactInfo {
                display_name: "Adele Vance".into(),
                mobile_phone: Some("+14255550101".into()),
                alternate_emails: vec!["Adele@Fabrikam.com".into(), "av@example.org".into()],
                ..ContactInfo::default()
            },
            roles: RoleSet::NONE,
            enabled: true,
            must_change_password: false,
            created_at: Timestamp(1_000),
            updated_at: Timestamp(2_000),
            updated_by: "test".into(),
            version: 1,
            deleted_at: None,
            external_id: None,
        }
    }

    fn text(attr: Attr, op: Op, value: &str) -> UserFilter {
        UserFilter::Compare { attr, op, value: Value::Text(value.into()) }
    }

    #[test]
    fn text_comparisons_ignore_case() {
        let u = user();
        assert!(text(Attr::DisplayName, Op::Eq, "adele vance").matches(&u));
        assert!(text(Attr::DisplayName, Op::StartsWith, "ADE").matches(&u));
        assert!(text(Attr::Username, Op::EndsWith, "@Contoso.com").matches(&u));
        assert!(!text(Attr::DisplayName, Op::Contains, "smith").matches(&u));
    }

    #[test]
    fn a_multi_valued_attribute_matches_when_any_value_does() {
        let u = user();
        assert!(text(Attr::AlternateEmail, Op::Eq, "adele@fabrikam.com").matches(&u));
        assert!(text(Attr::AlternateEmail, Op::EndsWith, "example.org").matches(&u));
        assert!(!text(Attr::AlternateEmail, Op::Ne, "av@example.org").matches(&u));
        assert!(text(Attr::AlternateEmail, Op::Ne, "nobody@example.org").matches(&u));
    }

    #[test]
    fn absent_values_fail_every_comparison_but_ne() {
        let u = user();
        assert!(!text(Attr::JobTitle, Op::Eq, "").matches(&u));
        assert!(!text(Attr::JobTitle, Op::Ge, "").matches(&u));
        assert!(text(Attr::JobTitle, Op::Ne, "Manager").matches(&u));
        assert!(!UserFilter::Present(Attr::JobTitle).matches(&u));
        assert!(UserFilter::Present(Attr::MobilePhone).matches(&u));
    }

    #[test]
    fn booleans_times_and_logic_combine() {
        let u = user();
        let enabled = UserFilter::Compare { attr: Attr::Enabled, op: Op::Eq, value: Value::Bool(true) };
        let old = UserFilter::Compare { attr: Attr::CreatedAt, op: Op::Lt, value: Value::Time(Timestamp(1_500)) };
        assert!(UserFilter::And(vec![enabled.clone(), old.clone()]).matches(&u));
        assert!(!UserFilter::Not(Box::new(enabled.clone())).matches(&u));
        assert!(UserFilter::Or(vec![UserFilter::Not(Box::new(enabled)), old]).matches(&u));
    }
}
