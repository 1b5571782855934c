//! Security notices: what a user is told, and where, when something about their account's
//! security changes.
//!
//! A notice goes to the user's sign-in address (Roster's usernames are their mailboxes) and to
//! every alternate email address, and a notice about a contact also goes to the address or
//! number that was there before, so that the real owner sees a takeover attempt. Values in
//! notices are masked: a notice may reach an address that is no longer the user's.

use askama::Template;

use crate::clock::Timestamp;
use crate::contact::ContactInfo;
use crate::directory::Actor;
use crate::outbox::{Channel, Message, MessageKind};
use crate::phone::Phone;
use crate::user::User;

/// What to do if the change was not expected; the same words in every notice.
const ADVICE: &str = "If this wasn't you or someone you expected, contact your IT administrator \
    straight away: someone else may be trying to take over the account.";

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    heading: &'a str,
    lines: &'a [String],
    when: String,
    from: Option<&'a str>,
    by: &'a str,
    advice: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    heading: &'a str,
    lines: &'a [String],
    when: String,
    from: Option<&'a str>,
    by: &'a str,
    advice: &'a str,
}

/// The circumstances of a change, told in every notice about it.
pub struct Occasion<'a> {
    pub actor: &'a Actor,
    pub at: Timestamp,
}

impl Occasion<'_> {
    fn email(&self, user: &User, to: &str, subject: &str, heading: &str, lines: &[String]) -> Message {
        let from = self.actor.client_ip.as_deref();
        let by = if self.actor.user_id == Some(user.id) { "You".to_string() } else { self.actor.display_name.clone() };
        let when = self.at.display();
        let text = NoticeText { heading, lines, when: when.clone(), from, by: &by, advice: ADVICE };
        let html = NoticeHtml { subject, heading, lines, when, from, by: &by, advice: ADVICE };
        Message {
            id: 0,
            channel: Channel::Email,
            kind: MessageKind::Notice,
            recipient: to.to_string(),
            user_id: Some(user.id),
            subject: subject.to_string(),
            text: text.render().unwrap_or_default(),
            html: html.render().ok(),
            created_at: self.at,
        }
    }

    fn sms(&self, user: &User, to: &str, what: &str) -> Message {
        let text = format!(
            "Roster: {what} on account {} at {}. Not you? Contact your IT administrator now.",
            user.username,
            self.at.display()
        );
        Message {
            id: 0,
            channel: Channel::Sms,
            kind: MessageKind::Notice,
            recipient: to.to_string(),
            user_id: Some(user.id),
            subject: what.to_string(),
            text,
            html: None,
            created_at: self.at,
        }
    }
}

/// The user's mailboxes: primary address first, then alternates, then `extra`, without repeats.
fn mailboxes<'a>(user: &'a User, extra: &'a [String]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    let all = std::iter::once(user.mail())
        .chain(user.contact.alternate_emails.iter().map(String::as_str))
        .chain(extra.iter().map(String::as_str));
    for address in all {
        if !out.iter().any(|a| a.eq_ignore_ascii_case(address)) {
            out.push(address);
        }
    }
    out
}

