//! The audit log: reading it with filters, its tamper evidence, and its retention.
//!
//! Records are written with the changes they describe and sealed shortly after, in one chain
//! for the whole organisation: each sealed record carries a number and a hash over the previous
//! record's hash and its own fields ([`chain_hash`]). Verifying walks the chain from its anchor
//! and names the first record that was changed, removed or reordered. Someone who can write to
//! the database could rebuild the whole chain after a change, so `roster audit verify` prints the
//! head (number and hash): kept somewhere else, an earlier printout shows whether the chain up
//! to it is still the same.

use crate::audit::{chain_hash, AuditAction, AuditEntry, AuditQuery, ChainLink, FieldChange};
use crate::clock::Timestamp;
use crate::error::{DomainError, FieldError};
use crate::group::{GroupFilter, GroupId, GroupQuery};
use crate::permission::Permission;
use crate::role::RoleSet;
use crate::time_zone::Zone;
use crate::user::UserId;

use super::{Actor, Directory};

/// Records sealed per transaction.
const SEAL_BATCH: u32 = 1_000;
/// Records verified per read.
const VERIFY_PAGE: u32 = 1_000;
/// The setting that holds how many days audit records are kept (`0`: for ever).
pub const SETTING_AUDIT_RETENTION_DAYS: &str = "audit_retention_days";
/// Days audit records are kept unless the setting says otherwise: two years.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 730;
/// The longest retention that can be set, in days (ten years).
pub const MAX_AUDIT_RETENTION_DAYS: u32 = 3_650;

/// What verifying the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Sealed records checked.
    pub checked: u64,
    /// Where the check started: the anchor left by retention, if any.
    pub anchor: Option<ChainLink>,
    /// The last record checked.
    pub head: Option<ChainLink>,
    /// Records not sealed yet (written since the last seal).
    pub unsealed: u64,
    /// The first record at fault, if any.
    pub broken: Option<BrokenLink>,
}

/// The first place the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The chain number at fault.
    pub seq: i64,
    /// The record's id, when the record is there.
    pub id: Option<i64>,
    /// What is wrong, for people.
    pub reason: String,
}

/// The audit log's filters as typed: usernames (or ids), an action code, days as `YYYY-MM-DD`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilterInput {
    /// Who made the changes.
    pub actor: String,
    /// Whom the changes were about.
    pub user: String,
    pub action: String,
    /// The group the changes were made to or in: its id, or a name only one group has.
    pub group: String,
    /// The first day shown.
    pub from: String,
    /// The last day shown.
    pub to: String,
    /// The time zone the days are in: the reader's.
    pub zone: Zone,
}

impl Directory {
    /// Audit records, newest first.
    pub async fn audit_log(&self, actor: &Actor, query: &AuditQuery) -> Result<Vec<AuditEntry>, DomainError> {
        actor.require(Permission::ViewAdminCenter, RoleSet::NONE)?;
        Ok(self.store.list_audit(query).await?)
    }

    /// Turns typed filters into a query, naming every field that cannot be understood.
    pub async fn audit_query(&self, input: &AuditFilterInput) -> Result<AuditQuery, DomainError> {
        let mut errors = Vec::new();
        let actor = self.user_by_name_or_id("actor", &input.actor, &mut errors).await?;
        let target = self.user_by_name_or_id("user", &input.user, &mut errors).await?;
        let action = match input.action.trim() {
            "" => None,
            code => AuditAction::from_code(code).or_else(|| {
                errors.push(FieldError::new("action", "Choose an action from the list."));
                None
            }),
        };
        let group = self.group_by_name_or_id(&input.group, &mut errors).await?;
        let (from, until) = day_range(&input.from, &input.to, &input.zone, &mut errors);
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        Ok(AuditQuery { target, actor, action, group, from, until, ..AuditQuery::default() })
    }

