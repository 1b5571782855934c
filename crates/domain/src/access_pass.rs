//! The Temporary Access Pass: a time-limited secret an administrator gives someone who has
//! lost every way to sign in (or a new hire with none yet), which signs them in once or for a
//! while so that they can register new methods. Its policy, its rules of use and its secret.

use rand::rngs::OsRng;
use rand::Rng;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::error::FieldError;
use crate::group::Scope;
use crate::time_zone::Zone;
use crate::user::UserId;

/// Who may use a pass: `none`, `selected` or `all`.
pub const SETTING_SCOPE: &str = "access_pass_scope";
/// The groups whose members may use one, when the scope is `selected`.
pub const SETTING_GROUPS: &str = "access_pass_groups";
/// The lifetime a new pass gets unless its creator chooses another, in minutes.
pub const SETTING_DEFAULT_LIFETIME: &str = "access_pass_default_lifetime";
/// The shortest lifetime a creator may choose, in minutes.
pub const SETTING_MIN_LIFETIME: &str = "access_pass_min_lifetime";
/// The longest lifetime a creator may choose, in minutes.
pub const SETTING_MAX_LIFETIME: &str = "access_pass_max_lifetime";
/// `1` when every pass works for one sign-in only.
pub const SETTING_ONE_TIME: &str = "access_pass_one_time";
/// How many characters a new pass has.
pub const SETTING_LENGTH: &str = "access_pass_length";

/// The bounds Entra puts on every lifetime setting: ten minutes to thirty days.
pub const LIFETIME_BOUNDS: (u32, u32) = (10, 43_200);
/// The bounds on a pass's length.
pub const LENGTH_BOUNDS: (u32, u32) = (8, 48);

/// How far ahead a pass may be made to start: Entra's limit is not published; thirty days
/// keeps a forgotten pass from waking up months later.
pub const MAX_START_DELAY_SECONDS: i64 = 30 * 24 * 60 * 60;

/// Letters and digits without the ones people confuse when a pass is read out or copied by
/// hand (0/O, 1/l/I).
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// The organisation's rules for passes, with Entra's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPassPolicy {
    /// Who may sign in with a pass.
    pub scope: Scope,
    pub default_lifetime_minutes: u32,
    pub min_lifetime_minutes: u32,
    pub max_lifetime_minutes: u32,
    /// Every pass works for one sign-in only; otherwise its creator chooses.
    pub one_time: bool,
    pub length: u32,
}

/// Entra's defaults, and its choice to leave passes off until an administrator turns them on:
/// a pass signs in as its user, so no role should be able to issue one before the organisation
/// decided who may use them.
impl Default for AccessPassPolicy {
    fn default() -> Self {
        AccessPassPolicy {
            scope: Scope::Nobody,
            default_lifetime_minutes: 60,
            min_lifetime_minutes: 60,
            max_lifetime_minutes: 480,
            one_time: false,
            length: 8,
        }
    }
}

/// A policy as typed in Settings, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct AccessPassPolicyInput {
    pub default_lifetime_minutes: String,
    pub min_lifetime_minutes: String,
    pub max_lifetime_minutes: String,
    pub one_time: bool,
    pub length: String,
}

