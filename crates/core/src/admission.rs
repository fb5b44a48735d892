//! Admission: the one step every door takes before a call reaches a service. Credentials
//! become a principal (`UNAUTHENTICATED` when they are bad) and the caller's allowance for
//! the route is charged (`RATE_LIMITED`). HTTP, gRPC, ACP and the WebSocket
//! `connection_init` all come through here, so no door can skip either half.

use std::net::IpAddr;

use crate::auth::Principal;
use crate::limits::{Allowance, RateLimiter, Subject};
use crate::services::auth::Credentials;
use crate::services::{AuthService, Error};

/// A caller let in.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub principal: Principal,
    /// What is left of the allowance; `None` for routes that are never limited and for the
    /// server itself.
    pub allowance: Option<Allowance>,
}

/// Authenticates and rate limits.
pub struct Admission {
    auth: AuthService,
    limiter: RateLimiter,
}

impl Admission {
    pub fn new(auth: AuthService, limiter: RateLimiter) -> Self {
        Self { auth, limiter }
    }

    /// Lets in the caller holding `credentials`, coming from `client_ip` (which tells
    /// anonymous callers apart), for `route` (`METHOD /path/{template}` or a gRPC method);
    /// `route` is `None` for what is never limited (probes, scrapes).
    pub async fn admit(
        &self,
        credentials: &Credentials,
        client_ip: Option<IpAddr>,
        route: Option<&str>,
    ) -> Result<Admitted, Error> {
        let principal = self.auth.authenticate(credentials).await?;
        let allowance = match (route, Subject::of(&principal, client_ip)) {
            (Some(route), Some(subject)) => Some(self.limiter.check(&subject, route).await?),
            _ => None,
        };
        Ok(Admitted {
            principal,
            allowance,
        })
    }

    /// The rate limiter on its own.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Drops rate-limit state of callers whose allowance is full again (bounded memory).
    pub fn housekeeping(&self) {
        self.limiter.housekeeping();
    }
}
