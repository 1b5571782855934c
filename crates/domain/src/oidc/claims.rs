//! Claims an application asks for beyond the standard scopes' (Entra's "Attributes & Claims"):
//! each names a claim and the user attribute it carries, by the attribute's Graph name.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::user::User;

/// The most claims one application maps.
pub const MAX_CLAIM_MAPPINGS: usize = 30;

/// Claim names an application may not take: the protocol's own, whose meaning clients rely on.
const RESERVED: [&str; 18] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "amr",
    "acr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
    "groups",
    "_claim_names",
    "_claim_sources",
];

/// A user attribute a claim can carry, named as Graph names it, and stored by that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Attribute {
    Id,
    UserPrincipalName,
    Mail,
    DisplayName,
    GivenName,
    Surname,
    JobTitle,
    Department,
    OfficeLocation,
    EmployeeId,
    CompanyName,
    CostCenter,
    Division,
    MobilePhone,
    BusinessPhone,
    PreferredLanguage,
    Country,
    ExternalId,
}

impl Attribute {
    /// Every attribute, in the order help texts list them.
    pub const ALL: [Attribute; 18] = [
        Attribute::Id,
        Attribute::UserPrincipalName,
        Attribute::Mail,
        Attribute::DisplayName,
        Attribute::GivenName,
        Attribute::Surname,
        Attribute::JobTitle,
        Attribute::Department,
        Attribute::OfficeLocation,
        Attribute::EmployeeId,
        Attribute::CompanyName,
        Attribute::CostCenter,
        Attribute::Division,
        Attribute::MobilePhone,
        Attribute::BusinessPhone,
        Attribute::PreferredLanguage,
        Attribute::Country,
        Attribute::ExternalId,
    ];

    /// The Graph name.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Id => "id",
            Attribute::UserPrincipalName => "userPrincipalName",
            Attribute::Mail => "mail",
            Attribute::DisplayName => "displayName",
            Attribute::GivenName => "givenName",
            Attribute::Surname => "surname",
            Attribute::JobTitle => "jobTitle",
            Attribute::Department => "department",
            Attribute::OfficeLocation => "officeLocation",
            Attribute::EmployeeId => "employeeId",
            Attribute::CompanyName => "companyName",
            Attribute::CostCenter => "costCenter",
            Attribute::Division => "division",
            Attribute::MobilePhone => "mobilePhone",
            Attribute::BusinessPhone => "businessPhone",
            Attribute::PreferredLanguage => "preferredLanguage",
            Attribute::Country => "country",
            Attribute::ExternalId => "externalId",
        }
    }

    /// The attribute Graph calls `name`, whatever its case.
    fn named(name: &str) -> Option<Attribute> {
        Attribute::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// `user`'s value of this attribute, if it has one.
    fn of(self, user: &User) -> Option<String> {
        let c = &user.contact;
        match self {
            Attribute::Id => Some(user.id.to_string()),
            Attribute::UserPrincipalName => Some(user.username.as_str().to_string()),
            Attribute::Mail => Some(user.mail().to_string()),
            Attribute::DisplayName => Some(c.display_name.clone()),
            Attribute::GivenName => c.first_name.clone(),
            Attribute::Surname => c.last_name.clone(),
            Attribute::JobTitle => c.job_title.clone(),
            Attribute::Department => c.department.clone(),
            Attribute::OfficeLocation => c.office.clone(),
            Attribute::EmployeeId => c.employee_id.clone(),
            Attribute::CompanyName => c.company_name.clone(),
            Attribute::CostCenter => c.cost_center.clone(),
            Attribute::Division => c.division.clone(),
            Attribute::MobilePhone => c.mobile_phone.clone(),
            Attribute::BusinessPhone => c.office_phone.clone(),
            Attribute::PreferredLanguage => c.preferred_language.clone(),
            Attribute::Country => c.country.clone(),
            Attribute::ExternalId => user.external_id.clone(),
        }
        .filter(|v| !v.is_empty())
    }
}

impl From<Attribute> for &'static str {
    fn from(attribute: Attribute) -> Self {
        attribute.name()
    }
}