impl AccessPassPolicy {
    /// The policy as stored in settings (read through `get`), each value falling back to the
    /// default when missing or unreadable.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> AccessPassPolicy {
        let d = AccessPassPolicy::default();
        let number = |key: &str, default: u32| get(key).and_then(|v| v.parse().ok()).unwrap_or(default);
        AccessPassPolicy {
            scope: Scope::from_settings(get(SETTING_SCOPE).as_deref(), get(SETTING_GROUPS).as_deref(), d.scope),
            default_lifetime_minutes: number(SETTING_DEFAULT_LIFETIME, d.default_lifetime_minutes),
            min_lifetime_minutes: number(SETTING_MIN_LIFETIME, d.min_lifetime_minutes),
            max_lifetime_minutes: number(SETTING_MAX_LIFETIME, d.max_lifetime_minutes),
            one_time: get(SETTING_ONE_TIME).as_deref() == Some("1"),
            length: number(SETTING_LENGTH, d.length),
        }
    }

    /// The settings that store this policy (its scope included).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            (SETTING_SCOPE, self.scope.code().to_string()),
            (SETTING_GROUPS, self.scope.groups_setting()),
            (SETTING_DEFAULT_LIFETIME, self.default_lifetime_minutes.to_string()),
            (SETTING_MIN_LIFETIME, self.min_lifetime_minutes.to_string()),
            (SETTING_MAX_LIFETIME, self.max_lifetime_minutes.to_string()),
            (SETTING_ONE_TIME, if self.one_time { "1" } else { "0" }.to_string()),
            (SETTING_LENGTH, self.length.to_string()),
        ]
    }

    /// Checks a typed policy, naming every field that is out of bounds or contradicts another.
    pub fn parse(input: &AccessPassPolicyInput, scope: Scope) -> Result<AccessPassPolicy, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut number = |field: &str, text: &str, (low, high): (u32, u32), unit: &str| match text.trim().parse::<u32>()
        {
            Ok(n) if (low..=high).contains(&n) => Some(n),
            _ => {
                errors.push(FieldError::new(field, format!("Enter a whole number of {unit} from {low} to {high}.")));
                None
            }
        };
        let default = number("default_lifetime_minutes", &input.default_lifetime_minutes, LIFETIME_BOUNDS, "minutes");
        let min = number("min_lifetime_minutes", &input.min_lifetime_minutes, LIFETIME_BOUNDS, "minutes");
        let max = number("max_lifetime_minutes", &input.max_lifetime_minutes, LIFETIME_BOUNDS, "minutes");
        let length = number("length", &input.length, LENGTH_BOUNDS, "characters");
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                errors.push(FieldError::new("max_lifetime_minutes", "Make it at least the minimum lifetime."));
            } else if default.is_some_and(|d| !(min..=max).contains(&d)) {
                errors.push(FieldError::new(
                    "default_lifetime_minutes",
                    format!("Choose a lifetime between the minimum ({min}) and the maximum ({max})."),
                ));
            }
        }
        match (default, min, max, length) {
            (Some(default), Some(min), Some(max), Some(length)) if errors.is_empty() => Ok(AccessPassPolicy {
                scope,
                default_lifetime_minutes: default,
                min_lifetime_minutes: min,
                max_lifetime_minutes: max,
                one_time: input.one_time,
                length,
            }),
            _ => Err(errors),
        }
    }

    /// Settles what a creator asked for against the policy at `now`: the start, the lifetime
    /// and whether the pass works once, or every field's problem.
    pub fn settle(&self, request: &AccessPassRequest, now: Timestamp) -> Result<Settled, Vec<FieldError>> {
        let mut errors = Vec::new();
        let lifetime = request.lifetime_minutes.unwrap_or(self.default_lifetime_minutes);
        let (min, max) = (self.min_lifetime_minutes, self.max_lifetime_minutes);
        if !(min..=max).contains(&lifetime) {
            errors.push(FieldError::new(
                "lifetime_minutes",
                format!("Choose a lifetime from {} to {}, as the policy allows.", minutes(min), minutes(max)),
            ));
        }
        // A start a little in the past is a clock or a slow form, not a wish to shorten the pass.
        let start = request.start_at.map_or(now, |s| s.max(now));
        if start > now.plus_seconds(MAX_START_DELAY_SECONDS) {
            errors.push(FieldError::new("start", "Choose a start within the next 30 days."));
        }
        if self.one_time && request.usable_once == Some(false) {
            errors.push(FieldError::new("usable_once", "The policy makes every pass work for one sign-in only."));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let usable_once = self.one_time || request.usable_once.unwrap_or(false);
        Ok(Settled { start_at: start, lifetime_minutes: lifetime, usable_once })
    }
}

/// A number of minutes as people read it: "1 hour", "90 minutes", "2 days".
pub fn minutes(n: u32) -> String {
    let plural = |n: u32, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    match n {
        n if n % 1440 == 0 => plural(n / 1440, "day"),
        n if n % 60 == 0 => plural(n / 60, "hour"),
        n => plural(n, "minute"),
    }
}

/// What a creator asked for; `None` leaves the choice to the policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPassRequest {
    pub start_at: Option<Timestamp>,
    pub lifetime_minutes: Option<u32>,
    pub usable_once: Option<bool>,
}