    /// A group named by id (deleted and purged groups keep their records), or by a name only
    /// one active group has.
    async fn group_by_name_or_id(
        &self,
        text: &str,
        errors: &mut Vec<FieldError>,
    ) -> Result<Option<GroupId>, DomainError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if let Ok(id) = text.parse::<GroupId>() {
            return Ok(Some(id));
        }
        let query = GroupQuery {
            filter: Some(GroupFilter::DisplayNameIs(text.to_string())),
            limit: 2,
            ..GroupQuery::default()
        };
        match self.store.list_groups(&query).await?.as_slice() {
            [one] => Ok(Some(one.id)),
            [] => {
                errors.push(FieldError::new(
                    "group",
                    "No active group has this name. For a deleted group, enter its id.",
                ));
                Ok(None)
            }
            _ => {
                errors.push(FieldError::new("group", "Several groups have this name. Enter the group's id instead."));
                Ok(None)
            }
        }
    }

    /// A user named by username, or by id (deleted and purged users keep their records).
    async fn user_by_name_or_id(
        &self,
        field: &str,
        text: &str,
        errors: &mut Vec<FieldError>,
    ) -> Result<Option<UserId>, DomainError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if let Ok(id) = text.parse::<UserId>() {
            return Ok(Some(id));
        }
        match self.store.get_credentials(&text.to_lowercase()).await? {
            Some(credentials) => Ok(Some(credentials.user_id)),
            None => {
                errors.push(FieldError::new(
                    field,
                    "No active user has this username. For a deleted user, enter their id.",
                ));
                Ok(None)
            }
        }
    }

    /// Seals every record written so far into the chain; returns how many it sealed.
    pub async fn seal_audit(&self) -> Result<u64, DomainError> {
        let mut sealed = 0;
        loop {
            let n = self.store.seal_audit(SEAL_BATCH).await?;
            sealed += n;
            if n < u64::from(SEAL_BATCH) {
                return Ok(sealed);
            }
        }
    }

    /// Seals what is unsealed, then checks the whole chain from its anchor and reports the
    /// first record at fault (Global Administrators, and the command line).
    pub async fn verify_audit(&self, actor: &Actor) -> Result<ChainReport, DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        self.seal_audit().await?;
        let state = self.store.audit_chain_state().await?;
        let mut report = ChainReport {
            checked: 0,
            anchor: state.anchor.clone(),
            head: None,
            unsealed: state.unsealed,
            broken: None,
        };
        let (mut seq, mut previous) = state.anchor.map_or((0, String::new()), |a| (a.seq, a.hash));
        loop {
            let page = self.store.audit_chain(seq, VERIFY_PAGE).await?;
            for sealed in &page {
                let expected = seq + 1;
                if sealed.seq != expected {
                    report.broken = Some(BrokenLink {
                        seq: expected,
                        id: None,
                        reason: format!(
                            "Record {expected} of the chain is missing: it was deleted (the next one is {}).",
                            sealed.seq
                        ),
                    });
                    return Ok(report);
                }
                if chain_hash(&previous, sealed.seq, &sealed.entry) != sealed.hash {
                    report.broken = Some(BrokenLink {
                        seq: sealed.seq,
                        id: Some(sealed.entry.id),
                        reason: format!(
                            "Record {} (id {}) does not match its hash: it, or the hash of the one before it, \
                             was changed after it was sealed.",
                            sealed.seq, sealed.entry.id
                        ),
                    });
                    return Ok(report);
                }
                report.checked += 1;
                seq = sealed.seq;
                previous.clone_from(&sealed.hash);
                report.head = Some(ChainLink { seq, hash: previous.clone() });
            }
            if page.len() < VERIFY_PAGE as usize {
                break;
            }
        }
        if let Some(head) = state.head.filter(|h| h.seq > seq) {
            report.broken = Some(BrokenLink {
                seq: seq + 1,
                id: None,
                reason: format!(
                    "The chain ends at record {seq}, but {} were sealed: the last records were deleted.",
                    head.seq
                ),
            });
        }
        Ok(report)
    }

    /// Sets how many days audit records are kept (Global Administrators only).
    pub async fn set_audit_retention(&self, actor: &Actor, raw: &str) -> Result<(), DomainError> {
        actor.require(Permission::ManageSettings, RoleSet::NONE)?;
        let days = parse_retention_days(raw).map_err(|m| DomainError::invalid(SETTING_AUDIT_RETENTION_DAYS, m))?;
        let change = FieldChange {
            field: SETTING_AUDIT_RETENTION_DAYS.into(),
            sensitive: false,
            before: Some(self.audit_retention_days().await?.to_string()),
            after: Some(days.to_string()),
        };
        let audit = actor.audit(AuditAction::SettingsChanged, None, vec![change]);
        self.put_settings(&[(SETTING_AUDIT_RETENTION_DAYS, days.to_string())], &audit).await
    }

    /// How many days audit records are kept (`0`: for ever).
    pub async fn audit_retention_days(&self) -> Result<u32, DomainError> {
        let stored = self.setting(SETTING_AUDIT_RETENTION_DAYS).await?;
        Ok(stored.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS))
    }

    /// Removes sealed audit records and sign-in attempts older than the retention period,
    /// leaving the chain verifiable from the last record removed; returns how many audit
    /// records went.
    pub async fn trim_audit(&self) -> Result<u64, DomainError> {
        let days = self.audit_retention_days().await?;
        if days == 0 {
            return Ok(0);
        }
        self.seal_audit().await?;
        let cutoff = Timestamp::now().plus_seconds(-i64::from(days) * 24 * 60 * 60);
        let change = FieldChange {
            field: "written_before".into(),
            sensitive: false,
            before: None,
            after: Some(cutoff.rfc3339()),
        };
        let audit = Actor::system("Roster retention").audit(AuditAction::AuditTrimmed, None, vec![change]);
        self.store.trim_signins(cutoff).await?;
        Ok(self.store.trim_audit(cutoff, &audit).await?)
    }
}