/// Notices about changed recovery contacts (alternate emails, mobile, alternate mobile and
/// office phones) of `user` (as saved) compared with `before`; none if none changed.
pub fn contact_changed(user: &User, before: &ContactInfo, occasion: &Occasion) -> Vec<Message> {
    let after = &user.contact;
    let mut lines = Vec::new();
    let mut removed: Vec<String> =
        before.alternate_emails.iter().filter(|a| !after.alternate_emails.contains(a)).cloned().collect();
    for address in &removed {
        lines.push(format!("Alternate email address removed: {}", mask_email(address)));
    }
    for address in after.alternate_emails.iter().filter(|a| !before.alternate_emails.contains(a)) {
        lines.push(format!("Alternate email address added: {}", mask_email(address)));
    }
    if before.mail != after.mail {
        // The old primary address hears of it: that is where a hijacker's change would show.
        let old = before.mail.clone().unwrap_or_else(|| user.username.to_string());
        lines.push(format!("Primary email address changed to {} (was {})", mask_email(user.mail()), mask_email(&old)));
        removed.push(old);
    }
    let phones = [
        ("Mobile phone", &before.mobile_phone, &after.mobile_phone, true),
        ("Alternate mobile phone", &before.alternate_mobile_phone, &after.alternate_mobile_phone, true),
        ("Office phone", &before.office_phone, &after.office_phone, false),
    ];
    let mut messages = Vec::new();
    for (label, old, new, texts) in phones {
        if old == new {
            continue;
        }
        lines.push(match (old, new) {
            (None, Some(n)) => format!("{label} added: {}", mask_phone(n)),
            (Some(o), None) => format!("{label} removed: {}", mask_phone(o)),
            (Some(o), Some(n)) => format!("{label} changed to {} (was {})", mask_phone(n), mask_phone(o)),
            (None, None) => continue,
        });
        // Office phones are often landlines; only mobiles get texts.
        if texts {
            if let Some(o) = old {
                messages.push(occasion.sms(user, &sms_number(o), &format!("this number was removed as {label}")));
            }
            if let Some(n) = new {
                messages.push(occasion.sms(user, &sms_number(n), &format!("this number was added as {label}")));
            }
        }
    }
    if lines.is_empty() {
        return Vec::new();
    }
    let subject = "Your security info was changed";
    let heading = format!("The security info of your account {} was changed", user.username);
    for to in mailboxes(user, &removed) {
        messages.push(occasion.email(user, to, subject, &heading, &lines));
    }
    messages
}

/// How a password came to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordEvent {
    /// The user changed it, knowing the old one.
    Changed,
    /// An administrator reset it.
    ResetByAdministrator,
    /// The user reset it with codes sent to their contacts.
    SelfServiceReset,
    /// The user chose a new one after signing in with a Temporary Access Pass.
    WithAccessPass,
}

/// Notices that `user`'s password changed.
pub fn password_changed(user: &User, event: PasswordEvent, occasion: &Occasion) -> Vec<Message> {
    let (subject, line) = match event {
        PasswordEvent::Changed => {
            ("Your password was changed", "Your password was changed, and your other sessions were signed out.")
        }
        PasswordEvent::ResetByAdministrator => {
            ("Your password was reset", "An administrator reset your password, and your sessions were signed out.")
        }
        PasswordEvent::WithAccessPass => (
            "Your password was changed",
            "Your password was changed after a sign-in with a Temporary Access Pass, and your other sessions were \
             signed out.",
        ),
        PasswordEvent::SelfServiceReset => (
            "Your password was reset",
            "Your password was reset with codes sent to your security info, and your sessions were signed out.",
        ),
    };
    let heading = format!("{subject}: {}", user.username);
    let lines = [line.to_string()];
    mailboxes(user, &[]).into_iter().map(|to| occasion.email(user, to, subject, &heading, &lines)).collect()
}

/// Notices that `user` (as renamed) had the username `old`, which signs them in until `until`:
/// to the new name and the old one as well as the user's other mailboxes, so that whoever reads
/// either learns of it.
pub fn renamed(user: &User, old: &str, until: Timestamp, occasion: &Occasion) -> Vec<Message> {
    let subject = "Your username was changed";
    let heading = format!("Your username is now {}", user.username);
    let lines = [
        format!("{} changed your username from {old} to {}.", occasion.actor.display_name, user.username),
        format!("Until {}, you can still sign in and reset your password with {old}.", until.display()),
        "Your sessions, password and security info stay as they were.".to_string(),
    ];
    let extra = [user.username.to_string(), old.to_string()];
    mailboxes(user, &extra).into_iter().map(|to| occasion.email(user, to, subject, &heading, &lines)).collect()
}

/// A notice about another security event (second factors, lockouts) to the user's mailboxes.
pub fn security_event(user: &User, subject: &str, line: &str, occasion: &Occasion) -> Vec<Message> {
    let heading = format!("{subject}: {}", user.username);
    let lines = [line.to_string()];
    mailboxes(user, &[]).into_iter().map(|to| occasion.email(user, to, subject, &heading, &lines)).collect()
}

