//! Graph's authentication methods (`/users/{id}/authentication/…`) over Roster's contact
//! fields: the mobile, alternate mobile and office phones are the three phone methods, and the
//! alternate email addresses are the email methods. There is one source of truth: a method
//! changed here is the field the admin center shows, and the other way round. The
//! authenticator app a user sets up in Security info is a software OATH method.

use roster_domain::access_pass::{AccessPassRequest, Usability};
use roster_domain::directory::AccessPassView;
use roster_domain::passkey::StoredPasskey;
use roster_domain::phone::with_country_code_apart;
use roster_domain::user::User;
use roster_domain::Timestamp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::GraphError;

/// Graph's fixed id of the password method.
pub const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

/// The id of a user's authenticator app as a software OATH method. Roster keeps at most one
/// app per user, so one fixed id names it, as Graph's fixed ids name the phone types.
pub const SOFTWARE_OATH_METHOD_ID: &str = "f140f131-b0bb-49eb-9268-9286ba9034b4";

/// The authenticator app in Graph's shape; its secret is never shown, as in Graph.
pub fn software_oath_method() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod",
        "id": SOFTWARE_OATH_METHOD_ID,
        "secretKey": null,
    })
}

/// A phone method's type, with Graph's fixed id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneType {
    Mobile,
    AlternateMobile,
    Office,
}

impl PhoneType {
    /// Every type, in Graph's order.
    pub const ALL: [PhoneType; 3] = [PhoneType::Mobile, PhoneType::AlternateMobile, PhoneType::Office];

    /// Graph's name, e.g. `alternateMobile`.
    pub fn name(self) -> &'static str {
        match self {
            PhoneType::Mobile => "mobile",
            PhoneType::AlternateMobile => "alternateMobile",
            PhoneType::Office => "office",
        }
    }

    /// Graph's fixed method id for this type.
    pub fn id(self) -> &'static str {
        match self {
            PhoneType::Mobile => "3179e48a-750b-4051-897c-87b9720928f7",
            PhoneType::AlternateMobile => "b6332ec1-7057-4abe-9331-3d72feddfe41",
            PhoneType::Office => "e37fc753-ff3b-4958-9484-eaa9425c82bc",
        }
    }

    /// The type named `name` (as Graph spells it, any case).
    pub fn from_name(name: &str) -> Option<PhoneType> {
        PhoneType::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The type whose fixed id is `id`.
    pub fn from_id(id: &str) -> Option<PhoneType> {
        PhoneType::ALL.into_iter().find(|t| t.id().eq_ignore_ascii_case(id))
    }

    /// The stored number of this type, if the user has one.
    pub fn of(self, user: &User) -> Option<&str> {
        let c = &user.contact;
        match self {
            PhoneType::Mobile => c.mobile_phone.as_deref(),
            PhoneType::AlternateMobile => c.alternate_mobile_phone.as_deref(),
            PhoneType::Office => c.office_phone.as_deref(),
        }
    }
}

/// A stored number in Graph's method format, `+{country code} {number}[x{extension}]`.
pub fn graph_phone(stored: &str) -> String {
    with_country_code_apart(stored)
}

/// Checks Graph's required format, `+{country code} {number}[x{extension}]`, and returns the
/// number as the contact form takes it; whether the number exists is the form's check.
pub fn parse_graph_phone(text: &str) -> Result<String, GraphError> {
    let invalid = || {
        GraphError::bad_request(format!(
            "Invalid phone number '{text}': use the format +{{country code}} {{number}}x{{extension}}, \
             such as +1 5555551234 or +1 5555551234x123."
        ))
    };
    let rest = text.trim().strip_prefix('+').ok_or_else(invalid)?;
    let (country, number) = rest.split_once(' ').ok_or_else(invalid)?;
    let (national, extension) = match number.split_once(['x', 'X']) {
        Some((n, e)) => (n, Some(e)),
        None => (number, None),
    };
    let digits = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_digit());
    if !digits(country, 3) || !digits(national, 15) || extension.is_some_and(|e| !digits(e, 10)) {
        return Err(invalid());
    }
    Ok(match extension {
        Some(ext) => format!("+{country}{national}x{ext}"),
        None => format!("+{country}{national}"),
    })
}

/// A phone method in Graph's shape.
pub fn phone_method(kind: PhoneType, stored: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
        "id": kind.id(),
        "phoneNumber": graph_phone(stored),
        "phoneType": kind.name(),
        "smsSignInState": "notSupported",
    })
}

/// Graph's one id for a user's email method, which scripts write literally: the first
/// alternate address carries it.
pub const EMAIL_METHOD_ID: &str = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f";

/// The id of the email method at `position` in the user's list: Graph's fixed id for the
/// first address, a name-based id for the others.
pub fn email_method_id(position: usize, address: &str) -> String {
    if position == 0 {
        EMAIL_METHOD_ID.to_string()
    } else {
        address_id(address)
    }
}