/// The time range from the start of the day `from` to the end of the day `to` (`YYYY-MM-DD`
/// in `zone`, either may be empty), with an error on the field that cannot be understood.
pub(crate) fn day_range(
    from: &str,
    to: &str,
    zone: &Zone,
    errors: &mut Vec<FieldError>,
) -> (Option<Timestamp>, Option<Timestamp>) {
    let mut day = |field: &str, text: &str| match text.trim() {
        "" => None,
        text => zone.day(text).or_else(|| {
            errors.push(FieldError::new(field, "Enter a date as year-month-day, such as 2026-11-28."));
            None
        }),
    };
    let from = day("from", from).map(|(start, _)| start);
    let until = day("to", to).map(|(_, end)| end);
    if let (Some(from), Some(until)) = (from, until) {
        if until <= from {
            errors.push(FieldError::new("to", "The last day can't be before the first day."));
        }
    }
    (from, until)
}

/// Checks a retention period typed into the settings: whole days, 0 to keep for ever.
pub fn parse_retention_days(raw: &str) -> Result<u32, String> {
    match raw.trim().parse::<u32>() {
        Ok(days) if days <= MAX_AUDIT_RETENTION_DAYS => Ok(days),
        Ok(_) => {
            Err(format!("Enter at most {MAX_AUDIT_RETENTION_DAYS} days (ten years), or 0 to keep records for ever."))
        }
        Err(_) => Err("Enter a whole number of days, such as 730, or 0 to keep records for ever.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_whole_days_up_to_ten_years() {
        assert_eq!(parse_retention_days(" 365 "), Ok(365));
        assert_eq!(parse_retention_days("0"), Ok(0));
        assert!(parse_retention_days("3651").unwrap_err().contains("at most 3650"));
        assert!(parse_retention_days("1.5").unwrap_err().contains("whole number"));
        assert!(parse_retention_days("-1").is_err());
    }
}