/// Asks a user to add and verify recovery contacts on their Security info page.
pub fn registration_request(user: &User, occasion: &Occasion) -> Vec<Message> {
    let subject = "Please complete your security info";
    let heading = format!("Add ways to reset your password: {}", user.username);
    let lines = [
        format!(
            "{} asks you to add a mobile phone and an alternate email address on your Security info page \
             (sign in, then My account → Security info), and to verify them with the code each one receives.",
            occasion.actor.display_name
        ),
        "If you ever forget your password, a code sent there lets you reset it yourself, without waiting for \
         the help desk."
            .to_string(),
    ];
    mailboxes(user, &[]).into_iter().map(|to| occasion.email(user, to, subject, &heading, &lines)).collect()
}

/// The password of a user just added, to the address the administrator chose. A secret, like
/// a code: the outbox shows no administrator its body, and erases it once delivered.
pub fn new_user_password(
    user: &User,
    password: &str,
    to: &str,
    sign_in_at: Option<&str>,
    occasion: &Occasion,
) -> Message {
    let subject = format!("The password of {}", user.username);
    let heading = format!("An account was added for {}", user.contact.display_name);
    let mut lines = vec![
        format!("Username: {}", user.username),
        format!("Password: {password}"),
        "Give these to the person in a safe way, then delete this message.".to_string(),
    ];
    if user.must_change_password {
        lines.push("They will choose their own password when they first sign in.".into());
    }
    if let Some(url) = sign_in_at {
        lines.push(format!("Sign in at {}/signin", url.trim_end_matches('/')));
    }
    Message { kind: MessageKind::Code, ..occasion.email(user, to, &subject, &heading, &lines) }
}

/// Notices to every Global Administrator that an administrator's password was reset.
pub fn administrator_password_reset(target: &User, globals: &[User], occasion: &Occasion) -> Vec<Message> {
    let subject = "An administrator's password was reset";
    let heading = format!("The password of {} ({}) was reset", target.contact.display_name, target.username);
    let lines = [format!(
        "{} holds the roles {}. Every Global Administrator is told when such a password is reset.",
        target.username,
        target.roles.display()
    )];
    globals
        .iter()
        .filter(|g| g.id != target.id)
        .map(|g| Message {
            user_id: Some(g.id),
            ..occasion.email(target, g.username.as_str(), subject, &heading, &lines)
        })
        .collect()
}

/// The number a text message goes to: the stored form without an extension.
fn sms_number(stored: &str) -> String {
    stored.split('x').next().unwrap_or(stored).to_string()
}

/// An address with most of it hidden: `alex@example.org` → `a••••@e••••.org`.
pub fn mask_email(address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let tld = domain.rfind('.').map(|i| &domain[i..]).unwrap_or("");
    format!("{}••••@{}••••{}", first(local), first(domain), tld)
}

