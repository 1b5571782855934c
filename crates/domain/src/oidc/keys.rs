//! The keys that sign ID tokens: generated here, kept by the store, published as a JWKS.
//!
//! Keys are held parsed in memory ([`Keyring`]), because parsing an RSA private key costs about
//! as much as the signature itself; every signature would otherwise pay twice.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::recovery::CodeKey;

/// How long a new key is published before it signs, so that clients caching the key set for up
/// to a day know it before the first token it signs arrives.
pub const ROTATION_NOTICE_SECONDS: i64 = 24 * 60 * 60;
/// How long a key signs before it is replaced without being asked.
pub const KEY_LIFETIME_SECONDS: i64 = 90 * 24 * 60 * 60;

/// A JWS signing algorithm an application may choose for its ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit key: what every client supports.
    #[default]
    Rs256,
    /// ECDSA on P-256 with SHA-256: small and quick to sign.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm, in the order pages list them.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    /// The JOSE name (`alg`).
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SigningAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SigningAlg::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s} is not a signing algorithm Roster offers; choose RS256, ES256 or EdDSA."))
    }
}

/// A signing key as stored: the private key in PKCS #8, never shown or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The `kid` that tokens and the JWKS name it by.
    pub kid: String,
    pub alg: SigningAlg,
    /// PKCS #8 DER.
    pub private_key: Vec<u8>,
    pub created_at: Timestamp,
    /// From when it signs; until then it is only published, so that clients caching the JWKS
    /// already know it when its first token arrives.
    pub signs_from: Timestamp,
    /// When it leaves the JWKS: set at rotation to the moment the last token it signed expires.
    pub retires_at: Option<Timestamp>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("signs_from", &self.signs_from)
            .field("retires_at", &self.retires_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key for `alg`, signing from `signs_from`.
    pub fn generate(alg: SigningAlg, now: Timestamp, signs_from: Timestamp) -> Result<SigningKey, DomainError> {
        let failed = |_| DomainError::Internal(format!("could not generate an {alg} key"));
        let private_key = match alg {
            SigningAlg::Rs256 => {
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?.as_der().map_err(failed)?.as_ref().to_vec()
            }
            SigningAlg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(failed)?
                .to_pkcs8v1()
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            SigningAlg::EdDsa => {
                Ed25519KeyPair::generate().map_err(failed)?.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
            }
        };
        let mut kid = [0u8; 16];
        SystemRandom::new().fill(&mut kid).map_err(failed)?;
        Ok(SigningKey {
            kid: URL_SAFE_NO_PAD.encode(kid),
            alg,
            private_key,
            created_at: now,
            signs_from,
            retires_at: None,
        })
    }

    /// Whether it is still published at `now`.
    pub fn published(&self, now: Timestamp) -> bool {
        self.retires_at.is_none_or(|at| now < at)
    }
}

/// A signing key as the store keeps it: the private key sealed under the server's key, so a
/// copy of the database alone signs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub sealed_private_key: String,
    pub created_at: Timestamp,
    pub signs_from: Timestamp,
    pub retires_at: Option<Timestamp>,
}

impl SigningKey {
    /// The form to store, sealed under `key`.
    pub fn seal(&self, key: &CodeKey) -> StoredKey {
        StoredKey {
            kid: self.kid.clone(),
            alg: self.alg,
            sealed_private_key: crate::mfa::seal(key, &self.private_key),
            created_at: self.created_at,
            signs_from: self.signs_from,
            retires_at: self.retires_at,
        }
    }
}

impl StoredKey {
    /// The key itself; an error if it was sealed under another server key.
    pub fn open(&self, key: &CodeKey) -> Result<SigningKey, DomainError> {
        let private_key = crate::mfa::open(key, &self.sealed_private_key).ok_or_else(|| {
            DomainError::Internal(format!(
                "the signing key {} was sealed under another server key: every node needs the same key file",
                self.kid
            ))
        })?;
        Ok(SigningKey {
            kid: self.kid.clone(),
            alg: self.alg,
            private_key,
            created_at: self.created_at,
            signs_from: self.signs_from,
            retires_at: self.retires_at,
        })
    }
}

