//! Recovery readiness: who could reset a forgotten password on their own today, under the
//! organisation's reset policy, and who could not and why. Only users self-service reset is
//! enabled for are assessed; the others are counted apart.

use serde::Serialize;

use crate::contact::ContactInfo;
use crate::group::GroupId;
use crate::recovery::methods::{methods_of, verified_at, Verification};
use crate::recovery::ResetPolicy;
use crate::role::RoleSet;

/// Where one user stands. Every user is in exactly one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Has as many usable contacts as the policy asks of them.
    Ready,
    /// Has usable contacts, but fewer than the policy asks (administrators need two).
    NotEnough,
    /// Has contacts the policy could use, but none verified, and the policy wants verified ones.
    OnlyUnverified,
    /// Has no contact the policy could use at all.
    NoContacts,
}

impl Readiness {
    /// Every group, in the order reports show them.
    pub const ALL: [Readiness; 4] =
        [Readiness::Ready, Readiness::NotEnough, Readiness::OnlyUnverified, Readiness::NoContacts];

    /// The group's code in links and files.
    pub fn code(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::NotEnough => "not_enough",
            Readiness::OnlyUnverified => "only_unverified",
            Readiness::NoContacts => "no_contacts",
        }
    }

    /// Parses a code.
    pub fn from_code(code: &str) -> Option<Readiness> {
        Readiness::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The group's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Readiness::Ready => "Can reset their password",
            Readiness::NotEnough => "Not enough methods",
            Readiness::OnlyUnverified => "Only unverified contacts",
            Readiness::NoContacts => "No recovery contacts",
        }
    }
}

/// Where a user with these roles, contacts and verifications stands under `policy`.
pub fn assess(policy: ResetPolicy, roles: RoleSet, contact: &ContactInfo, verifications: &[Verification]) -> Readiness {
    let usable = policy.usable_methods(contact, verifications).len();
    if usable >= policy.required_for(roles) {
        return Readiness::Ready;
    }
    if usable > 0 {
        return Readiness::NotEnough;
    }
    let candidates: Vec<_> = methods_of(contact).into_iter().filter(|m| policy.allows(m.kind)).collect();
    if candidates.is_empty() {
        Readiness::NoContacts
    } else {
        Readiness::OnlyUnverified
    }
}

/// Whether the user has contacts the policy could use but none of them is verified.
pub fn nothing_verified(policy: ResetPolicy, contact: &ContactInfo, verifications: &[Verification]) -> bool {
    let candidates: Vec<_> = methods_of(contact).into_iter().filter(|m| policy.allows(m.kind)).collect();
    !candidates.is_empty() && candidates.iter().all(|m| verified_at(m, verifications).is_none())
}

/// The organisation's figures, or a group's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadinessReport {
    /// Active users (not deleted) in the reset scope, sign-in allowed or not.
    pub users: u64,
    pub ready: u64,
    pub not_enough: u64,
    pub only_unverified: u64,
    pub no_contacts: u64,
    /// Users with contacts the policy could use, none of them verified, whatever group they are
    /// in: under the default policy they can reset, but nobody has proved the contacts theirs.
    pub nothing_verified: u64,
    pub administrators: u64,
    /// Administrators without the two methods they need.
    pub administrators_not_ready: u64,
    /// Active users self-service reset is not enabled for: none of the figures above counts them.
    pub outside_scope: u64,
    /// Users with at least one passkey.
    pub with_passkey: u64,
    /// Users whose only way back in is a passkey: no recovery contact at all, so losing the
    /// device means asking for a Temporary Access Pass.
    pub only_passkey: u64,
}

/// The figures of one group's members (at any depth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupReadiness {
    pub id: GroupId,
    pub name: String,
    #[serde(flatten)]
    pub report: ReadinessReport,
}

/// The figures over the whole directory and over each group they are broken down by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    #[serde(flatten)]
    pub all: ReadinessReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupReadiness>,
}

impl ReadinessReport {
    /// Counts one user outside the reset scope.
    pub fn add_outside_scope(&mut self) {
        self.outside_scope += 1;
    }

    /// Counts one user in the reset scope.
    pub fn add(&mut self, readiness: Readiness, administrator: bool, nothing_verified: bool) {
        self.users += 1;
        match readiness {
            Readiness::Ready => self.ready += 1,
            Readiness::NotEnough => self.not_enough += 1,
            Readiness::OnlyUnverified => self.only_unverified += 1,
            Readiness::NoContacts => self.no_contacts += 1,
        }
        if nothing_verified {
            self.nothing_verified += 1;
        }
        if administrator {
            self.administrators += 1;
            if readiness != Readiness::Ready {
                self.administrators_not_ready += 1;
            }
        }
    }

