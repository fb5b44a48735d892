//! Stripe: PaymentIntents over HTTPS (form-encoded requests, JSON answers), and Stripe's
//! signed webhooks. Every state-changing call carries an `Idempotency-Key`, so the one retry
//! after a network failure or a 5xx can never charge twice.

use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::Error;
use super::provider::{
    Authorization, AuthorizeRequest, PaymentProvider, ProviderEvent, ProviderWebhook, from_minor,
    to_minor,
};

/// How far a webhook's signed timestamp may be from now.
const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// Stripe's API version this client speaks (the shapes the tests record).
const API_VERSION: &str = "2024-06-20";

pub struct StripeProvider {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    webhook_secret: Option<String>,
}

/// A card payment method as Stripe describes it (`GET /v1/payment_methods/{id}`).
#[derive(Debug, Deserialize)]
pub struct StripeCard {
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
}

#[derive(Debug, Deserialize)]
struct PaymentMethod {
    #[serde(default)]
    id: String,
    card: Option<StripeCard>,
}

#[derive(Debug, Deserialize)]
struct PaymentIntent {
    id: String,
    status: String,
    last_payment_error: Option<StripeError>,
}

#[derive(Debug, Deserialize)]
struct Refund {
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct StripeError {
    #[serde(rename = "type", default)]
    kind: String,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    payment_intent: Option<Box<PaymentIntentState>>,
}

#[derive(Debug, Deserialize)]
struct PaymentIntentState {
    status: String,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: StripeError,
}

impl StripeProvider {
    pub fn new(
        base: &str,
        api_key: Option<String>,
        webhook_secret: Option<String>,
        timeout: Duration,
    ) -> Result<Self, anyhow::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
            api_key,
            webhook_secret,
        })
    }

    /// Whether Stripe payment methods can be charged (an API key is configured).
    pub fn enabled(&self) -> bool {
        self.api_key.is_some()
    }

    fn key(&self) -> Result<&str, Error> {
        self.api_key.as_deref().ok_or_else(|| {
            Error::Unavailable(anyhow::anyhow!("Stripe is not configured (STRIPE_API_KEY)"))
        })
    }

    /// Sends one call; a network failure, 429 or 5xx is tried once more with the same
    /// idempotency key.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, Error> {
        let key = self.key()?;
        let url = format!("{}{path}", self.base);
        let mut last_failure = None;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(key)
                .header("Stripe-Version", API_VERSION);
            if let Some(idempotency_key) = idempotency_key {
                request = request.header("Idempotency-Key", idempotency_key);
            }
            if !form.is_empty() {
                request = request.form(form);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(err) => {
                    tracing::warn!(error = %err.without_url(), path, "Stripe is unreachable");
                    last_failure = Some(anyhow::anyhow!("Stripe is unreachable"));
                    continue;
                }
            };
            let status = response.status();
            let body = response.bytes().await.map_err(|err| {
                Error::Unavailable(anyhow::anyhow!(
                    "reading Stripe's answer: {}",
                    err.without_url()
                ))
            })?;
            if status.is_success() {
                return serde_json::from_slice(&body).map_err(|err| {
                    Error::Unavailable(anyhow::anyhow!(
                        "Stripe answered {path} unexpectedly: {err}"
                    ))
                });
            }
            if status.as_u16() == 429 || status.is_server_error() {
                tracing::warn!(status = status.as_u16(), path, "Stripe failed");
                last_failure = Some(anyhow::anyhow!("Stripe answered {status}"));
                continue;
            }
            let error = serde_json::from_slice::<ErrorEnvelope>(&body)
                .map(|e| e.error)
                .unwrap_or_default();
            return Err(stripe_error(status, error));
        }
        Err(Error::Unavailable(
            last_failure.unwrap_or_else(|| anyhow::anyhow!("Stripe failed")),
        ))
    }

    /// Looks up a payment method (`pm_...`) that Stripe.js made, for its card's brand and
    /// last four digits.
    pub async fn payment_method(&self, id: &str) -> Result<StripeCard, Error> {
        let method: PaymentMethod = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/payment_methods/{id}"),
                &[],
                None,
            )
            .await?;
        method
            .card
            .ok_or_else(|| Error::invalid("payment_token", "is not a card payment method"))
    }
}

