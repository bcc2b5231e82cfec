//! Passwords: a minimal policy and Argon2id hashing that cannot starve the server.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use platform::{Error, ErrorCode, Result};
use tokio::sync::Semaphore;

/// A password that meets the policy: 8 to 128 characters with at least one Latin letter and one
/// digit (what a phone's password keyboard types; any other character may come beside them).
pub struct Password(String);

/// The policy's "a letter and a digit, in either order" as a pattern (found anywhere); the
/// length is the schema's `minLength`/`maxLength`.
const PATTERN: &str = "[A-Za-z][\\s\\S]*[0-9]|[0-9][\\s\\S]*[A-Za-z]";

impl Password {
    pub fn parse(input: &str, field: &'static str) -> Result<Password> {
        let len = input.chars().count();
        let ok = (8..=128).contains(&len)
            && input.chars().any(|c| c.is_ascii_alphabetic())
            && input.chars().any(|c| c.is_ascii_digit());
        if ok {
            Ok(Password(input.to_owned()))
        } else {
            Err(Error::invalid(ErrorCode::WeakPassword, field))
        }
    }

    /// The policy as a schema, for the fields that set a password.
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(8))
            .max_length(Some(128))
            .pattern(Some(PATTERN))
            .build()
    }

    /// A new random password that always meets the policy, for generated logins (demo data,
    /// `admin create`, drills): a random token could hold no digit (one draw in fifteen for
    /// sixteen base64 characters), so it is framed by a fixed letter and digit.
    pub fn generate() -> Password {
        Password(format!("gu{}7", platform::crypto::random_token(9)))
    }

    /// The text, to show a generated password to the person who will use it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1). Each hash costs tens of
/// milliseconds of one core, so hashing runs on blocking threads behind a semaphore with one
/// permit per core: a login storm queues here instead of occupying every thread.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

/// Verified against when the phone is unknown, so both failures cost the same time. Written
/// out rather than hashed at startup (a hash is tens of milliseconds before the server can
/// answer); a test holds its parameters equal to [`argon2`]'s. Nobody can sign in with it: an
/// unknown phone fails whatever the verification says.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$NN0SB8rD1VLRUsb8CvhpPw$UX4ctGyJz5UD2FlB/VGxoaiNs6lQOE/SCt+J3z39NTM";

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(anyhow::anyhow!("argon2: {e}")))
}

impl PasswordHasher {
    pub fn new() -> PasswordHasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordHasher {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.permits.available_permits()
    }

    async fn limited<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!("hasher closed: {e}")))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!("hash task failed: {e}")))
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
    pub async fn hash(&self, password: Password) -> Result<String> {
        self.limited(move || hash_now(&password.0)).await?
    }

    /// Checks `password` against a stored PHC string, or against the dummy hash when there is
    /// no account, so the caller cannot tell the two cases apart by timing.
    pub async fn verify(&self, password: &str, stored: Option<String>) -> Result<bool> {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let password = password.to_owned();
        let matches = self
            .limited(move || {
                PasswordHash::new(&phc)
                    .map(|parsed| {
                        argon2()
                            .verify_password(password.as_bytes(), &parsed)
                            .is_ok()
                    })
                    .unwrap_or(false)
            })
            .await?;
        Ok(known && matches)
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_pattern_takes_exactly_what_parse_takes() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        for input in [
            "abcdefg1",
            "1abcdefg",
            "abc\n1defg",
            "abcdefgh",
            "12345678",
            "密码密码1234",
            "密码密码abcd",
            "ÄÖÜßéèêë1",
        ] {
            let long_enough = input.chars().count() >= 8;
            assert_eq!(
                long_enough && pattern.is_match(input),
                Password::parse(input, "p").is_ok(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn policy_wants_length_letters_and_digits() {
        assert!(Password::parse("rider2026", "password").is_ok());
        assert!(Password::parse("骑手骑手qs2026", "password").is_ok());
        // Letters of the password keyboard: a Chinese word and digits alone is refused.
        for weak in [
            "short1",
            "onlyletters",
            "1234567890",
            &"a1".repeat(65),
            "骑手骑手骑手2026",
        ] {
            let err = Password::parse(weak, "password").err().expect(weak);
            assert_eq!(err.code(), ErrorCode::WeakPassword);
        }
    }

    #[test]
    fn generated_passwords_always_meet_the_policy() {
        for _ in 0..10_000 {
            let generated = Password::generate();
            let text = generated.as_str();
            assert!(Password::parse(text, "password").is_ok(), "{text}");
        }
    }

    #[tokio::test]
    async fn hashes_are_owasp_argon2id_and_verify() {
        let hasher = PasswordHasher::new();
        let phc = hasher
            .hash(Password::parse("rider2026", "p").unwrap())
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify("rider2026", Some(phc.clone())).await.unwrap());
        assert!(!hasher.verify("rider2027", Some(phc)).await.unwrap());
        assert!(!hasher.verify("not a real password 0", None).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real = hash_now("rider2026").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        // And it is a well-formed hash that verification runs through to the end.
        assert!(argon2()
            .verify_password(b"not a real password 0", &dummy)
            .is_ok());
    }
}
