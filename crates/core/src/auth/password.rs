//! Argon2id password hashing with configurable cost, and a verification that takes the same
//! time whether or not the account exists.

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

use crate::config::PasswordHashing;

/// Hashes and verifies passwords with one set of Argon2id parameters.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified when an email is unknown so that a wrong email
    /// costs as much time as a wrong password.
    decoy: String,
}

impl PasswordHasher {
    pub fn new(cost: PasswordHashing) -> anyhow::Result<Self> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let mut hasher = Self {
            params,
            decoy: String::new(),
        };
        hasher.decoy = hasher.hash(&super::random_token(32))?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
    }

    /// Whether `password` matches `hash` (constant-time comparison inside argon2). With no
    /// hash (unknown account) the decoy is verified instead, so both cases cost the same.
    pub fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let matched = self
            .argon2()
            .verify_password(password.as_bytes(), hash.unwrap_or(&self.decoy))
            .is_ok();
        matched && hash.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() -> anyhow::Result<()> {
        let hasher = PasswordHasher::new(PasswordHashing {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })?;
        let hash = hasher.hash("correct horse")?;
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&hash)));
        assert!(!hasher.verify("wrong horse", Some(&hash)));
        assert!(!hasher.verify("correct horse", None));
        Ok(())
    }
}
