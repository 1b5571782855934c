//! Client authentication by a signed assertion instead of a secret (`private_key_jwt`,
//! OpenID Connect Core §9 and RFC 7523 §2.2): the application registers the public halves of
//! its keys as a JSON Web Key Set, and signs a short-lived token for each request. Nothing the
//! application sends can be replayed, and Roster holds nothing that would let anyone act as it.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::keys::SigningAlg;
use crate::clock::Timestamp;

/// The `client_assertion_type` of a signed JWT (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The most keys one application registers: enough for a rotation or two under way.
pub const MAX_CLIENT_KEYS: usize = 10;
/// The longest an assertion may live: a leaked one is useless after this.
pub const MAX_ASSERTION_SECONDS: i64 = 60 * 60;
/// How far the application's clock may be from Roster's.
const CLOCK_SKEW_SECONDS: i64 = 60;

/// One public key from an application's key set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientKey {
    kid: Option<String>,
    alg: SigningAlg,
    public: Public,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Public {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point.
    Ec(Vec<u8>),
    Ed(Vec<u8>),
}

/// An application's registered public keys, checked when registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeys {
    keys: Vec<ClientKey>,
    /// The set as registered, for storing and showing again.
    text: String,
    /// A digest of `text`, taken once: every API call with a token an assertion got compares it.
    fingerprint: String,
}

impl ClientKeys {
    /// Parses a JSON Web Key Set (RFC 7517 §5) of RSA (2048 bits or more), P-256 and Ed25519
    /// public keys for signing; says what is wrong with the first key that is not one.
    pub fn parse(text: &str) -> Result<ClientKeys, String> {
        let set: Value = serde_json::from_str(text.trim())
            .map_err(|e| format!("The key set is not JSON ({e}). Paste a JSON Web Key Set: {{\"keys\": [...]}}."))?;
        let Some(list) = set.get("keys").and_then(Value::as_array) else {
            return Err("A JSON Web Key Set is an object with a \"keys\" array.".into());
        };
        if list.is_empty() {
            return Err("The key set has no keys.".into());
        }
        if list.len() > MAX_CLIENT_KEYS {
            return Err(format!("Register at most {MAX_CLIENT_KEYS} keys."));
        }
        let keys = list
            .iter()
            .enumerate()
            .map(|(i, jwk)| ClientKey::parse(jwk).map_err(|why| format!("Key {} of the set: {why}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let text = serde_json::to_string(&json!({ "keys": list })).expect("JSON serialises");
        let fingerprint = crate::session::hash_token(&text);
        Ok(ClientKeys { keys, text, fingerprint })
    }

    /// The set as JSON.
    pub fn as_json(&self) -> &str {
        &self.text
    }

    /// A digest of the set as registered: a token records it, so that replacing the keys ends
    /// the tokens the old ones got.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Checks an assertion that `client_id` sent to `audiences` (the token endpoint's address,
    /// or the issuer) at `now`; returns its `jti` and expiry, for the caller to make sure it is
    /// used only once.
    pub fn verify(&self, assertion: &str, client_id: &str, audiences: &[&str], now: Timestamp) -> Result<Used, String> {
        let (signed, signature) = assertion.rsplit_once('.').ok_or("The client assertion is not a signed JWT.")?;
        let (header, claims) = signed.split_once('.').ok_or("The client assertion is not a signed JWT.")?;
        let header = decode(header).ok_or("The client assertion's header is not JSON.")?;
        let alg: SigningAlg = header["alg"]
            .as_str()
            .unwrap_or("none")
            .parse()
            .map_err(|_| "The client assertion must be signed with RS256, ES256 or EdDSA.")?;
        let signature =
            URL_SAFE_NO_PAD.decode(signature).map_err(|_| "The client assertion's signature is not base64url.")?;
        let kid = header["kid"].as_str();
        let candidates = self.keys.iter().filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid));
        if !candidates.into_iter().any(|k| k.accepts(signed.as_bytes(), &signature)) {
            return Err("The client assertion is not signed by a key the application registered.".into());
        }
        let claims = decode(claims).ok_or("The client assertion's claims are not JSON.")?;
        if claims["iss"] != client_id || claims["sub"] != client_id {
            return Err("The client assertion's iss and sub must both be the client id.".into());
        }
        let aud_ok = match &claims["aud"] {
            Value::String(aud) => audiences.contains(&aud.as_str()),
            Value::Array(auds) => auds.iter().any(|a| a.as_str().is_some_and(|a| audiences.contains(&a))),
            _ => false,
        };
        if !aud_ok {
            return Err(format!("The client assertion's aud must be {}.", audiences.first().unwrap_or(&"")));
        }
        let seconds = now.millis() / 1000;
        let exp = claims["exp"].as_i64().ok_or("The client assertion has no exp.")?;
        if exp + CLOCK_SKEW_SECONDS <= seconds {
            return Err("The client assertion has expired.".into());
        }
        if exp > seconds + MAX_ASSERTION_SECONDS + CLOCK_SKEW_SECONDS {
            return Err("The client assertion lives too long: make exp at most an hour away.".into());
        }
        if claims["nbf"].as_i64().is_some_and(|nbf| nbf > seconds + CLOCK_SKEW_SECONDS) {
            return Err("The client assertion is not valid yet (nbf).".into());
        }
        let jti = claims["jti"].as_str().filter(|j| !j.is_empty() && j.len() <= 256);
        let jti = jti.ok_or("The client assertion needs a jti of at most 256 characters, new for every request.")?;
        Ok(Used { jti: jti.to_string(), expires_at: Timestamp((exp + CLOCK_SKEW_SECONDS) * 1000) })
    }
}

/// What must be remembered of a verified assertion until it expires, so that it is used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    pub jti: String,
    pub expires_at: Timestamp,
}