/// Whether `id` names the email method at `position` holding `address`: its id, or (so that
/// an id read before the list changed keeps working) the name-based id of its address.
pub fn names_email_method(id: &str, position: usize, address: &str) -> bool {
    email_method_id(position, address).eq_ignore_ascii_case(id) || address_id(address).eq_ignore_ascii_case(id)
}

/// A name-based id for an address: stable while the address is, whatever its case.
fn address_id(address: &str) -> String {
    let digest = Sha256::digest(address.to_lowercase().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// The email method at `position` of the user's list, in Graph's shape.
pub fn email_method(position: usize, address: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.emailAuthenticationMethod",
        "id": email_method_id(position, address),
        "emailAddress": address,
    })
}

/// Every method of `user`: the password (when one is set), the phones, the email addresses
/// and the authenticator app (when one is set up).
pub fn all_methods(
    user: &User,
    has_password: bool,
    has_app: bool,
    pass: Option<&AccessPassView>,
    passkeys: &[StoredPasskey],
) -> Vec<Value> {
    let mut methods = Vec::new();
    if has_password {
        methods.push(json!({
            "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
            "id": PASSWORD_METHOD_ID,
            "password": null,
        }));
    }
    for kind in PhoneType::ALL {
        if let Some(stored) = kind.of(user) {
            methods.push(phone_method(kind, stored));
        }
    }
    methods.extend(user.contact.alternate_emails.iter().enumerate().map(|(i, a)| email_method(i, a)));
    if has_app {
        methods.push(software_oath_method());
    }
    methods.extend(pass.map(|p| access_pass_method(p, None)));
    methods.extend(passkeys.iter().map(fido2_method));
    methods
}

/// A passkey in Graph's `fido2AuthenticationMethod` shape. Roster asks for no attestation, so
/// none is kept and the level is always `notAttested`.
pub fn fido2_method(passkey: &StoredPasskey) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
        "id": passkey.id.to_string(),
        "displayName": passkey.name,
        "createdDateTime": passkey.created_at.rfc3339(),
        "aaGuid": passkey.aaguid.unwrap_or_default().to_string(),
        "model": passkey.model(),
        "attestationCertificates": [],
        "attestationLevel": "notAttested",
    })
}

/// A Temporary Access Pass in Graph's `temporaryAccessPassAuthenticationMethod` shape; the
/// pass itself only in the answer that created it.
pub fn access_pass_method(pass: &AccessPassView, secret: Option<&str>) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        "id": pass.id.to_string(),
        "temporaryAccessPass": secret,
        "createdDateTime": pass.created_at.rfc3339(),
        "startDateTime": pass.start_at.rfc3339(),
        "lifetimeInMinutes": pass.lifetime_minutes,
        "isUsableOnce": pass.usable_once,
        "isUsable": pass.usability == Usability::Usable,
        "methodUsabilityReason": pass.usability.graph_reason(),
    })
}

/// The Graph property a Temporary Access Pass request's field is, for errors that name it.
pub fn access_pass_property(field: &str) -> &str {
    match field {
        "lifetime_minutes" => "lifetimeInMinutes",
        "start" => "startDateTime",
        "usable_once" => "isUsableOnce",
        other => other,
    }
}

/// What a `POST …/temporaryAccessPassMethods` body asks for: `startDateTime` (RFC 3339),
/// `lifetimeInMinutes` and `isUsableOnce`, each optional; any other property, or one of the
/// wrong type, is refused by name.
pub fn access_pass_request(body: &Value) -> Result<AccessPassRequest, GraphError> {
    let Some(object) = body.as_object() else {
        return Err(GraphError::bad_request("The request body must be a JSON object."));
    };
    let mut request = AccessPassRequest::default();
    for (name, value) in object {
        match (name.as_str(), value) {
            ("@odata.type", _) => {}
            ("startDateTime", Value::String(text)) => {
                let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
                    GraphError::bad_request(format!(
                        "startDateTime must be a date and time such as 2026-12-07T09:00:00Z, not '{text}'."
                    ))
                })?;
                request.start_at = Some(Timestamp((at.unix_timestamp_nanos() / 1_000_000) as i64));
            }
            ("lifetimeInMinutes", Value::Number(n)) => {
                let minutes = n.as_u64().and_then(|m| u32::try_from(m).ok()).ok_or_else(|| {
                    GraphError::bad_request(format!("lifetimeInMinutes must be a whole number of minutes, not {n}."))
                })?;
                request.lifetime_minutes = Some(minutes);
            }
            ("isUsableOnce", Value::Bool(once)) => request.usable_once = Some(*once),
            ("startDateTime" | "lifetimeInMinutes" | "isUsableOnce", _) => {
                let kind = match name.as_str() {
                    "startDateTime" => "a string",
                    "lifetimeInMinutes" => "a number",
                    _ => "true or false",
                };
                return Err(GraphError::bad_request(format!("{name} must be {kind}.")));
            }
            _ => {
                return Err(GraphError::bad_request(format!(
                "Property '{name}' does not exist on type 'microsoft.graph.temporaryAccessPassAuthenticationMethod', \
                     or can't be set."
            )))
            }
        }
    }
    Ok(request)
}