impl AccessPassRequest {
    /// A request as typed in the admin center: the start as a local date and time in the
    /// reader's `zone` (empty: now), the lifetime in minutes (empty: the policy's default).
    pub fn from_form(start: &str, lifetime: &str, usable_once: bool, zone: &Zone) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let start_at = match start.trim() {
            "" => None,
            text => {
                let at = zone.local_time(text);
                if at.is_none() {
                    errors.push(FieldError::new(
                        "start",
                        "Enter a date and time such as 2026-12-07 09:00, or leave it empty to start now.",
                    ));
                }
                at
            }
        };
        let lifetime_minutes = match lifetime.trim() {
            "" => None,
            text => {
                let n = text.parse::<u32>().ok();
                if n.is_none() {
                    errors.push(FieldError::new("lifetime_minutes", "Enter a whole number of minutes, such as 60."));
                }
                n
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AccessPassRequest { start_at, lifetime_minutes, usable_once: Some(usable_once) })
    }
}

/// A request settled against the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub start_at: Timestamp,
    pub lifetime_minutes: u32,
    pub usable_once: bool,
}

/// A pass as stored: its secret only as a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPass {
    pub id: Uuid,
    pub user_id: UserId,
    pub hash: String,
    pub created_at: Timestamp,
    pub start_at: Timestamp,
    pub lifetime_minutes: u32,
    pub usable_once: bool,
    /// The last sign-in with it; for a one-time pass, the one that used it up.
    pub used_at: Option<Timestamp>,
}

/// Whether a pass can sign its user in now, as Graph's `methodUsabilityReason` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usability {
    Usable,
    NotYetValid,
    Expired,
    OneTimeUsed,
    /// The user is outside the policy's scope.
    DisabledByPolicy,
}

impl Usability {
    /// Graph's name for the reason.
    pub fn graph_reason(self) -> &'static str {
        match self {
            Usability::Usable => "EnabledByPolicy",
            Usability::NotYetValid => "NotYetValid",
            Usability::Expired => "Expired",
            Usability::OneTimeUsed => "OneTimeUsed",
            Usability::DisabledByPolicy => "DisabledByPolicy",
        }
    }

    /// Why a sign-in with the pass failed, for the sign-in log.
    pub fn sign_in_detail(self) -> &'static str {
        match self {
            Usability::Usable => "",
            Usability::NotYetValid => "The Temporary Access Pass has not started yet",
            Usability::Expired => "The Temporary Access Pass has expired",
            Usability::OneTimeUsed => "The one-time Temporary Access Pass was used already",
            Usability::DisabledByPolicy => "The Temporary Access Pass policy doesn't include this user",
        }
    }

    /// The state for people.
    pub fn label(self) -> &'static str {
        match self {
            Usability::Usable => "Usable",
            Usability::NotYetValid => "Not started yet",
            Usability::Expired => "Expired",
            Usability::OneTimeUsed => "Used",
            Usability::DisabledByPolicy => "Not allowed by the policy",
        }
    }
}

impl AccessPass {
    /// A new pass for `user` as settled, and its secret (shown once).
    pub fn issue(
        user: UserId,
        settled: Settled,
        length: u32,
        now: Timestamp,
        key: &crate::recovery::CodeKey,
    ) -> (AccessPass, String) {
        let secret = generate(length);
        let id = Uuid::new_v4();
        let pass = AccessPass {
            id,
            user_id: user,
            hash: hash(key, id, &secret),
            created_at: now,
            start_at: settled.start_at,
            lifetime_minutes: settled.lifetime_minutes,
            usable_once: settled.usable_once,
            used_at: None,
        };
        (pass, secret)
    }

    /// When it stops working.
    pub fn ends_at(&self) -> Timestamp {
        self.start_at.plus_seconds(i64::from(self.lifetime_minutes) * 60)
    }

    /// Whether it can sign its user in at `now`, for a user inside the policy or not.
    pub fn usability(&self, now: Timestamp, in_policy: bool) -> Usability {
        if !in_policy {
            Usability::DisabledByPolicy
        } else if now < self.start_at {
            Usability::NotYetValid
        } else if now >= self.ends_at() {
            Usability::Expired
        } else if self.usable_once && self.used_at.is_some() {
            Usability::OneTimeUsed
        } else {
            Usability::Usable
        }
    }

