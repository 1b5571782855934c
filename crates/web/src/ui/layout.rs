//! What the page frame needs: who is signed in, and where in the navigation we are.

use crate::session::SignedIn;

/// Which part of the admin navigation is current (`None` outside the admin center).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Account,
    Home,
    ActiveUsers,
    DeletedUsers,
    ActiveGroups,
    DeletedGroups,
    Audit,
    SignIns,
    Readiness,
    Outbox,
    Apps,
    Settings,
}

/// The page frame's data.
pub struct Layout {
    pub title: String,
    pub user_name: String,
    pub is_admin: bool,
    pub is_global_admin: bool,
    pub csrf: String,
    pub section: Section,
    /// A Temporary Access Pass opened the session: only Security info and the password page.
    pub by_pass: bool,
}

impl Layout {
    /// The frame for a signed-in page.
    pub fn new(me: &SignedIn, title: impl Into<String>, section: Section) -> Layout {
        Layout {
            title: title.into(),
            user_name: me.user.contact.display_name.clone(),
            is_admin: me.is_admin(),
            is_global_admin: me.user.roles.contains(roster_domain::Role::GlobalAdministrator),
            csrf: me.session.csrf_token.clone(),
            section,
            by_pass: me.session.by_access_pass(),
        }
    }

    /// Whether the page belongs to the admin center (shows the admin navigation).
    pub fn in_admin(&self) -> bool {
        self.section != Section::Account
    }

    /// `aria-current="page"` for the navigation link of `section`.
    pub fn current(&self, section: &str) -> &'static str {
        let active = match self.section {
            Section::Account => "account",
            Section::Home => "home",
            Section::ActiveUsers => "users",
            Section::DeletedUsers => "deleted",
            Section::ActiveGroups => "groups",
            Section::DeletedGroups => "deleted-groups",
            Section::Audit => "audit",
            Section::SignIns => "sign-ins",
            Section::Readiness => "readiness",
            Section::Outbox => "outbox",
            Section::Apps => "apps",
            Section::Settings => "settings",
        };
        if active == section {
            "page"
        } else {
            "false"
        }
    }
}