    /// Counts one user in the reset scope who has a passkey, in readiness group `readiness`.
    pub fn add_passkey(&mut self, readiness: Readiness) {
        self.with_passkey += 1;
        if readiness == Readiness::NoContacts {
            self.only_passkey += 1;
        }
    }

    /// The count of one group.
    pub fn count(&self, readiness: Readiness) -> u64 {
        match readiness {
            Readiness::Ready => self.ready,
            Readiness::NotEnough => self.not_enough,
            Readiness::OnlyUnverified => self.only_unverified,
            Readiness::NoContacts => self.no_contacts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::recovery::methods::{ContactMethod, MethodKind};
    use crate::role::Role;

    fn contact(emails: &[&str], mobile: Option<&str>) -> ContactInfo {
        ContactInfo {
            display_name: "X".into(),
            alternate_emails: emails.iter().map(|e| e.to_string()).collect(),
            mobile_phone: mobile.map(str::to_string),
            ..ContactInfo::default()
        }
    }

    fn verified(kind: MethodKind, value: &str) -> Verification {
        Verification { method: ContactMethod { kind, value: value.into() }, verified_at: Timestamp(1) }
    }

    #[test]
    fn a_passkey_without_contacts_is_one_lost_device_from_a_pass() {
        let mut report = ReadinessReport::default();
        report.add_passkey(Readiness::Ready);
        report.add_passkey(Readiness::NoContacts);
        assert_eq!((report.with_passkey, report.only_passkey), (2, 1));
    }

    #[test]
    fn users_fall_in_one_group_each_under_the_policy() {
        let lenient = ResetPolicy::default();
        let strict = ResetPolicy { allow_unverified: false, ..ResetPolicy::default() };
        let admin = RoleSet::of(&[Role::HelpdeskAdministrator]);
        let one = contact(&["a@fabrikam.com"], None);
        let two = contact(&["a@fabrikam.com"], Some("+14255550100"));
        let office_only = ContactInfo { office_phone: Some("+14255550100".into()), ..contact(&[], None) };
        assert_eq!(assess(lenient, RoleSet::NONE, &one, &[]), Readiness::Ready);
        assert_eq!(assess(strict, RoleSet::NONE, &one, &[]), Readiness::OnlyUnverified);
        let proof = [verified(MethodKind::AlternateEmail, "a@fabrikam.com")];
        assert_eq!(assess(strict, RoleSet::NONE, &one, &proof), Readiness::Ready);
        assert_eq!(assess(lenient, admin, &one, &[]), Readiness::NotEnough, "administrators need two");
        assert_eq!(assess(lenient, admin, &two, &[]), Readiness::Ready);
        assert_eq!(assess(strict, admin, &two, &proof), Readiness::NotEnough);
        assert_eq!(
            assess(lenient, RoleSet::NONE, &office_only, &[]),
            Readiness::NoContacts,
            "an office phone is no reset method"
        );
        let sms_off = ResetPolicy { allow_sms: false, ..ResetPolicy::default() };
        assert_eq!(assess(sms_off, RoleSet::NONE, &contact(&[], Some("+14255550100")), &[]), Readiness::NoContacts);
        assert!(nothing_verified(lenient, &one, &[]));
        assert!(!nothing_verified(lenient, &one, &proof));
        assert!(!nothing_verified(lenient, &office_only, &[]), "no usable contacts is another group");
    }

    #[test]
    fn the_report_counts_groups_administrators_and_unverified_contacts() {
        let mut report = ReadinessReport::default();
        report.add(Readiness::Ready, false, true);
        report.add(Readiness::Ready, true, false);
        report.add(Readiness::NotEnough, true, true);
        report.add(Readiness::NoContacts, false, false);
        assert_eq!((report.users, report.ready, report.not_enough, report.no_contacts), (4, 2, 1, 1));
        assert_eq!((report.administrators, report.administrators_not_ready), (2, 1));
        assert_eq!(report.nothing_verified, 2);
        assert_eq!(Readiness::ALL.iter().map(|r| report.count(*r)).sum::<u64>(), report.users);
    }
}