    /// Whether `entered` is this pass's secret, compared in constant time.
    pub fn matches(&self, key: &crate::recovery::CodeKey, entered: &str) -> bool {
        use subtle::ConstantTimeEq;
        hash(key, self.id, entered.trim()).as_bytes().ct_eq(self.hash.as_bytes()).into()
    }
}

/// The stored form of a pass's secret: keyed by the server, so a copy of the database alone
/// cannot test guesses, and by the pass, so two passes never share a hash.
fn hash(key: &crate::recovery::CodeKey, id: Uuid, secret: &str) -> String {
    key.mac(&["access pass", &id.to_string(), secret])
}

/// A random secret of `length` characters from the OS generator.
fn generate(length: u32) -> String {
    let length = length.clamp(LENGTH_BOUNDS.0, LENGTH_BOUNDS.1);
    (0..length).map(|_| char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::CodeKey;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn input(default: &str, min: &str, max: &str, length: &str) -> AccessPassPolicyInput {
        AccessPassPolicyInput {
            default_lifetime_minutes: default.into(),
            min_lifetime_minutes: min.into(),
            max_lifetime_minutes: max.into(),
            one_time: false,
            length: length.into(),
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn the_default_policy_is_entras() {
        let p = AccessPassPolicy::default();
        assert_eq!(
            (p.default_lifetime_minutes, p.min_lifetime_minutes, p.max_lifetime_minutes, p.length, p.one_time),
            (60, 60, 480, 8, false)
        );
        assert_eq!(p.scope, Scope::Nobody, "off until turned on, as in Entra");
        assert_eq!(AccessPassPolicy::from_settings(|_| None), p);
    }

    #[test]
    fn a_policy_round_trips_through_its_settings() {
        let p = AccessPassPolicy {
            scope: Scope::Nobody,
            default_lifetime_minutes: 120,
            min_lifetime_minutes: 10,
            max_lifetime_minutes: 43_200,
            one_time: true,
            length: 48,
        };
        let stored = p.settings();
        let get = |k: &str| stored.iter().find(|(name, _)| *name == k).map(|(_, v)| v.clone());
        assert_eq!(AccessPassPolicy::from_settings(get), p);
    }

    #[test]
    fn policy_bounds_are_entras_and_every_bad_field_is_named() {
        assert!(AccessPassPolicy::parse(&input("60", "10", "43200", "8"), Scope::Everyone).is_ok());
        let errors = AccessPassPolicy::parse(&input("9", "0", "43201", "49"), Scope::Everyone).unwrap_err();
        assert_eq!(
            fields(&errors),
            ["default_lifetime_minutes", "min_lifetime_minutes", "max_lifetime_minutes", "length"]
        );
        let errors = AccessPassPolicy::parse(&input("60", "120", "60", "8"), Scope::Everyone).unwrap_err();
        assert_eq!(fields(&errors), ["max_lifetime_minutes"]);
        let errors = AccessPassPolicy::parse(&input("600", "60", "480", "8"), Scope::Everyone).unwrap_err();
        assert_eq!(fields(&errors), ["default_lifetime_minutes"]);
        assert!(errors[0].message.contains("(60) and the maximum (480)"), "{}", errors[0].message);
        let errors = AccessPassPolicy::parse(&input("an hour", "60", "480", "eight"), Scope::Everyone).unwrap_err();
        assert_eq!(fields(&errors), ["default_lifetime_minutes", "length"]);
    }

    #[test]
    fn a_request_is_settled_within_the_policy() {
        let p = AccessPassPolicy::default();
        let s = p.settle(&AccessPassRequest::default(), NOW).unwrap();
        assert_eq!(s, Settled { start_at: NOW, lifetime_minutes: 60, usable_once: false });
        let later = NOW.plus_seconds(3600);
        let asked = AccessPassRequest { start_at: Some(later), lifetime_minutes: Some(480), usable_once: Some(true) };
        assert_eq!(
            p.settle(&asked, NOW).unwrap(),
            Settled { start_at: later, lifetime_minutes: 480, usable_once: true }
        );
        let past = AccessPassRequest { start_at: Some(NOW.plus_seconds(-60)), ..AccessPassRequest::default() };
        assert_eq!(p.settle(&past, NOW).unwrap().start_at, NOW, "a start in the past starts now");
        let wrong = AccessPassRequest {
            start_at: Some(NOW.plus_seconds(MAX_START_DELAY_SECONDS + 1)),
            lifetime_minutes: Some(481),
            usable_once: None,
        };
        assert_eq!(fields(&p.settle(&wrong, NOW).unwrap_err()), ["lifetime_minutes", "start"]);
        let strict = AccessPassPolicy { one_time: true, ..p };
        assert!(strict.settle(&AccessPassRequest::default(), NOW).unwrap().usable_once);
        let reusable = AccessPassRequest { usable_once: Some(false), ..AccessPassRequest::default() };
        assert_eq!(fields(&strict.settle(&reusable, NOW).unwrap_err()), ["usable_once"]);
    }

    #[test]
    fn usability_follows_time_use_and_policy() {
        let key = CodeKey::random();
        let settled = Settled { start_at: NOW, lifetime_minutes: 60, usable_once: true };
        let (mut pass, _) = AccessPass::issue(UserId::random(), settled, 8, NOW, &key);
        assert_eq!(pass.usability(NOW.plus_seconds(-1), true), Usability::NotYetValid);
        assert_eq!(pass.usability(NOW, true), Usability::Usable);
        assert_eq!(pass.usability(NOW, false), Usability::DisabledByPolicy);
        assert_eq!(pass.usability(NOW.plus_seconds(3599), true), Usability::Usable);
        assert_eq!(pass.usability(NOW.plus_seconds(3600), true), Usability::Expired);
        pass.used_at = Some(NOW);
        assert_eq!(pass.usability(NOW.plus_seconds(1), true), Usability::OneTimeUsed);
        pass.usable_once = false;
        assert_eq!(pass.usability(NOW.plus_seconds(1), true), Usability::Usable, "a reusable pass goes on");
    }

    #[test]
    fn the_secret_is_random_of_the_policy_length_and_only_its_hash_is_kept() {
        let key = CodeKey::random();
        let settled = Settled { start_at: NOW, lifetime_minutes: 60, usable_once: false };
        let (pass, secret) = AccessPass::issue(UserId::random(), settled, 12, NOW, &key);
        assert_eq!(secret.len(), 12);
        assert!(secret.bytes().all(|b| ALPHABET.contains(&b)));
        assert!(!pass.hash.contains(&secret));
        assert!(pass.matches(&key, &secret));
        assert!(pass.matches(&key, &format!(" {secret} ")), "spaces around a pasted pass are forgiven");
        assert!(!pass.matches(&key, &secret.to_lowercase()) || secret == secret.to_lowercase());
        assert!(!pass.matches(&CodeKey::random(), &secret), "another server's key");
        let (_, other) = AccessPass::issue(UserId::random(), settled, 12, NOW, &key);
        assert_ne!(secret, other);
        assert_eq!(generate(4).len(), 8, "never shorter than the bounds");
    }

    #[test]
    fn a_typed_request_reads_its_start_in_the_readers_zone() {
        let paris = Zone::named("Europe/Paris").unwrap();
        let asked = AccessPassRequest::from_form("2026-12-07T10:00", "90", true, &paris).unwrap();
        // 10:00 in Paris is 09:00 UTC in winter.
        assert_eq!(asked.start_at.map(Timestamp::rfc3339).as_deref(), Some("2026-12-07T09:00:00Z"));
        assert_eq!((asked.lifetime_minutes, asked.usable_once), (Some(90), Some(true)));
        let blank = AccessPassRequest::from_form(" ", "", false, &paris).unwrap();
        assert_eq!((blank.start_at, blank.lifetime_minutes), (None, None));
        let errors = AccessPassRequest::from_form("tomorrow", "an hour", false, &paris).unwrap_err();
        assert_eq!(fields(&errors), ["start", "lifetime_minutes"]);
    }

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(minutes(60), "1 hour");
        assert_eq!(minutes(480), "8 hours");
        assert_eq!(minutes(90), "90 minutes");
        assert_eq!(minutes(43_200), "30 days");
        assert_eq!(minutes(1), "1 minute");
    }
}
