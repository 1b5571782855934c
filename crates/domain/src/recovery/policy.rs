//! The organisation's self-service password reset policy, kept as settings.

use crate::contact::ContactInfo;
use crate::error::FieldError;
use crate::recovery::methods::{methods_of, verified_at, ContactMethod, MethodKind, Verification};
use crate::role::RoleSet;

/// The setting keys the policy is stored under.
pub const SETTING_METHODS_REQUIRED: &str = "sspr_methods_required";
/// Whether alternate email addresses may carry reset codes.
pub const SETTING_ALLOW_EMAIL: &str = "sspr_allow_email";
/// Whether mobile phones may carry reset codes.
pub const SETTING_ALLOW_SMS: &str = "sspr_allow_sms";
/// Whether contacts nobody has verified may carry reset codes.
pub const SETTING_ALLOW_UNVERIFIED: &str = "sspr_allow_unverified";
/// The shortest password allowed.
pub const SETTING_MIN_PASSWORD_LENGTH: &str = "password_min_length";
/// For whom self-service reset is enabled: `none`, `selected` (groups) or `all`.
pub const SETTING_RESET_SCOPE: &str = "sspr_enabled_for";
/// The groups self-service reset is enabled for when the scope is `selected`.
pub const SETTING_RESET_GROUPS: &str = "sspr_groups";

/// Who may reset their own password, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetPolicy {
    /// Methods an ordinary user must prove: one or two. Administrators always prove two.
    pub methods_required: u8,
    pub allow_email: bool,
    pub allow_sms: bool,
    /// Microsoft 365 lets contacts an administrator entered work at once; so does Roster by
    /// default.
    pub allow_unverified: bool,
    /// The shortest password anyone may choose (8 to 64).
    pub min_password_length: u8,
}

impl Default for ResetPolicy {
    fn default() -> Self {
        ResetPolicy {
            methods_required: 1,
            allow_email: true,
            allow_sms: true,
            allow_unverified: true,
            min_password_length: 8,
        }
    }
}

impl ResetPolicy {
    /// The policy from stored settings; missing or unreadable ones take their defaults.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> ResetPolicy {
        let d = ResetPolicy::default();
        let flag = |key: &str, default: bool| get(key).map(|v| v == "true").unwrap_or(default);
        ResetPolicy {
            methods_required: get(SETTING_METHODS_REQUIRED)
                .and_then(|v| v.parse().ok())
                .filter(|n| (1..=2).contains(n))
                .unwrap_or(d.methods_required),
            allow_email: flag(SETTING_ALLOW_EMAIL, d.allow_email),
            allow_sms: flag(SETTING_ALLOW_SMS, d.allow_sms),
            allow_unverified: flag(SETTING_ALLOW_UNVERIFIED, d.allow_unverified),
            min_password_length: get(SETTING_MIN_PASSWORD_LENGTH)
                .and_then(|v| v.parse().ok())
                .filter(|n| (8..=64).contains(n))
                .unwrap_or(d.min_password_length),
        }
    }

    /// The policy as settings.
    pub fn to_settings(self) -> [(&'static str, String); 5] {
        [
            (SETTING_MIN_PASSWORD_LENGTH, self.min_password_length.to_string()),
            (SETTING_METHODS_REQUIRED, self.methods_required.to_string()),
            (SETTING_ALLOW_EMAIL, self.allow_email.to_string()),
            (SETTING_ALLOW_SMS, self.allow_sms.to_string()),
            (SETTING_ALLOW_UNVERIFIED, self.allow_unverified.to_string()),
        ]
    }

    /// Checks a policy an administrator submitted.
    pub fn validate(self) -> Result<ResetPolicy, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(1..=2).contains(&self.methods_required) {
            errors.push(FieldError::new("methods_required", "Choose one or two methods."));
        }
        if !(8..=64).contains(&self.min_password_length) {
            errors.push(FieldError::new("min_password_length", "Enter a length from 8 to 64 characters."));
        }
        if !self.allow_email && !self.allow_sms {
            errors.push(FieldError::new("allow_email", "Allow at least one method, or nobody can reset a password."));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// Methods a user holding `roles` must prove.
    pub fn required_for(self, roles: RoleSet) -> usize {
        if roles.is_admin() {
            2
        } else {
            usize::from(self.methods_required)
        }
    }

    /// The contacts that can carry this user's reset codes under this policy: of an allowed
    /// kind, verified unless unverified ones are allowed, and one per handset or mailbox
    /// however many fields hold it.
    pub fn usable_methods(self, contact: &ContactInfo, verifications: &[Verification]) -> Vec<ContactMethod> {
        let mut methods: Vec<ContactMethod> = methods_of(contact)
            .into_iter()
            .filter(|m| self.allows(m.kind))
            .filter(|m| self.allow_unverified || verified_at(m, verifications).is_some())
            .collect();
        let mut seen = std::collections::HashSet::new();
        methods.retain(|m| seen.insert(m.recipient()));
        methods
    }

    /// Whether codes for a reset may go to this kind of contact.
    pub fn allows(self, kind: MethodKind) -> bool {
        match kind {
            MethodKind::AlternateEmail => self.allow_email,
            MethodKind::MobilePhone | MethodKind::AlternateMobilePhone => self.allow_sms,
            MethodKind::OfficePhone => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;

    #[test]
    fn administrators_always_prove_two_methods() {
        let policy = ResetPolicy::default();
        assert_eq!(policy.required_for(RoleSet::NONE), 1);
        assert_eq!(policy.required_for(RoleSet::of(&[Role::HelpdeskAdministrator])), 2);
    }

    #[test]
    fn settings_round_trip_and_bad_values_fall_back() {
        let policy = ResetPolicy {
            methods_required: 2,
            allow_email: false,
            allow_sms: true,
            allow_unverified: false,
            min_password_length: 12,
        };
        let stored = policy.to_settings();
        let read = ResetPolicy::from_settings(|k| stored.iter().find(|(s, _)| *s == k).map(|(_, v)| v.clone()));
        assert_eq!(read, policy);
        let odd = ResetPolicy::from_settings(|k| (k == SETTING_METHODS_REQUIRED).then(|| "7".to_string()));
        assert_eq!(odd, ResetPolicy::default());
    }

    #[test]
    fn a_policy_that_allows_nothing_is_refused() {
        let none = ResetPolicy { allow_email: false, allow_sms: false, ..ResetPolicy::default() };
        assert_eq!(none.validate().unwrap_err()[0].field, "allow_email");
        assert!(ResetPolicy { methods_required: 3, ..ResetPolicy::default() }.validate().is_err());
        let short = ResetPolicy { min_password_length: 6, ..ResetPolicy::default() };
        assert_eq!(short.validate().unwrap_err()[0].field, "min_password_length");
    }
}
