//! A user as pages show them: every value prepared as text.

use roster_domain::phone::Phone;
use roster_domain::time_zone::Zone;
use roster_domain::User;

use crate::ui::time_zone::Moment;

/// A phone in international format, or the stored text if it no longer parses.
pub fn show_phone(stored: &Option<String>) -> String {
    stored
        .as_deref()
        .map(|s| Phone::from_stored(s).map(|p| p.international()).unwrap_or_else(|| s.to_string()))
        .unwrap_or_default()
}

/// A user prepared for display: every value already a string.
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: String,
    pub enabled: bool,
    pub deleted: bool,
    pub must_change_password: bool,
    pub updated: Moment,
    pub updated_by: String,
    /// (label, value) pairs of the profile, empty values included.
    pub profile: Vec<(&'static str, String)>,
    /// (label, value) pairs of the Contact information section.
    pub contact: Vec<(&'static str, String)>,
    pub alternate_emails: Vec<String>,
}

impl UserView {
    /// Prepares `user` for display.
    pub fn of(user: &User, zone: &Zone) -> UserView {
        let c = &user.contact;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        UserView {
            id: user.id.to_string(),
            username: user.username.to_string(),
            display_name: c.display_name.clone(),
            roles: user.roles.display(),
            enabled: user.enabled,
            deleted: user.deleted_at.is_some(),
            must_change_password: user.must_change_password,
            updated: Moment::at(zone, user.updated_at),
            updated_by: user.updated_by.clone(),
            profile: vec![
                ("First name", s(&c.first_name)),
                ("Last name", s(&c.last_name)),
                ("Full name (as provisioning formats it)", s(&c.formatted_name)),
                ("Job title", s(&c.job_title)),
                ("Department", s(&c.department)),
                ("Office", s(&c.office)),
                ("Employee ID", s(&c.employee_id)),
                ("Company name", s(&c.company_name)),
                ("Cost center", s(&c.cost_center)),
                ("Division", s(&c.division)),
                ("Manager", c.manager.map(|m| m.to_string()).unwrap_or_default()),
                ("Preferred language", s(&c.preferred_language)),
                ("Locale", s(&c.locale)),
            ],
            contact: vec![
                ("Primary email address", user.mail().to_string()),
                ("Office phone", show_phone(&c.office_phone)),
                ("Mobile phone", show_phone(&c.mobile_phone)),
                ("Alternate mobile phone", show_phone(&c.alternate_mobile_phone)),
                ("Fax number", show_phone(&c.fax)),
                ("Street address", s(&c.street_address)),
                ("City", s(&c.city)),
                ("State or province", s(&c.state)),
                ("ZIP or postal code", s(&c.postal_code)),
                ("Country or region", s(&c.country)),
            ],
            alternate_emails: c.alternate_emails.clone(),
        }
    }

    /// The Contact information section without the phones that are recovery contacts, for a
    /// page that lists those with their verification apart.
    pub fn contact_besides_methods(&self) -> Vec<(&'static str, String)> {
        const METHODS: [&str; 3] = ["Office phone", "Mobile phone", "Alternate mobile phone"];
        self.contact.iter().filter(|(label, _)| !METHODS.contains(label)).cloned().collect()
    }

    /// Adds the provisioning client's id, which administrators see and users need not.
    pub fn with_external_id(mut self, user: &User) -> UserView {
        if let Some(id) = &user.external_id {
            self.profile.push(("External id (set by provisioning)", id.clone()));
        }
        self
    }

    /// Shows the manager by `name` (their username) rather than by id.
    pub fn with_manager(mut self, name: String) -> UserView {
        if let Some(entry) = self.profile.iter_mut().find(|(label, _)| *label == "Manager") {
            entry.1 = name;
        }
        self
    }
}
