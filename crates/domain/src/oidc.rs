//! Roster as an OpenID Connect provider: applications sign people in through Roster's own
//! pages (so every password, second-step and reset policy applies) and get ID tokens, access
//! tokens and refresh tokens back.

pub mod assertion;
pub mod claims;
pub mod client;
pub mod grant;
pub mod keys;
pub mod request;

use serde_json::{json, Map, Value};

use crate::clock::Timestamp;
use crate::user::User;
use grant::{Grant, Scope, Scopes, ACCESS_TOKEN_SECONDS};

/// The most groups a `groups` claim lists, as in Entra ID: past it a token would grow too large
/// for the headers and cookies applications keep it in.
pub const GROUPS_CLAIM_LIMIT: usize = 200;

/// The groups released to an application whose `groups` claim is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleasedGroups {
    /// Their ids or names.
    Listed(Vec<String>),
    /// More than [`GROUPS_CLAIM_LIMIT`]: the application reads them at this address instead
    /// (a distributed claim, OpenID Connect Core §5.6.2, as Entra's "groups overage").
    TooMany { endpoint: String },
}

/// The claims about `user` that `scopes` release, as userinfo and ID tokens carry them
/// (OpenID Connect Core §5.4), with the groups the application asked for. Claims with no value
/// are left out rather than sent empty.
pub fn user_claims(user: &User, scopes: Scopes, groups: Option<&ReleasedGroups>) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id.to_string()));
    match groups {
        Some(ReleasedGroups::Listed(names)) => {
            claims.insert("groups".into(), json!(names));
        }
        Some(ReleasedGroups::TooMany { endpoint }) => {
            claims.insert("_claim_names".into(), json!({ "groups": "src1" }));
            claims.insert("_claim_sources".into(), json!({ "src1": { "endpoint": endpoint } }));
        }
        None => {}
    }
    let c = &user.contact;
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            claims.insert(name.into(), json!(value));
        }
    };
    if scopes.contains(Scope::Profile) {
        put("name", Some(&c.display_name));
        put("given_name", c.first_name.as_deref());
        put("family_name", c.last_name.as_deref());
        put("preferred_username", Some(user.username.as_str()));
    }
    if scopes.contains(Scope::Email) {
        put("email", Some(user.mail()));
    }
    if scopes.contains(Scope::Phone) {
        put("phone_number", c.mobile_phone.as_deref().or(c.office_phone.as_deref()));
    }
    if scopes.contains(Scope::Address) {
        let mut address = Map::new();
        for (name, value) in [
            ("street_address", &c.street_address),
            ("locality", &c.city),
            ("region", &c.state),
            ("postal_code", &c.postal_code),
            ("country", &c.country),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                address.insert(name.into(), json!(value));
            }
        }
        if !address.is_empty() {
            claims.insert("address".into(), Value::Object(address));
        }
    }
    if scopes.contains(Scope::Profile) {
        claims.insert("updated_at".into(), json!(user.updated_at.millis() / 1000));
    }
    claims
}

/// The claims of an ID token for `grant` (OpenID Connect Core §2).
pub fn id_token_claims(
    issuer: &str,
    user: &User,
    grant: &Grant,
    groups: Option<&ReleasedGroups>,
    nonce: Option<&str>,
    now: Timestamp,
) -> Value {
    let mut claims = user_claims(user, grant.scopes, groups);
    let seconds = now.millis() / 1000;
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(grant.app_id.to_string()));
    claims.insert("iat".into(), json!(seconds));
    claims.insert("exp".into(), json!(seconds + ACCESS_TOKEN_SECONDS));
    claims.insert("auth_time".into(), json!(grant.auth_time.millis() / 1000));
    claims.insert("amr".into(), json!(grant.amr.0));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    Value::Object(claims)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::grant::AuthMethods;
    use super::*;
    use crate::contact::ContactInfo;
    use crate::user::{UserId, Username};
    use crate::RoleSet;

    fn user() -> User {
        User {
            id: UserId::random(),
            username: Username::parse("ada@example.com").unwrap(),
            contact: ContactInfo {
                display_name: "Ada Lovelace".into(),
                first_name: Some("Ada".into()),
                mobile_phone: Some("+44 20 7946 0000".into()),
                city: Some("London".into()),
                ..Default::default()
            },
            roles: RoleSet::NONE,
            enabled: true,
            must_change_password: false,
            created_at: Timestamp(0),
            updated_at: Timestamp(5_000),
            updated_by: String::new(),
            version: 1,
            deleted_at: None,
            external_id: None,
        }
    }

    #[test]
    fn each_scope_releases_its_own_claims_and_nothing_empty() {
        let u = user();
        let only_openid = user_claims(&u, Scopes::parse("openid"), None);
        assert_eq!(only_openid.keys().collect::<Vec<_>>(), vec!["sub"]);
        let all = user_claims(&u, Scopes::parse("openid profile email phone address"), None);
        assert_eq!(all["name"], "Ada Lovelace");
        assert_eq!(all["given_name"], "Ada");
        assert!(!all.contains_key("family_name"));
        assert_eq!(all["preferred_username"], "ada@example.com");
        assert_eq!(all["email"], "ada@example.com");
        assert_eq!(all["phone_number"], "+44 20 7946 0000");
        assert_eq!(all["address"], json!({ "locality": "London" }));
        assert_eq!(all["updated_at"], 5);
    }

    #[test]
    fn an_id_token_names_its_issuer_audience_times_and_nonce() {
        let u = user();
        let grant = Grant {
            app_id: Uuid::new_v4(),
            user_id: u.id,
            scopes: Scopes::parse("openid"),
            auth_time: Timestamp(60_000),
            amr: AuthMethods::with_second_step("otp"),
        };
        let claims = id_token_claims("https://id.example.com", &u, &grant, None, Some("n-1"), Timestamp(120_000));
        assert_eq!(claims["iss"], "https://id.example.com");
        assert_eq!(claims["aud"], grant.app_id.to_string());
        assert_eq!((claims["iat"].as_i64(), claims["exp"].as_i64()), (Some(120), Some(120 + 3600)));
        assert_eq!(claims["auth_time"], 60);
        assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
        assert_eq!(claims["nonce"], "n-1");
    }

    #[test]
    fn groups_are_listed_or_pointed_to_when_too_many() {
        let u = user();
        let listed = ReleasedGroups::Listed(vec!["Finance".into(), "Staff".into()]);
        let claims = user_claims(&u, Scopes::parse("openid"), Some(&listed));
        assert_eq!(claims["groups"], json!(["Finance", "Staff"]));
        let too_many =
            ReleasedGroups::TooMany { endpoint: "https://id.example.com/v1.0/users/x/transitiveMemberOf".into() };
        let claims = user_claims(&u, Scopes::parse("openid"), Some(&too_many));
        assert!(!claims.contains_key("groups"));
        assert_eq!(claims["_claim_names"], json!({ "groups": "src1" }));
        assert_eq!(
            claims["_claim_sources"]["src1"]["endpoint"],
            "https://id.example.com/v1.0/users/x/transitiveMemberOf"
        );
    }
}