/// A stored phone number with all but its country code and last three digits hidden, in
/// international grouping: `+442079460958` → `+44 •• •••• •958`.
pub fn mask_phone(stored: &str) -> String {
    let shown = Phone::from_stored(stored).map(|p| p.international()).unwrap_or_else(|| stored.to_string());
    let number = shown.split(" ext.").next().unwrap_or(&shown);
    let (code, rest) = number.split_once(' ').unwrap_or(("", number));
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    let masked: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 3 > digits {
                    c
                } else {
                    '•'
                }
            } else {
                c
            }
        })
        .collect();
    if code.is_empty() {
        masked
    } else {
        format!("{code} {masked}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::RoleSet;
    use crate::user::{UserId, Username};

    fn user(alternates: &[&str], mobile: Option<&str>) -> User {
        User {
            id: UserId::random(),
            username: Username::parse("alex@contoso.com").unwrap(),
            contact: ContactInfo {
                display_name: "Alex".into(),
                alternate_emails: alternates.iter().map(|s| s.to_string()).collect(),
                mobile_phone: mobile.map(String::from),
                ..ContactInfo::default()
            },
            roles: RoleSet::NONE,
            enabled: true,
            must_change_password: false,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            updated_by: String::new(),
            version: 1,
            deleted_at: None,
            external_id: None,
        }
    }

    fn actor() -> Actor {
        Actor { client_ip: Some("203.0.113.9".into()), ..Actor::system("Megan (megan@contoso.com)") }
    }

    #[test]
    fn masks_addresses_and_numbers() {
        assert_eq!(mask_email("alex@example.org"), "a••••@e••••.org");
        assert_eq!(mask_email("a@b"), "a••••@b••••");
        assert_eq!(mask_phone("+442079460958"), "+44 •• •••• •958");
        assert_eq!(mask_phone("+14255550123x12"), "+1 •••-•••-•123");
    }

    #[test]
    fn a_replaced_address_hears_of_it_and_so_does_the_new_one() {
        let before = user(&["old@fabrikam.com"], None);
        let after = user(&["new@fabrikam.com"], None);
        let occasion = Occasion { actor: &actor(), at: Timestamp(0) };
        let messages = contact_changed(&after, &before.contact, &occasion);
        let to: Vec<&str> = messages.iter().map(|m| m.recipient.as_str()).collect();
        assert_eq!(to, ["alex@contoso.com", "new@fabrikam.com", "old@fabrikam.com"]);
        let text = &messages[2].text;
        assert!(text.contains("Alternate email address removed: o••••@f••••.com"), "{text}");
        assert!(text.contains("Alternate email address added: n••••@f••••.com"), "{text}");
        assert!(text.contains("From: 203.0.113.9"), "{text}");
        assert!(text.contains("By: Megan (megan@contoso.com)"), "{text}");
        assert!(messages[2].html.as_deref().unwrap().contains("<li>Alternate email address removed"));
        assert!(messages.iter().all(|m| m.kind == MessageKind::Notice && m.channel == Channel::Email));
    }

    #[test]
    fn a_changed_mobile_texts_both_numbers() {
        let before = user(&[], Some("+442079460958"));
        let after = user(&[], Some("+14255550123"));
        let occasion = Occasion { actor: &actor(), at: Timestamp(0) };
        let messages = contact_changed(&after, &before.contact, &occasion);
        let sms: Vec<&Message> = messages.iter().filter(|m| m.channel == Channel::Sms).collect();
        assert_eq!(sms.len(), 2);
        assert_eq!(sms[0].recipient, "+442079460958");
        assert!(sms[0].text.contains("removed as Mobile phone"));
        assert_eq!(sms[1].recipient, "+14255550123");
        assert_eq!(messages.iter().filter(|m| m.channel == Channel::Email).count(), 1);
    }

    #[test]
    fn other_fields_send_nothing() {
        let before = user(&["a@fabrikam.com"], None);
        let mut after = before.clone();
        after.contact.city = Some("Leeds".into());
        assert!(contact_changed(&after, &before.contact, &Occasion { actor: &actor(), at: Timestamp(0) }).is_empty());
    }

    #[test]
    fn password_notices_go_to_every_mailbox() {
        let u = user(&["a@fabrikam.com", "ALEX@contoso.com"], None);
        let occasion = Occasion { actor: &actor(), at: Timestamp(0) };
        let messages = password_changed(&u, PasswordEvent::ResetByAdministrator, &occasion);
        let to: Vec<&str> = messages.iter().map(|m| m.recipient.as_str()).collect();
        assert_eq!(to, ["alex@contoso.com", "a@fabrikam.com"]);
        assert_eq!(messages[0].subject, "Your password was reset");
    }

    #[test]
    fn global_administrators_hear_of_an_administrator_reset_but_not_of_their_own() {
        let mut target = user(&[], None);
        target.roles = RoleSet::of(&[crate::role::Role::UserAdministrator]);
        let mut global = user(&[], None);
        global.username = Username::parse("global@contoso.com").unwrap();
        let messages = administrator_password_reset(
            &target,
            &[global.clone(), target.clone()],
            &Occasion { actor: &actor(), at: Timestamp(0) },
        );
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].recipient, "global@contoso.com");
        assert!(messages[0].text.contains("holds the roles User Administrator"), "{}", messages[0].text);
    }
}
