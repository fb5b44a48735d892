//! A carrier reached over HTTP: [`HttpCarrier`] speaks a small JSON protocol to a carrier
//! bridge at a configured base URL, so a live carrier (or an aggregator) plugs in by running
//! a bridge that implements it, without any change to the services.
//!
//! # The protocol (the contract a carrier bridge implements)
//!
//! Every request goes to `{base}/...` (the base URL may carry a path of its own), carries
//! `Authorization: Bearer <api key>` when a key is configured, and sends and receives JSON.
//! Amounts are decimal strings (`"12.30"`), dates `YYYY-MM-DD`, instants RFC 3339.
//!
//! - `POST {base}/rates` with a [`RateRequest`] (`origin`, `destination`, `parcels` of
//!   `{weight_grams, length_mm, width_mm, height_mm}`, `signature`, `ship_date`) answers
//!   `200 {"rates": [{"service", "service_name", "price": {"amount", "currency"},
//!   "estimated_delivery", "guaranteed"}]}`; an empty list when nothing can carry it.
//! - `POST {base}/labels` with a [`LabelRequest`] and the header `Idempotency-Key` (the
//!   request's `idempotency_key`, also in the body) answers `200 {"tracking_number",
//!   "label_id", "label_pdf_base64", "price": {...} | null}`. A second request with a key
//!   already seen must answer the same label without selling another.
//! - `POST {base}/labels/{label_id}/void` (the id percent-encoded as one path segment)
//!   answers any 2xx. Voiding a label already void must answer 2xx again: the call is retried.
//! - `GET {base}/tracking/{tracking_number}` answers `200 {"events": [{"event_id", "code",
//!   "occurred_at", "location", "description", "signed_by"}]}`, or 404 when the carrier does
//!   not know the number (yet), which reads as no events.
//!
//! Failures: a 4xx (other than 401, 403, 404, 408, 409 and 429) is the carrier refusing the
//! request, with an optional body `{"error": {"field": "destination.postal_code" | null,
//! "message": "..."}}`; it becomes a VALIDATION error on that field (`carrier` when none).
//! A network failure, a timeout, 408, 429 or a 5xx is tried once more after 200 ms with the
//! same body and `Idempotency-Key`, then is UNAVAILABLE, as are 401/403 (our credentials are
//! wrong, which the caller cannot fix), 409 (a request with the same key still in progress at
//! the carrier: the purchase is in doubt), a 404 outside tracking (no such endpoint: the base URL
//! is wrong), and a 2xx whose body does not parse or whose label is not a PDF.
//!
//! The API key goes only into the `Authorization` header (which reqwest marks sensitive):
//! it is never logged, never part of an error, and URLs are stripped from logged errors.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use futures::future::BoxFuture;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{BoughtLabel, Carrier, CarrierEvent, LabelRequest, Quote, RateRequest};
use crate::services::Error;
use stateset_domain::Money;

/// How long to wait before the one retry of a failed call.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// The largest answer read: a label PDF is tens of kilobytes, so anything near this is a
/// misbehaving bridge, and reading it whole would only cost memory.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What every PDF starts with.
const PDF_MAGIC: &[u8] = b"%PDF-";

/// A carrier behind the HTTP protocol described in the module documentation.
pub struct HttpCarrier {
    http: reqwest::Client,
    /// The carrier's code, named in errors and logs.
    code: String,
    /// The base URL; endpoint paths are appended to its path segments.
    base: Url,
    /// Sent as a bearer token; never logged.
    api_key: Option<String>,
}