fn decode_claims(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct Loaded {
    key: SigningKey,
    pair: Pair,
    jwk: Value,
}

/// The stored keys, parsed: signs tokens and publishes the public halves.
#[derive(Default)]
pub struct Keyring {
    /// Newest first.
    keys: Vec<Loaded>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keys.iter().map(|k| &k.key)).finish()
    }
}

impl Keyring {
    /// Parses `keys`; a key that does not parse is an internal error, never skipped silently.
    pub fn load(mut keys: Vec<SigningKey>) -> Result<Keyring, DomainError> {
        keys.sort_by_key(|k| std::cmp::Reverse((k.signs_from, k.created_at)));
        let loaded = keys
            .into_iter()
            .map(|key| {
                let bad = |_| DomainError::Internal(format!("the stored {} key {} does not parse", key.alg, key.kid));
                let der = key.private_key.as_slice();
                let (pair, params) = match key.alg {
                    SigningAlg::Rs256 => {
                        let pair = RsaKeyPair::from_pkcs8(der).map_err(bad)?;
                        let public = pair.public_key();
                        let params = json!({
                            "kty": "RSA",
                            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                        });
                        (Pair::Rsa(pair), params)
                    }
                    SigningAlg::Es256 => {
                        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(bad)?;
                        // An uncompressed point: 0x04, then x and y of 32 bytes each.
                        let point = pair.public_key().as_ref();
                        let params = json!({
                            "kty": "EC",
                            "crv": "P-256",
                            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                        });
                        (Pair::Ec(pair), params)
                    }
                    SigningAlg::EdDsa => {
                        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(bad)?;
                        let params = json!({
                            "kty": "OKP",
                            "crv": "Ed25519",
                            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
                        });
                        (Pair::Ed(pair), params)
                    }
                };
                let mut jwk = params;
                jwk["use"] = json!("sig");
                jwk["alg"] = json!(key.alg.name());
                jwk["kid"] = json!(key.kid);
                Ok(Loaded { key, pair, jwk })
            })
            .collect::<Result<Vec<_>, DomainError>>()?;
        Ok(Keyring { keys: loaded })
    }

    /// The algorithms with no key signing at `now`: each needs one generated.
    pub fn missing(&self, now: Timestamp) -> Vec<SigningAlg> {
        SigningAlg::ALL.into_iter().filter(|alg| self.signer(*alg, now).is_none()).collect()
    }

