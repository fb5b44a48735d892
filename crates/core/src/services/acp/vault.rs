//! The delegated-payment vault: a card becomes a single-use `vt_...` token in
//! `payment_tokens` (vaulted by the configured provider; the number is never stored) bound to
//! an `acp_allowances` row saying what it may pay for. Completing a session checks that
//! allowance before anything is charged (`payments::lock_token_for`).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;

use super::{AcpService, PERMISSION, rename_fields, visible};
use crate::services::error::Validator;
use crate::services::payments::{VaultCard, is_card_number};
use crate::services::{Ctx, Error};
use stateset_db::acp::{self as q, AllowanceRow};
use stateset_db::checkout as checkout_q;

/// A card to vault. Its `Debug` never shows the number or CVC.
#[derive(Clone)]
pub struct DelegatedCard {
    /// The payment method type; only `card` is taken.
    pub kind: String,
    /// `fpan` or `network_token` when given.
    pub card_number_type: Option<String>,
    pub number: String,
    /// `01` to `12`.
    pub exp_month: Option<String>,
    /// Four digits.
    pub exp_year: Option<String>,
    pub cvc: Option<String>,
}

impl std::fmt::Debug for DelegatedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DelegatedCard { .. }")
    }
}

/// What a delegated token may pay for.
#[derive(Debug, Clone)]
pub struct DelegatedAllowance {
    /// Only `one_time` is taken.
    pub reason: String,
    /// In minor units of `currency`.
    pub max_amount: i64,
    /// Lower case, as ACP writes it.
    pub currency: String,
    pub checkout_session_id: String,
    pub merchant_id: String,
    pub expires_at: DateTime<Utc>,
}

/// A card to vault and what it may pay for.
#[derive(Debug, Clone)]
pub struct DelegatePayment {
    pub card: DelegatedCard,
    pub allowance: DelegatedAllowance,
    /// The caller's metadata: an object or `null`.
    pub metadata: Value,
}

/// A token the vault issued.
#[derive(Debug, Clone)]
pub struct DelegatedToken {
    /// `vt_...`.
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// The merchant the token was issued for (ours).
    pub merchant_id: String,
}

impl AcpService {
    /// Vaults a card as a single-use `vt_...` token bound to an allowance.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn delegate_payment(
        &self,
        ctx: &Ctx,
        input: DelegatePayment,
    ) -> Result<DelegatedToken, Error> {
        ctx.authorize(PERMISSION)?;
        let mut v = Validator::default();
        let card = &input.card;
        let allowance = &input.allowance;
        if card.kind != "card" {
            v.add("$.payment_method.type", "must be `card`");
        }
        if card
            .card_number_type
            .as_deref()
            .is_some_and(|t| t != "fpan" && t != "network_token")
        {
            v.add(
                "$.payment_method.card_number_type",
                "must be fpan or network_token",
            );
        }
        let exp_month = card.exp_month.as_deref().map(|m| m.trim().parse::<i32>());
        if exp_month
            .clone()
            .is_some_and(|m| m.map_or(true, |m| !(1..=12).contains(&m)))
        {
            v.add("$.payment_method.exp_month", "must be 01 to 12");
        }
        let exp_year = card.exp_year.as_deref().map(|y| y.trim().parse::<i32>());
        if exp_year
            .clone()
            .is_some_and(|y| y.map_or(true, |y| !(2000..=2100).contains(&y)))
        {
            v.add("$.payment_method.exp_year", "must be a four-digit year");
        }
        if card
            .cvc
            .as_deref()
            .is_some_and(|c| !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            v.add("$.payment_method.cvc", "must be 3 or 4 digits");
        }
        if allowance.reason != "one_time" {
            v.add("$.allowance.reason", "must be one_time");
        }
        if allowance.max_amount < 0 {
            v.add("$.allowance.max_amount", "must not be negative");
        }
        match v.currency("$.allowance.currency", &allowance.currency) {
            Some(currency) if allowance.currency.trim() != currency.acp_code() => {
                v.add(
                    "$.allowance.currency",
                    "must be in lower case, as ACP writes it",
                );
            }
            _ => {}
        }
        if allowance.merchant_id != self.settings.merchant_id {
            v.add("$.allowance.merchant_id", "is not this merchant");
        }
        if allowance.expires_at <= Utc::now() {
            v.add("$.allowance.expires_at", "must be in the future");
        }
        if !input.metadata.is_null() && !input.metadata.is_object() {
            v.add("$.metadata", "must be an object");
        }
        let mut conn = self.db.conn().await?;
        let known = match Uuid::parse_str(allowance.checkout_session_id.trim()) {
            Ok(id) => q::session(&mut conn, id)
                .await?
                .is_some_and(|row| visible(ctx, &row)),
            // Not a UUID: it names no session of ours, which the error below says.
            Err(_) => false,
        };
        if !known {
            v.add(
                "$.allowance.checkout_session_id",
                "is not a checkout session of this merchant",
            );
        }
        if !is_card_number(&card.number) {
            v.add("$.payment_method.number", "is not a valid card number");
        }
        v.finish()?;
        drop(conn);
        let id = format!("vt_{}", crate::auth::random_token(24));
        let vaulted = VaultCard {
            number: &card.number,
            exp_month: exp_month.and_then(Result::ok),
            exp_year: exp_year.and_then(Result::ok),
            cvc: card.cvc.as_deref(),
        };
        // The vault's provider may be Stripe: no transaction is open across the call.
        let token = self
            .payments
            .vault_card(id.clone(), vaulted)
            .await
            .map_err(|e| rename_fields(e, "", "$.payment_method."))?;
        let created = token.created_at;
        let row = AllowanceRow {
            token_id: id.clone(),
            checkout_session_id: allowance.checkout_session_id.trim().to_owned(),
            merchant_id: allowance.merchant_id.clone(),
            max_amount: allowance.max_amount,
            currency: allowance.currency.clone(),
            expires_at: allowance.expires_at,
            created_at: created,
        };
        self.db
            .tx(
                "delegate_payment",
                async move |conn: &mut AsyncPgConnection| {
                    checkout_q::insert_token(conn, &token).await?;
                    q::insert_allowance(conn, &row).await?;
                    Ok::<_, Error>(())
                },
            )
            .await?;
        Ok(DelegatedToken {
            id,
            created_at: created,
            merchant_id: self.settings.merchant_id.clone(),
        })
    }
}
