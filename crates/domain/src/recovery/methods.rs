//! The contacts that can carry a code: alternate email addresses by email, mobile and alternate
//! mobile phones by text message. Office phones are recovery contacts too (they identify the
//! user to a helpdesk) but often ring a desk, so Roster sends them no codes.

use crate::clock::Timestamp;
use crate::contact::ContactInfo;
use crate::notify::{mask_email, mask_phone};
use crate::outbox::Channel;

/// Which kind of contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    AlternateEmail,
    MobilePhone,
    AlternateMobilePhone,
    OfficePhone,
}

impl MethodKind {
    /// Every kind, in the order contacts are listed.
    pub const ALL: [MethodKind; 4] = [
        MethodKind::AlternateEmail,
        MethodKind::MobilePhone,
        MethodKind::AlternateMobilePhone,
        MethodKind::OfficePhone,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            MethodKind::AlternateEmail => "email",
            MethodKind::MobilePhone => "mobile_phone",
            MethodKind::AlternateMobilePhone => "alternate_mobile_phone",
            MethodKind::OfficePhone => "office_phone",
        }
    }

    /// The kind with a stored code.
    pub fn from_code(code: &str) -> Option<MethodKind> {
        MethodKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The contact's name as the contact form labels it.
    pub fn label(self) -> &'static str {
        match self {
            MethodKind::AlternateEmail => "Alternate email address",
            MethodKind::MobilePhone => "Mobile phone",
            MethodKind::AlternateMobilePhone => "Alternate mobile phone",
            MethodKind::OfficePhone => "Office phone",
        }
    }

    /// How a code reaches this kind of contact, if at all.
    pub fn channel(self) -> Option<Channel> {
        match self {
            MethodKind::AlternateEmail => Some(Channel::Email),
            MethodKind::MobilePhone | MethodKind::AlternateMobilePhone => Some(Channel::Sms),
            MethodKind::OfficePhone => None,
        }
    }
}

/// One contact of a user: its kind and its stored value (an address, or E.164 plus extension).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactMethod {
    pub kind: MethodKind,
    pub value: String,
}

impl ContactMethod {
    /// A stable name for forms and records, such as `email:alex@fabrikam.com`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.code(), self.value)
    }

    /// The method a [`ContactMethod::key`] names.
    pub fn from_key(key: &str) -> Option<ContactMethod> {
        let (kind, value) = key.split_once(':')?;
        Some(ContactMethod { kind: MethodKind::from_code(kind)?, value: value.to_string() })
    }

    /// The value with most of it hidden.
    pub fn masked(&self) -> String {
        match self.kind {
            MethodKind::AlternateEmail => mask_email(&self.value),
            _ => mask_phone(&self.value),
        }
    }

    /// Where a message goes: the address, or the number without an extension.
    pub fn recipient(&self) -> String {
        match self.kind {
            MethodKind::AlternateEmail => self.value.clone(),
            _ => self.value.split('x').next().unwrap_or(&self.value).to_string(),
        }
    }
}

/// A contact the user proved is theirs, and when. It counts only while the contact still holds
/// the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub method: ContactMethod,
    pub verified_at: Timestamp,
}

/// Every recovery contact in `contact`, in the order the contact form shows them.
pub fn methods_of(contact: &ContactInfo) -> Vec<ContactMethod> {
    let mut out: Vec<ContactMethod> = contact
        .alternate_emails
        .iter()
        .map(|a| ContactMethod { kind: MethodKind::AlternateEmail, value: a.clone() })
        .collect();
    for (kind, value) in [
        (MethodKind::MobilePhone, &contact.mobile_phone),
        (MethodKind::AlternateMobilePhone, &contact.alternate_mobile_phone),
        (MethodKind::OfficePhone, &contact.office_phone),
    ] {
        if let Some(value) = value {
            out.push(ContactMethod { kind, value: value.clone() });
        }
    }
    out
}

/// When `method` was verified, if its current value was.
pub fn verified_at(method: &ContactMethod, verifications: &[Verification]) -> Option<Timestamp> {
    verifications.iter().find(|v| v.method == *method).map(|v| v.verified_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_values_are_masked() {
        let m = ContactMethod { kind: MethodKind::MobilePhone, value: "+442079460958".into() };
        assert_eq!(ContactMethod::from_key(&m.key()), Some(m.clone()));
        assert_eq!(m.masked(), "+44 •• •••• •958");
        assert_eq!(ContactMethod::from_key("fax:+1"), None);
        let office = ContactMethod { kind: MethodKind::OfficePhone, value: "+14255550100x1234".into() };
        assert_eq!(office.recipient(), "+14255550100");
        assert_eq!(office.kind.channel(), None);
    }

    #[test]
    fn a_changed_value_is_no_longer_verified() {
        let old = ContactMethod { kind: MethodKind::AlternateEmail, value: "a@fabrikam.com".into() };
        let verifications = [Verification { method: old.clone(), verified_at: Timestamp(5) }];
        assert_eq!(verified_at(&old, &verifications), Some(Timestamp(5)));
        let new = ContactMethod { value: "b@fabrikam.com".into(), ..old };
        assert_eq!(verified_at(&new, &verifications), None);
    }

    #[test]
    fn contacts_are_listed_in_form_order() {
        let contact = ContactInfo {
            alternate_emails: vec!["a@fabrikam.com".into()],
            office_phone: Some("+14255550100".into()),
            mobile_phone: Some("+442079460958".into()),
            ..ContactInfo::default()
        };
        let kinds: Vec<MethodKind> = methods_of(&contact).iter().map(|m| m.kind).collect();
        assert_eq!(kinds, [MethodKind::AlternateEmail, MethodKind::MobilePhone, MethodKind::OfficePhone]);
    }
}