    /// The stored keys, newest first.
    pub fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().map(|k| &k.key)
    }

    /// The keys a rotation of `alg` stores: a new key signing from `signs_from`, and every key
    /// of `alg` not yet retiring, now retiring once the last token it could sign has expired
    /// (`token_seconds` after the new key takes over); or, when `signs_from` is `now`, every
    /// published key of `alg` retiring at once (a key that may be compromised should verify
    /// nothing more).
    pub fn rotation(
        &self,
        alg: SigningAlg,
        now: Timestamp,
        signs_from: Timestamp,
        token_seconds: i64,
    ) -> Result<Vec<SigningKey>, DomainError> {
        let immediately = signs_from <= now;
        let retire_at = if immediately { now } else { signs_from.plus_seconds(token_seconds) };
        let mut keys = vec![SigningKey::generate(alg, now, signs_from)?];
        let replaced =
            |k: &SigningKey| k.alg == alg && if immediately { k.published(now) } else { k.retires_at.is_none() };
        for k in self.keys.iter().map(|k| &k.key).filter(|k| replaced(k)) {
            keys.push(SigningKey { retires_at: Some(retire_at), ..k.clone() });
        }
        Ok(keys)
    }

    /// The algorithms whose signing key has signed for [`KEY_LIFETIME_SECONDS`] with no
    /// successor waiting: due for rotation.
    pub fn due(&self, now: Timestamp) -> Vec<SigningAlg> {
        SigningAlg::ALL
            .into_iter()
            .filter(|alg| {
                let waiting = self.keys.iter().any(|k| k.key.alg == *alg && k.key.signs_from > now);
                let old =
                    self.signer(*alg, now).is_some_and(|k| k.key.signs_from.plus_seconds(KEY_LIFETIME_SECONDS) <= now);
                old && !waiting
            })
            .collect()
    }

    /// The JSON Web Key Set: every key still published, those not yet signing included.
    pub fn jwks(&self, now: Timestamp) -> Value {
        let keys: Vec<&Value> = self.keys.iter().filter(|k| k.key.published(now)).map(|k| &k.jwk).collect();
        json!({ "keys": keys })
    }

    /// The claims of an ID token one of these keys signed, if the signature holds; expiry is
    /// the caller's to judge (a logout's `id_token_hint` may have expired). A token of another
    /// type (a logout token) is not one, whatever its signature.
    pub fn verify_id_token(&self, token: &str) -> Option<Value> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, claims) = signed.split_once('.')?;
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header["typ"] != "JWT" {
            return None;
        }
        let key =
            self.keys.iter().find(|k| header["kid"] == k.key.kid.as_str() && header["alg"] == k.key.alg.name())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let public = match &key.pair {
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                let components = signature::RsaPublicKeyComponents {
                    n: public.modulus().big_endian_without_leading_zero().to_vec(),
                    e: public.exponent().big_endian_without_leading_zero().to_vec(),
                };
                return components
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
                    .ok()
                    .and_then(|()| decode_claims(claims));
            }
            Pair::Ec(pair) => signature::UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref().to_vec(),
            ),
            Pair::Ed(pair) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, pair.public_key().as_ref().to_vec())
            }
        };
        public.verify(signed.as_bytes(), &signature).ok().and_then(|()| decode_claims(claims))
    }

    /// The key that signs `alg` tokens at `now`: the newest one whose time has come.
    fn signer(&self, alg: SigningAlg, now: Timestamp) -> Option<&Loaded> {
        self.keys.iter().find(|k| k.key.alg == alg && k.key.signs_from <= now && k.key.published(now))
    }

    /// `claims` as a compact JWS signed with the current `alg` key.
    pub fn sign(&self, alg: SigningAlg, claims: &Value, now: Timestamp) -> Result<String, DomainError> {
        self.sign_typed(alg, claims, now, "JWT")
    }

    /// `claims` as a compact JWS of the media type `typ` (such as `logout+jwt`, which keeps a
    /// logout token from passing for an ID token), signed with the current `alg` key.
    pub fn sign_typed(
        &self,
        alg: SigningAlg,
        claims: &Value,
        now: Timestamp,
        typ: &str,
    ) -> Result<String, DomainError> {
        let key = self.signer(alg, now).ok_or_else(|| DomainError::Internal(format!("no {alg} signing key")))?;
        let header = json!({ "alg": alg.name(), "kid": key.key.kid, "typ": typ });
        let mut jws =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let failed = |_| DomainError::Internal(format!("could not sign with {alg} key {}", key.key.kid));
        let signature = match &key.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), jws.as_bytes(), &mut signature)
                    .map_err(failed)?;
                signature
            }
            Pair::Ec(pair) => pair.sign(&SystemRandom::new(), jws.as_bytes()).map_err(failed)?.as_ref().to_vec(),
            Pair::Ed(pair) => pair.sign(jws.as_bytes()).as_ref().to_vec(),
        };
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jws)
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256};

    use super::*;

    fn decode(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).unwrap()
    }

    /// Checks a token against the published JWK alone, as a client would.
    fn verify_with_jwk(token: &str, jwk: &Value) -> Value {
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let signature = decode(signature);
        let text = |name: &str| decode(jwk[name].as_str().unwrap());
        match jwk["kty"].as_str().unwrap() {
            "RSA" => signature::RsaPublicKeyComponents { n: text("n"), e: text("e") }
                .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
                .unwrap(),
            "EC" => {
                let point = [vec![4u8], text("x"), text("y")].concat();
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(signed.as_bytes(), &signature).unwrap()
            }
            _ => UnparsedPublicKey::new(&ED25519, text("x")).verify(signed.as_bytes(), &signature).unwrap(),
        }
        let (header, claims) = signed.split_once('.').unwrap();
        let header: Value = serde_json::from_slice(&decode(header)).unwrap();
        assert_eq!(header["kid"], jwk["kid"]);
        assert_eq!(header["alg"], jwk["alg"]);
        serde_json::from_slice(&decode(claims)).unwrap()
    }

    #[test]
    fn every_algorithm_signs_tokens_its_published_key_verifies() {
        let now = Timestamp(1_000);
        let keys = SigningAlg::ALL.map(|alg| SigningKey::generate(alg, now, now).unwrap());
        let ring = Keyring::load(keys.to_vec()).unwrap();
        assert!(ring.missing(now).is_empty());
        let jwks = ring.jwks(now);
        for alg in SigningAlg::ALL {
            let token = ring.sign(alg, &json!({ "sub": "someone" }), now).unwrap();
            let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["alg"] == alg.name()).unwrap();
            assert_eq!(verify_with_jwk(&token, jwk)["sub"], "someone");
            assert!(jwk.get("d").is_none(), "no private part is published");
        }
    }

    #[test]
    fn a_new_key_is_published_before_it_signs_and_the_old_one_until_it_retires() {
        let now = Timestamp(1_000_000);
        let mut old = SigningKey::generate(SigningAlg::Es256, now, now).unwrap();
        let new = SigningKey::generate(SigningAlg::Es256, now, now.plus_seconds(3600)).unwrap();
        old.retires_at = Some(now.plus_seconds(7200));
        let ring = Keyring::load(vec![old.clone(), new.clone()]).unwrap();
        let kids = |at: Timestamp| -> Vec<String> {
            ring.jwks(at)["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(kids(now), vec![new.kid.clone(), old.kid.clone()]);
        assert_eq!(ring.signer(SigningAlg::Es256, now).unwrap().key.kid, old.kid);
        assert_eq!(ring.signer(SigningAlg::Es256, now.plus_seconds(3600)).unwrap().key.kid, new.kid);
        assert_eq!(kids(now.plus_seconds(7200)), vec![new.kid.clone()]);
        assert_eq!(ring.missing(now), vec![SigningAlg::Rs256, SigningAlg::EdDsa]);
    }

    #[test]
    fn a_rotation_publishes_the_new_key_first_and_retires_the_old_after_its_last_token() {
        let start = Timestamp(1_000_000);
        let first = SigningKey::generate(SigningAlg::Es256, start, start).unwrap();
        let ring = Keyring::load(vec![first.clone()]).unwrap();
        let later = start.plus_seconds(KEY_LIFETIME_SECONDS);
        assert!(ring.due(start).is_empty());
        assert_eq!(ring.due(later), vec![SigningAlg::Es256]);
        let takes_over = later.plus_seconds(ROTATION_NOTICE_SECONDS);
        let rotated = ring.rotation(SigningAlg::Es256, later, takes_over, 3600).unwrap();
        assert_eq!(rotated.len(), 2);
        assert_eq!(rotated[1].kid, first.kid);
        assert_eq!(rotated[1].retires_at, Some(takes_over.plus_seconds(3600)));
        let ring = Keyring::load(rotated.clone()).unwrap();
        assert!(ring.due(later).is_empty(), "a successor is waiting");
        assert_eq!(ring.signer(SigningAlg::Es256, later).unwrap().key.kid, first.kid);
        assert_eq!(ring.signer(SigningAlg::Es256, takes_over).unwrap().key.kid, rotated[0].kid);
        let token = ring.sign(SigningAlg::Es256, &json!({ "sub": "x" }), later).unwrap();
        assert_eq!(ring.verify_id_token(&token).unwrap()["sub"], "x");
        assert!(ring.verify_id_token(&token.replace('.', "..")).is_none());
        let logout = ring.sign_typed(SigningAlg::Es256, &json!({ "sub": "x" }), later, "logout+jwt").unwrap();
        assert!(ring.verify_id_token(&logout).is_none(), "a logout token is no ID token");
        let immediate = ring.rotation(SigningAlg::Es256, later, later, 3600).unwrap();
        assert_eq!(immediate.len(), 3, "the waiting key and the signing one both go");
        assert!(immediate[1..].iter().all(|k| k.retires_at == Some(later)));
    }

    #[test]
    fn algorithm_names_parse_in_any_case_and_keys_never_print() {
        assert_eq!("eddsa".parse::<SigningAlg>().unwrap(), SigningAlg::EdDsa);
        assert!("HS256".parse::<SigningAlg>().unwrap_err().contains("RS256"));
        let key = SigningKey::generate(SigningAlg::EdDsa, Timestamp(0), Timestamp(0)).unwrap();
        assert!(!format!("{key:?}").contains(&format!("{:?}", key.private_key)));
        let server = CodeKey::random();
        let stored = key.seal(&server);
        assert_eq!(stored.open(&server).unwrap(), key);
        assert!(stored.open(&CodeKey::random()).is_err());
    }
}