impl StripeProvider {
    /// Vaults a card at Stripe as a PaymentMethod (`POST /v1/payment_methods`), keyed by our
    /// token id so a retry makes one; returns its `pm_...` id and card details. Card errors
    /// name the field Stripe blames.
    pub async fn vault_card(
        &self,
        token_id: &str,
        number: &str,
        exp_month: i32,
        exp_year: i32,
        cvc: Option<&str>,
    ) -> Result<(String, StripeCard), Error> {
        let mut form = vec![
            ("type", "card".to_owned()),
            ("card[number]", number.to_owned()),
            ("card[exp_month]", exp_month.to_string()),
            ("card[exp_year]", exp_year.to_string()),
        ];
        if let Some(cvc) = cvc {
            form.push(("card[cvc]", cvc.to_owned()));
        }
        let key = format!("stateset_vault_{token_id}");
        let method: PaymentMethod = self
            .call(
                reqwest::Method::POST,
                "/v1/payment_methods",
                &form,
                Some(&key),
            )
            .await
            .map_err(|err| match err {
                Error::PaymentDeclined { decline_code } => {
                    let field = match decline_code.as_str() {
                        "invalid_expiry_month" => "exp_month",
                        "invalid_expiry_year" | "expired_card" => "exp_year",
                        "incorrect_cvc" | "invalid_cvc" => "cvc",
                        _ => "number",
                    };
                    Error::invalid(field, format!("Stripe refused the card: {decline_code}"))
                }
                other => other,
            })?;
        let card = method
            .card
            .ok_or_else(|| Error::invalid("number", "Stripe did not keep it as a card"))?;
        Ok((method.id, card))
    }
}

/// Stripe's error in our terms: card errors are declines with Stripe's decline code; a bad
/// key or an unexpected answer means the provider is unavailable to us.
fn stripe_error(status: reqwest::StatusCode, error: StripeError) -> Error {
    let message = error
        .message
        .clone()
        .unwrap_or_else(|| format!("Stripe answered {status}"));
    match (error.kind.as_str(), error.code.as_deref()) {
        ("card_error", code) => Error::PaymentDeclined {
            decline_code: error
                .decline_code
                .or(code.map(str::to_owned))
                .unwrap_or_else(|| "card_declined".to_owned()),
        },
        (_, Some("payment_intent_unexpected_state")) => Error::InvalidState {
            from: error
                .payment_intent
                .map(|pi| pi.status)
                .unwrap_or_else(|| "unknown".to_owned()),
            action: "change the payment at Stripe".to_owned(),
        },
        ("invalid_request_error", Some("resource_missing"))
            if error.param.as_deref() == Some("payment_method") || status.as_u16() == 404 =>
        {
            Error::invalid("payment_token", "Stripe does not know this payment method")
        }
        ("invalid_request_error", _) if status.as_u16() != 401 && status.as_u16() != 403 => {
            Error::invalid("payment", format!("Stripe refused the request: {message}"))
        }
        _ => Error::Unavailable(anyhow::anyhow!(
            "Stripe refused the call ({status}): {message}"
        )),
    }
}

fn minor(amount: Decimal, currency: &str) -> Result<String, Error> {
    to_minor(amount, currency)
        .map(|m| m.to_string())
        .ok_or_else(|| Error::invalid("amount", "has more decimals than the currency allows"))
}

impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn authorize<'a>(
        &'a self,
        request: AuthorizeRequest<'a>,
    ) -> BoxFuture<'a, Result<Authorization, Error>> {
        Box::pin(async move {
            let form = [
                ("amount", minor(request.amount, request.currency)?),
                ("currency", request.currency.to_lowercase()),
                (
                    "payment_method",
                    request
                        .token
                        .provider_token
                        .clone()
                        .unwrap_or_else(|| request.token.id.clone()),
                ),
                ("confirm", "true".to_owned()),
                (
                    "capture_method",
                    if request.capture {
                        "automatic"
                    } else {
                        "manual"
                    }
                    .to_owned(),
                ),
                // No redirect-based methods: the server cannot send a shopper anywhere.
                ("automatic_payment_methods[enabled]", "true".to_owned()),
                (
                    "automatic_payment_methods[allow_redirects]",
                    "never".to_owned(),
                ),
                (
                    "metadata[stateset_payment_id]",
                    request.payment_id.to_string(),
                ),
            ];
            let intent: PaymentIntent = self
                .call(
                    reqwest::Method::POST,
                    "/v1/payment_intents",
                    &form,
                    Some(request.idempotency_key),
                )
                .await?;
            match intent.status.as_str() {
                "succeeded" => Ok(Authorization {
                    reference: intent.id,
                    captured: true,
                }),
                "requires_capture" => Ok(Authorization {
                    reference: intent.id,
                    captured: false,
                }),
                "requires_action" => {
                    // 3-D Secure needs the shopper; let go of the intent and say so. If the
                    // cancel fails, the intent lapses at Stripe unconfirmed: nothing is taken.
                    let cancel_key = format!("{}_cancel", request.idempotency_key);
                    if let Err(err) = self.void(&intent.id, &cancel_key).await {
                        tracing::warn!(error = %err, intent = %intent.id, "cannot cancel an intent that needs 3-D Secure");
                    }
                    Err(Error::PaymentDeclined {
                        decline_code: "authentication_required".to_owned(),
                    })
                }
                _ => Err(Error::PaymentDeclined {
                    decline_code: intent
                        .last_payment_error
                        .and_then(|e| e.decline_code.or(e.code))
                        .unwrap_or_else(|| "payment_failed".to_owned()),
                }),
            }
        })
    }

    fn capture<'a>(
        &'a self,
        reference: &'a str,
        amount: Decimal,
        currency: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let amount = minor(amount, currency)?;
            let _: PaymentIntent = self
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/payment_intents/{reference}/capture"),
                    &[("amount_to_capture", amount)],
                    Some(idempotency_key),
                )
                .await?;
            Ok(())
        })
    }

    fn void<'a>(
        &'a self,
        reference: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let _: PaymentIntent = self
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/payment_intents/{reference}/cancel"),
                    &[],
                    Some(idempotency_key),
                )
                .await?;
            Ok(())
        })
    }

    fn refund<'a>(
        &'a self,
        reference: &'a str,
        amount: Decimal,
        currency: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async move {
            let form = [
                ("payment_intent", reference.to_owned()),
                ("amount", minor(amount, currency)?),
            ];
            let refund: Refund = self
                .call(
                    reqwest::Method::POST,
                    "/v1/refunds",
                    &form,
                    Some(idempotency_key),
                )
                .await?;
            Ok(refund.id)
        })
    }

    /// The `Stripe-Signature` header must sign the raw body with the configured secret within
    /// five minutes.
    fn webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<ProviderWebhook, Error> {
        let Some(secret) = self.webhook_secret.as_deref() else {
            return Err(Error::Unavailable(anyhow::anyhow!(
                "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"
            )));
        };
        let header = signature.ok_or_else(|| Error::invalid("Stripe-Signature", "is required"))?;
        crate::auth::signature::verify(
            secret,
            header,
            body,
            Utc::now().timestamp(),
            WEBHOOK_TOLERANCE_SECS,
        )
        .map_err(|why| Error::invalid("Stripe-Signature", why.to_string()))?;
        let event: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid("body", format!("is not a Stripe event: {e}")))?;
        let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
            return Err(Error::invalid(
                "body",
                "a Stripe event has an `id` and a `type`",
            ));
        };
        let object = &event["data"]["object"];
        let currency = object["currency"].as_str().unwrap_or("usd");
        let amount = |field: &str| object[field].as_i64().map(|a| from_minor(a, currency));
        let reference = |field: &str| object[field].as_str().map(str::to_owned);
        let event = match kind {
            "payment_intent.succeeded" => {
                reference("id").map(|reference| ProviderEvent::Succeeded {
                    reference,
                    amount: amount("amount_received"),
                })
            }
            "payment_intent.payment_failed" => {
                reference("id").map(|reference| ProviderEvent::Failed {
                    reference,
                    code: object["last_payment_error"]["decline_code"]
                        .as_str()
                        .or(object["last_payment_error"]["code"].as_str())
                        .map(str::to_owned),
                })
            }
            "charge.refunded" => {
                reference("payment_intent").map(|reference| ProviderEvent::Refunded {
                    reference,
                    amount: amount("amount_refunded"),
                })
            }
            _ => None,
        };
        Ok(ProviderWebhook {
            id: id.to_owned(),
            kind: kind.to_owned(),
            event,
        })
    }
}