impl TryFrom<String> for Attribute {
    type Error = String;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        Attribute::named(&name).ok_or_else(|| format!("{name} is not an attribute Roster keeps"))
    }
}

/// One claim and the attribute it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMapping {
    pub claim: String,
    pub attribute: Attribute,
}

/// Reads mappings written one per line as `claim = attribute` (blank lines skipped); says what
/// is wrong with the first line that is not one.
pub fn parse_mappings<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Vec<ClaimMapping>, String> {
    let mut mappings: Vec<ClaimMapping> = Vec::new();
    for line in lines.into_iter().map(str::trim).filter(|l| !l.is_empty()) {
        let (claim, attribute) = line
            .split_once('=')
            .map(|(c, a)| (c.trim(), a.trim()))
            .ok_or_else(|| format!("\"{line}\" is not claim = attribute, as in employee_number = employeeId."))?;
        let valid_name = claim.len() <= 64
            && claim.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && claim.chars().all(|c| c.is_ascii_alphanumeric() || "_.-:/".contains(c));
        if !valid_name {
            return Err(format!(
                "\"{claim}\" is not a claim name: start with a letter, then letters, digits or _ . - : /, at most 64."
            ));
        }
        if RESERVED.contains(&claim) {
            return Err(format!("{claim} is a claim of the protocol's own; choose another name."));
        }
        if mappings.iter().any(|m| m.claim == claim) {
            return Err(format!("{claim} is mapped twice."));
        }
        let attribute = Attribute::named(attribute).ok_or_else(|| {
            let names: Vec<&str> = Attribute::ALL.iter().map(|a| a.name()).collect();
            format!("{attribute} is not an attribute Roster keeps; choose one of {}.", names.join(", "))
        })?;
        mappings.push(ClaimMapping { claim: claim.to_string(), attribute });
    }
    if mappings.len() > MAX_CLAIM_MAPPINGS {
        return Err(format!("Map at most {MAX_CLAIM_MAPPINGS} claims."));
    }
    Ok(mappings)
}

/// The mappings as the form and the command line write them, one per line.
pub fn format_mappings(mappings: &[ClaimMapping]) -> String {
    mappings.iter().map(|m| format!("{} = {}", m.claim, m.attribute.name())).collect::<Vec<_>>().join("\n")
}

/// Adds each mapped claim `user` has a value for to `claims`, replacing a standard claim of the
/// same name (an application may want `email` to carry another address).
pub fn add_mapped(claims: &mut Map<String, Value>, mappings: &[ClaimMapping], user: &User) {
    for m in mappings {
        if let Some(value) = m.attribute.of(user) {
            claims.insert(m.claim.clone(), json!(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_read_one_per_line_and_bad_ones_say_why() {
        let read = parse_mappings(["employee_number = employeeId", "", " dept=Department "]).unwrap();
        assert_eq!(
            read,
            vec![
                ClaimMapping { claim: "employee_number".into(), attribute: Attribute::EmployeeId },
                ClaimMapping { claim: "dept".into(), attribute: Attribute::Department },
            ]
        );
        assert_eq!(format_mappings(&read), "employee_number = employeeId\ndept = department");
        assert!(parse_mappings(["no equals sign"]).unwrap_err().contains("claim = attribute"));
        assert!(parse_mappings(["sub = id"]).unwrap_err().contains("protocol's own"));
        assert!(parse_mappings(["9lives = id"]).unwrap_err().contains("not a claim name"));
        assert!(parse_mappings(["a = id", "a = mail"]).unwrap_err().contains("mapped twice"));
        assert!(parse_mappings(["a = shoeSize"]).unwrap_err().contains("shoeSize is not an attribute"));
        let many: Vec<String> = (0..=MAX_CLAIM_MAPPINGS).map(|i| format!("c{i} = id")).collect();
        assert!(parse_mappings(many.iter().map(String::as_str)).unwrap_err().contains("at most"));
    }

    #[test]
    fn every_attribute_round_trips_through_its_stored_name() {
        for a in Attribute::ALL {
            let stored = serde_json::to_string(&a).unwrap();
            assert_eq!(stored, format!("\"{}\"", a.name()));
            assert_eq!(serde_json::from_str::<Attribute>(&stored).unwrap(), a);
        }
    }
}