impl fmt::Debug for HttpCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-written so the API key can never reach a log through `{:?}`.
        f.debug_struct("HttpCarrier")
            .field("code", &self.code)
            .field("base", &self.base.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The answer to `POST /rates`.
#[derive(Deserialize)]
struct RatesAnswer {
    rates: Vec<Quote>,
}

/// The answer to `POST /labels`.
#[derive(Deserialize)]
struct LabelAnswer {
    tracking_number: String,
    label_id: String,
    label_pdf_base64: String,
    #[serde(default)]
    price: Option<Money>,
}

/// The answer to `GET /tracking/{number}`.
#[derive(Deserialize)]
struct TrackingAnswer {
    events: Vec<CarrierEvent>,
}

/// The body of a refusal (a 4xx).
#[derive(Deserialize)]
struct RefusalEnvelope {
    error: Refusal,
}

#[derive(Deserialize)]
struct Refusal {
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What a call came back with, short of an error.
enum Answer {
    /// A 2xx with its body.
    Body(Vec<u8>),
    /// A 404: the caller decides whether that means "nothing" or a misconfiguration.
    NotFound,
}

/// Why one attempt failed in a way worth one more try.
struct Transient(anyhow::Error);

impl HttpCarrier {
    /// A client for the carrier `code` at `base_url` (http or https, no query or fragment),
    /// each call bounded by `timeout` (connecting, sending and reading the answer).
    ///
    /// # Errors
    /// When the base URL is not a usable http(s) URL, or the HTTP client cannot be built.
    pub fn new(
        code: &str,
        base_url: &str,
        api_key: Option<String>,
        timeout: Duration,
    ) -> Result<Self, anyhow::Error> {
        let base = Url::parse(base_url)
            .map_err(|err| anyhow::anyhow!("carrier {code}: the base URL is not a URL: {err}"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            anyhow::bail!("carrier {code}: the base URL must be an http or https URL");
        }
        if base.query().is_some() || base.fragment().is_some() {
            anyhow::bail!("carrier {code}: the base URL must not have a query or a fragment");
        }
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                // A redirect would resend the bearer token somewhere nobody configured.
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            code: code.to_owned(),
            base,
            api_key,
        })
    }

    /// The carrier's code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The base URL with `segments` appended, each percent-encoded as one segment.
    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::Internal(anyhow::anyhow!(
                    "carrier {}: the base URL takes no path",
                    self.code
                ))
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends one call; a network failure, timeout, 408, 429 or 5xx is tried once more after
    /// [`RETRY_DELAY`] with the same body and idempotency key.
    async fn call(
        &self,
        method: Method,
        url: Url,
        operation: &'static str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, Error> {
        let mut last_failure = None;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(RETRY_DELAY).await;
            }
            match self
                .attempt(
                    method.clone(),
                    url.clone(),
                    operation,
                    body.clone(),
                    idempotency_key,
                )
                .await
            {
                Ok(answer) => return answer,
                Err(Transient(failure)) => last_failure = Some(failure),
            }
        }
        Err(Error::Unavailable(last_failure.unwrap_or_else(|| {
            anyhow::anyhow!("carrier {} is unreachable", self.code)
        })))
    }

    /// One attempt: `Err` for a failure worth retrying, `Ok` with the final outcome otherwise.
    async fn attempt(
        &self,
        method: Method,
        url: Url,
        operation: &'static str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<Result<Answer, Error>, Transient> {
        let mut request = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(key) = self.api_key.as_deref() {
            request = request.bearer_auth(key);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let unreachable = |err: reqwest::Error| {
            tracing::warn!(
                carrier.code = %self.code,
                carrier.operation = operation,
                timed_out = err.is_timeout(),
                error = %err.without_url(),
                "carrier is unreachable"
            );
            Transient(anyhow::anyhow!("carrier {} is unreachable", self.code))
        };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        // The whole answer is read before it is judged, also for a failure: a connection cut
        // halfway through is as unreachable as one never made.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Ok(Err(Error::Unavailable(anyhow::anyhow!(
                    "carrier {} answered {operation} with more than {MAX_BODY_BYTES} bytes",
                    self.code
                ))));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(Ok(Answer::Body(bytes)));
        }
        match status {
            StatusCode::NOT_FOUND => Ok(Ok(Answer::NotFound)),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                Err(self.failed(status, operation))
            }
            s if s.is_server_error() => Err(self.failed(status, operation)),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                tracing::warn!(
                    carrier.code = %self.code,
                    carrier.operation = operation,
                    status = status.as_u16(),
                    "the carrier refuses our credentials"
                );
                Ok(Err(Error::Unavailable(anyhow::anyhow!(
                    "carrier {} refused our credentials ({status})",
                    self.code
                ))))
            }
            // The same key still being worked on there: the purchase is in doubt, not refused
            // (it is repeated with the key later, never recorded as failed).
            StatusCode::CONFLICT => Ok(Err(Error::Unavailable(anyhow::anyhow!(
                "carrier {} is still working on this request ({status})",
                self.code
            )))),
            s if s.is_client_error() => Ok(Err(self.refusal(status, &bytes))),
            // 1xx and 3xx (redirects are not followed): nothing this protocol answers.
            _ => Ok(Err(Error::Unavailable(anyhow::anyhow!(
                "carrier {} answered {status}",
                self.code
            )))),
        }
    }

    /// A 408, 429 or 5xx, logged and kept for the error the last attempt reports.
    fn failed(&self, status: StatusCode, operation: &'static str) -> Transient {
        tracing::warn!(
            carrier.code = %self.code,
            carrier.operation = operation,
            status = status.as_u16(),
            "carrier failed"
        );
        Transient(anyhow::anyhow!("carrier {} answered {status}", self.code))
    }

    /// The carrier refused the request: the field and message it gave, when it gave them.
    fn refusal(&self, status: StatusCode, body: &[u8]) -> Error {
        let refusal = serde_json::from_slice::<RefusalEnvelope>(body)
            .ok()
            .map(|envelope| envelope.error);
        let message = refusal
            .as_ref()
            .and_then(|r| r.message.as_deref())
            .map(str::trim)
            .filter(|m| !m.is_empty());
        match message {
            Some(message) => {
                let field = refusal
                    .as_ref()
                    .and_then(|r| r.field.as_deref())
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .unwrap_or("carrier");
                Error::invalid(field, message)
            }
            None => Error::invalid(
                "carrier",
                format!("{} refused the request ({status})", self.code),
            ),
        }
    }

    /// Parses a 2xx body; one that does not parse means the carrier is not working for us.
    fn parse<T: DeserializeOwned>(&self, operation: &str, body: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(body).map_err(|err| {
            Error::Unavailable(anyhow::anyhow!(
                "carrier {} answered {operation} unexpectedly: {err}",
                self.code
            ))
        })
    }

    /// The body of a 2xx; a 404 where the endpoint must exist means the base URL is wrong.
    fn body(&self, answer: Answer) -> Result<Vec<u8>, Error> {
        match answer {
            Answer::Body(body) => Ok(body),
            Answer::NotFound => Err(Error::Unavailable(anyhow::anyhow!(
                "carrier {} answered {}",
                self.code,
                StatusCode::NOT_FOUND
            ))),
        }
    }

    /// A price the carrier quoted, checked as any amount the server keeps.
    fn price(&self, price: Money) -> Result<Money, Error> {
        price.parse().map_err(|problems| {
            let reasons = problems
                .iter()
                .map(|(part, message)| format!("{part} {message}"))
                .collect::<Vec<_>>()
                .join(", ");
            Error::Unavailable(anyhow::anyhow!(
                "carrier {} answered a price that is not money: {reasons}",
                self.code
            ))
        })
    }

    /// `value` serialized as a request body.
    fn json(value: &impl serde::Serialize) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(value)
            .map_err(|err| Error::Internal(anyhow::anyhow!("serializing a carrier request: {err}")))
    }
}

