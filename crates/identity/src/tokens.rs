//! Signed tokens: Ed25519 (EdDSA) JWTs with a `kid`, verified with the algorithm pinned and
//! exp/iss/aud/sub required. Access tokens carry `typ: at+jwt` (RFC 9068) so no other token
//! signed with the same key (an e-member card, say) is ever accepted as one.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use platform::crypto::{load_or_create_secret, sha256_hex};

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The account id.
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub roles: Vec<String>,
}

/// The registered claims every token of ours carries, checked by [`TokenKeys::verify`]. `exp`
/// is checked against [`platform::clock`], not the system's time, so a test that moves an
/// app's clock sees its tokens expire. (`sub` is a required field of every claims type.)
pub trait Registered {
    fn iss(&self) -> &str;
    fn aud(&self) -> &str;
    /// Seconds since the epoch, as in the JWT.
    fn exp(&self) -> i64;
}

/// Implements [`Registered`] for a claims struct with `iss`, `aud` and `exp` fields.
#[macro_export]
macro_rules! registered_claims {
    ($claims:ty) => {
        impl $crate::tokens::Registered for $claims {
            fn iss(&self) -> &str {
                &self.iss
            }
            fn aud(&self) -> &str {
                &self.aud
            }
            fn exp(&self) -> i64 {
                self.exp
            }
        }
    };
}

registered_claims!(AccessClaims);

/// Seconds a token is still taken after its `exp`, for clocks a little apart.
const LEEWAY_SECONDS: i64 = 30;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Ours and otherwise valid, but past its `exp`.
    Expired,
    Invalid,
}

/// The signing key and what verifies it.
pub struct TokenKeys {
    kid: String,
    encoding: EncodingKey,
    /// The public key, decompressed once: decoding it for every token (what a `DecodingKey`
    /// does) would cost a field inversion per request.
    verifying: VerifyingKey,
    public_x: String,
}

