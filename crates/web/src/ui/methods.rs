//! Recovery contacts with their verification state, as the Contact information section and the
//! Security info page list them.

use roster_domain::phone::Phone;
use roster_domain::recovery::MethodKind;
use roster_domain::time_zone::Zone;
use roster_domain::ContactState;

use crate::ui::time_zone::Moment;

/// One contact as shown.
pub struct MethodView {
    pub key: String,
    pub kind: MethodKind,
    /// The stored value (what a removal names).
    pub stored: String,
    pub label: &'static str,
    pub value: String,
    /// When it was verified, for people.
    pub verified: Option<Moment>,
    /// Codes can reach it (office phones receive none).
    pub can_receive: bool,
}

impl MethodView {
    /// Prepares a contact for display.
    pub fn of(state: &ContactState, zone: &Zone) -> MethodView {
        let m = &state.method;
        let value = match m.kind {
            MethodKind::AlternateEmail => m.value.clone(),
            _ => Phone::from_stored(&m.value).map(|p| p.international()).unwrap_or_else(|| m.value.clone()),
        };
        MethodView {
            key: m.key(),
            kind: m.kind,
            stored: m.value.clone(),
            label: m.kind.label(),
            value,
            verified: state.verified_at.map(|t| Moment::at(zone, t)),
            can_receive: m.kind.channel().is_some(),
        }
    }
}