/// Refuses an id that cannot stand as one path segment: the URL parser drops `.` and `..`,
/// and an empty one would name another endpoint.
fn segment<'a>(field: &str, id: &'a str) -> Result<&'a str, Error> {
    if matches!(id, "" | "." | "..") {
        return Err(Error::invalid(
            field,
            "is not an id the carrier can be asked about",
        ));
    }
    Ok(id)
}

impl Carrier for HttpCarrier {
    fn rate<'a>(&'a self, request: &'a RateRequest) -> BoxFuture<'a, Result<Vec<Quote>, Error>> {
        Box::pin(async move {
            let url = self.url(&["rates"])?;
            let answer = self
                .call(Method::POST, url, "rates", Some(Self::json(request)?), None)
                .await?;
            let answer: RatesAnswer = self.parse("rates", &self.body(answer)?)?;
            answer
                .rates
                .into_iter()
                .map(|quote| {
                    Ok(Quote {
                        price: self.price(quote.price)?,
                        ..quote
                    })
                })
                .collect()
        })
    }

    fn buy_label<'a>(
        &'a self,
        request: &'a LabelRequest,
    ) -> BoxFuture<'a, Result<BoughtLabel, Error>> {
        Box::pin(async move {
            let url = self.url(&["labels"])?;
            let answer = self
                .call(
                    Method::POST,
                    url,
                    "labels",
                    Some(Self::json(request)?),
                    Some(&request.idempotency_key),
                )
                .await?;
            let answer: LabelAnswer = self.parse("labels", &self.body(answer)?)?;
            let unusable = |what: &str| {
                Error::Unavailable(anyhow::anyhow!(
                    "carrier {} answered with {what}",
                    self.code
                ))
            };
            if answer.tracking_number.trim().is_empty() || answer.label_id.trim().is_empty() {
                return Err(unusable("a label without a tracking number or label id"));
            }
            // Some encoders wrap base64 in lines; the alphabet has no whitespace, so dropping
            // it loses nothing.
            let encoded: Vec<u8> = answer
                .label_pdf_base64
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let pdf = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| unusable("a label that is not base64"))?;
            if !pdf.starts_with(PDF_MAGIC) {
                return Err(unusable("something that is not a PDF"));
            }
            Ok(BoughtLabel {
                tracking_number: answer.tracking_number,
                carrier_label_id: answer.label_id,
                pdf,
                price: answer.price.map(|p| self.price(p)).transpose()?,
            })
        })
    }

    fn void_label<'a>(&'a self, carrier_label_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = segment("carrier_label_id", carrier_label_id)?;
            let url = self.url(&["labels", id, "void"])?;
            let answer = self.call(Method::POST, url, "void", None, None).await?;
            self.body(answer).map(drop)
        })
    }

    fn track<'a>(
        &'a self,
        tracking_number: &'a str,
    ) -> BoxFuture<'a, Result<Vec<CarrierEvent>, Error>> {
        Box::pin(async move {
            let number = segment("tracking_number", tracking_number)?;
            let url = self.url(&["tracking", number])?;
            match self.call(Method::GET, url, "tracking", None, None).await? {
                Answer::Body(body) => Ok(self.parse::<TrackingAnswer>("tracking", &body)?.events),
                // The carrier does not know the number yet: nothing has happened to it.
                Answer::NotFound => Ok(Vec::new()),
            }
        })
    }
}