impl TokenKeys {
    /// Loads the PKCS#8 PEM key at `path`; when `generate` is set and the file is missing, a new
    /// key is generated into it once and reused on every later start.
    pub fn load(path: &Path, generate: bool) -> anyhow::Result<TokenKeys> {
        let pem = if generate {
            load_or_create_secret(path, || {
                SigningKey::generate(&mut rand::rngs::OsRng)
                    .to_pkcs8_pem(Default::default())
                    .expect("Ed25519 key encodes")
                    .as_bytes()
                    .to_vec()
            })?
        } else {
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read JWT key {}: {e}", path.display()))?
        };
        let pem = String::from_utf8(pem)?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            anyhow::anyhow!("{} is not an Ed25519 PKCS#8 PEM key: {e}", path.display())
        })?;
        Ok(TokenKeys::from_signing_key(&key))
    }

    pub fn from_signing_key(key: &SigningKey) -> TokenKeys {
        let der = key.to_pkcs8_der().expect("Ed25519 key encodes");
        let public = key.verifying_key().to_bytes();
        let public_x = URL_SAFE_NO_PAD.encode(public);
        TokenKeys {
            // The kid names the key by its public half, so rotating keys never reuses a kid.
            kid: sha256_hex(&public)[..16].to_owned(),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            verifying: key.verifying_key(),
            public_x,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs claims with the given `typ` header.
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Verifies signature (EdDSA only), `typ`, `kid`, exp, iss, aud and the presence of sub.
    pub fn verify<C: DeserializeOwned + Registered>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        audience: &str,
    ) -> Option<C> {
        self.verify_detailed(token, typ, issuer, audience).ok()
    }

    /// [`TokenKeys::verify`], telling a genuine but expired token from everything else.
    pub fn verify_detailed<C: DeserializeOwned + Registered>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<C, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Invalid)?;
        if header.alg != Algorithm::EdDSA
            || header.typ.as_deref() != Some(typ)
            || header.kid.as_deref() != Some(self.kid.as_str())
        {
            return Err(Rejection::Invalid);
        }
        // The signature over the exact signing input, with our one key, before anything in the
        // payload is believed: the same check `jsonwebtoken` makes, without decoding the key
        // again.
        let (signed, signature) = token.rsplit_once('.').ok_or(Rejection::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(Rejection::Invalid)?;
        self.verifying
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| Rejection::Invalid)?;
        // The payload of the input just verified (the header was read above).
        let (_, payload) = signed.split_once('.').ok_or(Rejection::Invalid)?;
        let claims: C = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(Rejection::Invalid)?;
        if claims.iss() != issuer || claims.aud() != audience {
            return Err(Rejection::Invalid);
        }
        // The signature was checked first, so "expired" is only said of our tokens.
        if claims.exp() + LEEWAY_SECONDS < platform::clock::now_utc().timestamp() {
            return Err(Rejection::Expired);
        }
        Ok(claims)
    }

    /// The JWK Set that verifies our tokens (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": self.public_x,
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> AccessClaims {
        let now = platform::clock::now_utc().timestamp();
        AccessClaims {
            iss: "https://gigunion.test".into(),
            aud: "gigunion-app".into(),
            sub: "42".into(),
            exp: now + exp_in,
            iat: now,
            roles: vec!["worker".into()],
        }
    }

    #[test]
    fn a_key_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.pem");
        let first = TokenKeys::load(&path, true).unwrap();
        let again = TokenKeys::load(&path, true).unwrap();
        assert_eq!(first.kid(), again.kid());
        let token = first.sign(ACCESS_TOKEN_TYPE, &claims(60)).unwrap();
        let back: AccessClaims = again
            .verify(
                &token,
                ACCESS_TOKEN_TYPE,
                "https://gigunion.test",
                "gigunion-app",
            )
            .unwrap();
        assert_eq!(back.sub, "42");
        assert!(TokenKeys::load(&dir.path().join("missing.pem"), false).is_err());
    }

    #[test]
    fn refuses_wrong_typ_expired_and_foreign_keys() {
        let keys = TokenKeys::from_signing_key(&SigningKey::from_bytes(&[3u8; 32]));
        let other = TokenKeys::from_signing_key(&SigningKey::from_bytes(&[4u8; 32]));
        let verify = |t: &str| {
            keys.verify::<AccessClaims>(
                t,
                ACCESS_TOKEN_TYPE,
                "https://gigunion.test",
                "gigunion-app",
            )
        };
        assert!(verify(&keys.sign(ACCESS_TOKEN_TYPE, &claims(60)).unwrap()).is_some());
        assert!(verify(&keys.sign("card+jwt", &claims(60)).unwrap()).is_none());
        assert!(verify(&keys.sign(ACCESS_TOKEN_TYPE, &claims(-120)).unwrap()).is_none());
        assert!(verify(&other.sign(ACCESS_TOKEN_TYPE, &claims(60)).unwrap()).is_none());
    }

    #[test]
    fn refuses_a_changed_payload_and_another_issuer_or_audience() {
        let keys = TokenKeys::from_signing_key(&SigningKey::from_bytes(&[3u8; 32]));
        let verify = |t: &str, iss: &str, aud: &str| {
            keys.verify::<AccessClaims>(t, ACCESS_TOKEN_TYPE, iss, aud)
        };
        let (iss, aud) = ("https://gigunion.test", "gigunion-app");
        let token = keys.sign(ACCESS_TOKEN_TYPE, &claims(60)).unwrap();
        assert!(verify(&token, iss, aud).is_some());
        assert!(verify(&token, "https://other.test", aud).is_none());
        assert!(verify(&token, iss, "other-app").is_none());
        // Another payload under this token's signature.
        let mut admin = claims(60);
        admin.sub = "1".into();
        let forged = keys.sign(ACCESS_TOKEN_TYPE, &admin).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged_parts: Vec<&str> = forged.split('.').collect();
        let spliced = format!("{}.{}.{}", parts[0], forged_parts[1], parts[2]);
        assert!(verify(&spliced, iss, aud).is_none());
        // A signature that is not 64 bytes, or not base64url.
        assert!(verify(&format!("{}.{}.AAAA", parts[0], parts[1]), iss, aud).is_none());
        assert!(verify(&format!("{}.{}.%%%", parts[0], parts[1]), iss, aud).is_none());
    }
}