/// Reads a string property of a request body, naming it when it is missing or not a string.
pub fn string_property<'a>(body: &'a Value, name: &str) -> Result<&'a str, GraphError> {
    let object = body.as_object().ok_or_else(GraphError::unreadable_body)?;
    let found = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    match found {
        // Every method property names something; in the contact list a blank means "none",
        // which would turn an add into nothing and a change into a removal.
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(GraphError::bad_request(format!("Invalid value specified for property '{name}': it can't be empty.")))
        }
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(GraphError::bad_request(format!(
            "Cannot convert the value of property '{name}' to the expected type 'Edm.String'."
        ))),
        None => Err(GraphError::bad_request(format!("The property '{name}' is required."))),
    }
}

/// A string property that may be left out: `None` when absent, else as [`string_property`].
pub fn optional_string_property<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, GraphError> {
    let present = body.as_object().is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case(name)));
    present.then(|| string_property(body, name)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_request_reads_graphs_properties_and_names_what_it_refuses() {
        let body = json!({"startDateTime": "2026-12-07T09:00:00Z", "lifetimeInMinutes": 90, "isUsableOnce": true});
        let asked = access_pass_request(&body).unwrap();
        assert_eq!(asked.start_at.map(Timestamp::rfc3339).as_deref(), Some("2026-12-07T09:00:00Z"));
        assert_eq!((asked.lifetime_minutes, asked.usable_once), (Some(90), Some(true)));
        assert_eq!(access_pass_request(&json!({})).unwrap(), AccessPassRequest::default());
        for (body, named) in [
            (json!({"lifetimeInMinutes": "60"}), "lifetimeInMinutes must be a number"),
            (json!({"lifetimeInMinutes": -5}), "lifetimeInMinutes must be a whole number"),
            (json!({"startDateTime": "tomorrow"}), "startDateTime must be a date"),
            (json!({"isUsableOnce": "yes"}), "isUsableOnce must be true or false"),
            (json!({"lifetimeInMinutes": null}), "lifetimeInMinutes must be a number"),
            (json!({"temporaryAccessPass": "mine"}), "'temporaryAccessPass' does not exist"),
            (json!([]), "JSON object"),
        ] {
            let why = access_pass_request(&body).unwrap_err().message;
            assert!(why.contains(named), "{why}");
        }
    }

    #[test]
    fn graph_phone_format_round_trips_through_storage() {
        assert_eq!(graph_phone("+14255550101"), "+1 4255550101");
        assert_eq!(graph_phone("+442079460958x12"), "+44 2079460958x12");
        assert_eq!(parse_graph_phone("+1 4255550101").unwrap(), "+14255550101");
        assert_eq!(parse_graph_phone("+44 2079460958x12").unwrap(), "+442079460958x12");
    }

    #[test]
    fn numbers_not_in_graph_format_are_refused_by_name() {
        for bad in ["4255550101", "+14255550101", "+1 425-555-0101", "+1 ", "+ 4255550101", "+1 425x", "+1234 5"] {
            let err = parse_graph_phone(bad).unwrap_err();
            assert!(err.message.contains(bad), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn phone_types_have_graphs_fixed_ids() {
        assert_eq!(PhoneType::from_id("3179E48A-750B-4051-897C-87B9720928F7"), Some(PhoneType::Mobile));
        assert_eq!(PhoneType::from_name("ALTERNATEMOBILE"), Some(PhoneType::AlternateMobile));
        assert_eq!(PhoneType::Office.id(), "e37fc753-ff3b-4958-9484-eaa9425c82bc");
    }

    #[test]
    fn blank_method_properties_are_refused_by_name() {
        for blank in ["", "   "] {
            let err = string_property(&json!({"emailAddress": blank}), "emailAddress").unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains("'emailAddress'"), "{}", err.message);
        }
        assert_eq!(string_property(&json!({"EmailAddress": "a@b.example"}), "emailAddress").unwrap(), "a@b.example");
    }

    #[test]
    fn the_first_address_has_graphs_fixed_id_and_the_others_follow_their_address() {
        assert_eq!(email_method_id(0, "ada@fabrikam.com"), EMAIL_METHOD_ID);
        assert_eq!(email_method_id(1, "Ada@Fabrikam.com"), email_method_id(2, "ada@fabrikam.com"));
        assert_ne!(email_method_id(1, "ada@fabrikam.com"), email_method_id(1, "bea@fabrikam.com"));
        assert!(uuid::Uuid::parse_str(&email_method_id(1, "x@y.z")).is_ok());
        let second = email_method_id(1, "bea@fabrikam.com");
        assert!(names_email_method(&second, 0, "bea@fabrikam.com"), "an id read before the first was removed");
        assert!(names_email_method(EMAIL_METHOD_ID, 0, "bea@fabrikam.com"));
        assert!(!names_email_method(EMAIL_METHOD_ID, 1, "bea@fabrikam.com"));
    }
}