/// The client id an assertion names as its subject, read without checking anything, for a
/// request that sends no `client_id` (RFC 7521 §4.2 lets it leave it out).
pub fn claimed_client(assertion: &str) -> Option<String> {
    let claims = assertion.split('.').nth(1)?;
    decode(claims)?["sub"].as_str().map(str::to_string)
}

fn decode(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

impl ClientKey {
    fn parse(jwk: &Value) -> Result<ClientKey, String> {
        let field = |name: &str| -> Result<Vec<u8>, String> {
            let text = jwk[name].as_str().ok_or_else(|| format!("it has no \"{name}\"."))?;
            URL_SAFE_NO_PAD.decode(text).map_err(|_| format!("\"{name}\" is not base64url."))
        };
        if ["d", "p", "q", "dp", "dq", "qi"].iter().any(|private| jwk.get(private).is_some()) {
            return Err("it holds a private key. Register only the public halves.".into());
        }
        if jwk.get("use").is_some_and(|u| u != "sig") {
            return Err("its \"use\" is not \"sig\".".into());
        }
        let (alg, public) = match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
            (Some("RSA"), _) => {
                let n = field("n")?;
                let n: Vec<u8> = n.into_iter().skip_while(|b| *b == 0).collect();
                if n.len() * 8 < 2048 {
                    return Err("RSA keys must have at least 2048 bits.".into());
                }
                (SigningAlg::Rs256, Public::Rsa { n, e: field("e")? })
            }
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("a P-256 key has an x and a y of 32 bytes each.".into());
                }
                (SigningAlg::Es256, Public::Ec([vec![4], x, y].concat()))
            }
            (Some("OKP"), Some("Ed25519")) => {
                let x = field("x")?;
                if x.len() != 32 {
                    return Err("an Ed25519 key has an x of 32 bytes.".into());
                }
                (SigningAlg::EdDsa, Public::Ed(x))
            }
            _ => return Err("Roster takes RSA, EC P-256 and OKP Ed25519 keys.".into()),
        };
        if let Some(stated) = jwk["alg"].as_str() {
            if !stated.eq_ignore_ascii_case(alg.name()) {
                return Err(format!("its alg {stated} does not fit its key type; use {}.", alg.name()));
            }
        }
        Ok(ClientKey { kid: jwk["kid"].as_str().map(str::to_string), alg, public })
    }

    fn accepts(&self, signed: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            Public::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, signature)
                .is_ok(),
            Public::Ec(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(signed, signature).is_ok()
            }
            Public::Ed(x) => UnparsedPublicKey::new(&signature::ED25519, x).verify(signed, signature).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

    use super::*;

    const TOKEN_URL: &str = "https://id.example.com/oauth2/v2.0/token";

    fn ec_key() -> (EcdsaKeyPair, Value) {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        (pair, jwk)
    }

    fn assertion(pair: &EcdsaKeyPair, claims: Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "ES256", "kid": "k1" }).to_string());
        let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = pair.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    fn claims(exp: i64) -> Value {
        json!({ "iss": "app-1", "sub": "app-1", "aud": TOKEN_URL, "jti": "j-1", "exp": exp })
    }

    #[test]
    fn a_token_an_assertion_got_holds_only_while_its_keys_stay_registered() {
        use crate::apps::{App, AppPermissions, AppToken, IssuedAgainst};
        use crate::oidc::client::SignInSettings;
        let keys = |jwk: Value| ClientKeys::parse(&json!({ "keys": [jwk] }).to_string()).unwrap();
        let (first, second) = (keys(ec_key().1), keys(ec_key().1));
        let now = Timestamp(0);
        let mut app = App {
            id: uuid::Uuid::new_v4(),
            name: "Provisioner".into(),
            permissions: AppPermissions::of(&[]),
            created_at: now,
            created_by: "test".into(),
            sign_in: SignInSettings { client_keys: Some(first.clone()), ..SignInSettings::default() },
            logo_updated_at: None,
        };
        let (token, _) = AppToken::issue(app.id, IssuedAgainst::Keys(&first), now);
        assert!(token.holds_for(&app, now));
        assert!(!token.holds_for(&app, now.plus_seconds(3600)), "an hour, as every access token");
        app.sign_in.client_keys = Some(second);
        assert!(!token.holds_for(&app, now), "new keys end what the old ones got");
        app.sign_in.client_keys = None;
        assert!(!token.holds_for(&app, now));
    }

    #[test]
    fn a_good_assertion_is_accepted_and_its_jti_returned() {
        let (pair, jwk) = ec_key();
        let keys = ClientKeys::parse(&json!({ "keys": [jwk] }).to_string()).unwrap();
        let now = Timestamp(1_000_000_000);
        let used = keys.verify(&assertion(&pair, claims(1_000_300)), "app-1", &[TOKEN_URL], now).unwrap();
        assert_eq!(used, Used { jti: "j-1".into(), expires_at: Timestamp(1_000_360_000) });
        assert_eq!(claimed_client(&assertion(&pair, claims(1_000_300))).as_deref(), Some("app-1"));
    }

    #[test]
    fn assertions_that_are_expired_long_lived_misaddressed_or_forged_are_refused() {
        let (pair, jwk) = ec_key();
        let keys = ClientKeys::parse(&json!({ "keys": [jwk] }).to_string()).unwrap();
        let now = Timestamp(1_000_000_000);
        let refused = |token: String, client: &str| keys.verify(&token, client, &[TOKEN_URL], now).unwrap_err();
        assert!(refused(assertion(&pair, claims(999_000)), "app-1").contains("expired"));
        assert!(refused(assertion(&pair, claims(1_000_000 + 2 * 3600)), "app-1").contains("too long"));
        assert!(refused(assertion(&pair, claims(1_000_300)), "app-2").contains("iss and sub"));
        let mut elsewhere = claims(1_000_300);
        elsewhere["aud"] = json!("https://other.example.com/token");
        assert!(refused(assertion(&pair, elsewhere), "app-1").contains("aud"));
        let mut no_jti = claims(1_000_300);
        no_jti.as_object_mut().unwrap().remove("jti");
        assert!(refused(assertion(&pair, no_jti), "app-1").contains("jti"));
        let (other, _) = ec_key();
        assert!(refused(assertion(&other, claims(1_000_300)), "app-1").contains("not signed by a key"));
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({ "alg": "none" }).to_string()),
            URL_SAFE_NO_PAD.encode(claims(1_000_300).to_string())
        );
        assert!(refused(unsigned, "app-1").contains("RS256, ES256 or EdDSA"));
    }

    #[test]
    fn key_sets_with_private_halves_weak_keys_or_unknown_types_are_refused() {
        let (_, jwk) = ec_key();
        let mut private = jwk.clone();
        private["d"] = json!("AAAA");
        let parse = |keys: Value| ClientKeys::parse(&json!({ "keys": keys }).to_string()).unwrap_err();
        assert!(parse(json!([private])).contains("private key"));
        assert!(parse(json!([{ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode([1u8; 128]), "e": "AQAB" }])).contains("2048"));
        assert!(parse(json!([{ "kty": "oct", "k": "AAAA" }])).contains("RSA, EC P-256 and OKP Ed25519"));
        assert!(parse(json!([])).contains("no keys"));
        assert!(ClientKeys::parse("not json").unwrap_err().contains("not JSON"));
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let ed_jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(ed.public_key().as_ref()) });
        let keys = ClientKeys::parse(&json!({ "keys": [jwk, ed_jwk] }).to_string()).unwrap();
        assert_eq!(ClientKeys::parse(keys.as_json()).unwrap(), keys, "the stored form parses to the same keys");
    }
}
