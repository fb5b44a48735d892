//! JWT access and refresh tokens (HS256).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a token is for; an access token is never accepted as a refresh token or vice versa.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims StateSet signs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The session (token family) the token belongs to.
    pub sid: Uuid,
    /// The token's own id.
    pub jti: Uuid,
    pub typ: TokenKind,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl TokenSigner {
    pub fn new(secret: &str, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            access_ttl,
            refresh_ttl,
        }
    }

    /// Signs a token of `kind` for `user` in `session`; returns it with its claims.
    pub fn issue(
        &self,
        kind: TokenKind,
        user: Uuid,
        session: Uuid,
    ) -> anyhow::Result<(String, Claims)> {
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            sid: session,
            jti: Uuid::now_v7(),
            typ: kind,
            iat: now,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// The claims of a well-signed, unexpired token of `kind`; `None` otherwise.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        (claims.typ == kind).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_kinds_do_not_mix() -> anyhow::Result<()> {
        let signer = TokenSigner::new(
            "0123456789abcdef0123456789abcdef",
            Duration::from_secs(60),
            Duration::from_secs(120),
        );
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let (access, claims) = signer.issue(TokenKind::Access, user, session)?;
        let verified = signer
            .verify(&access, TokenKind::Access)
            .ok_or_else(|| anyhow::anyhow!("rejected"))?;
        assert_eq!(
            (verified.sub, verified.sid, verified.jti),
            (user, session, claims.jti)
        );
        assert!(signer.verify(&access, TokenKind::Refresh).is_none());
        let other = TokenSigner::new(
            "another secret that is long enough!!",
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(other.verify(&access, TokenKind::Access).is_none());
        assert!(signer.verify("not.a.jwt", TokenKind::Access).is_none());
        Ok(())
    }
}
