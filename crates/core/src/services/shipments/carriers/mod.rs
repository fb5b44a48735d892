//! Carriers behind one trait: rate a shipment, buy a label, void it, track a parcel. The
//! shipment service only ever talks to [`Carrier`]; which adapter answers is the carrier
//! record's choice: the built-in [`TableCarrier`] rates from the merchant's rate table and
//! renders its own labels, and [`http::HttpCarrier`] speaks JSON to a carrier API at a
//! configured base URL (a live carrier plugs in there without touching services).

pub mod http;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::label::{self, LabelContent};
use crate::services::Error;
use stateset_domain::rating::{Parcel, RateTable, add_business_days};
use stateset_domain::tracking::{CarrierKind, generate_tracking_number};
use stateset_domain::{Address, Money, SignatureRequirement};

/// What to rate: the parcels of one shipment between two addresses.
#[derive(Debug, Clone, Serialize)]
pub struct RateRequest {
    pub origin: Address,
    pub destination: Address,
    #[serde(serialize_with = "parcels_json")]
    pub parcels: Vec<Parcel>,
    pub signature: SignatureRequirement,
    /// The day the parcels are handed over.
    pub ship_date: NaiveDate,
}

fn parcel_json(p: &Parcel) -> serde_json::Value {
    serde_json::json!({ "weight_grams": p.weight_grams, "length_mm": p.length_mm,
        "width_mm": p.width_mm, "height_mm": p.height_mm })
}

fn parcels_json<S: serde::Serializer>(parcels: &[Parcel], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(parcels.iter().map(parcel_json))
}

fn one_parcel_json<S: serde::Serializer>(parcel: &Parcel, s: S) -> Result<S::Ok, S::Error> {
    parcel_json(parcel).serialize(s)
}

/// One service a carrier offers for a shipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub service: String,
    pub service_name: String,
    pub price: Money,
    pub estimated_delivery: NaiveDate,
    /// Whether the carrier guarantees `estimated_delivery`.
    pub guaranteed: bool,
}

/// A label to buy for one package.
#[derive(Debug, Clone, Serialize)]
pub struct LabelRequest {
    /// The same key for every retry of this purchase: a carrier that sees it twice sells
    /// one label.
    pub idempotency_key: String,
    /// A number unique to this purchase, kept with it (the built-in carrier derives the
    /// tracking number from it, so a retry issues the same number).
    pub sequence: u64,
    /// The shipment's number, printed as the reference.
    pub reference: String,
    /// `(position, count)` of the package within its shipment.
    pub package: (usize, usize),
    pub origin: Address,
    pub destination: Address,
    #[serde(serialize_with = "one_parcel_json")]
    pub parcel: Parcel,
    pub service: String,
    pub signature: SignatureRequirement,
}

/// A label the carrier sold.
#[derive(Debug, Clone, PartialEq)]
pub struct BoughtLabel {
    pub tracking_number: String,
    /// The carrier's id for the label (what voiding names).
    pub carrier_label_id: String,
    /// The printable label, a PDF.
    pub pdf: Vec<u8>,
    /// What the carrier charged for it, when it says.
    pub price: Option<Money>,
}

/// A tracking event in the carrier's own words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarrierEvent {
    /// The carrier's id of the event: the same id twice is the same event.
    pub event_id: String,
    /// The carrier's status code, mapped onto the canonical vocabulary by the service.
    pub code: String,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// Who signed, on a delivery.
    pub signed_by: Option<String>,
}

/// A parcel carrier. Failures are [`Error`]s: `Unavailable` when the carrier cannot be
/// reached or fails, `Validation` when it refuses the request.
pub trait Carrier: Send + Sync {
    /// Every service and price for the shipment (empty when none can carry it).
    fn rate<'a>(&'a self, request: &'a RateRequest) -> BoxFuture<'a, Result<Vec<Quote>, Error>>;

    /// Buys a label for one package; the same `idempotency_key` never buys twice.
    fn buy_label<'a>(
        &'a self,
        request: &'a LabelRequest,
    ) -> BoxFuture<'a, Result<BoughtLabel, Error>>;

    /// Voids a label bought and not yet used.
    fn void_label<'a>(&'a self, carrier_label_id: &'a str) -> BoxFuture<'a, Result<(), Error>>;

    /// The carrier's events for a tracking number, as it reports them now.
    fn track<'a>(
        &'a self,
        tracking_number: &'a str,
    ) -> BoxFuture<'a, Result<Vec<CarrierEvent>, Error>>;
}

/// The built-in carrier: prices from the merchant's rate table, labels rendered here with a
/// tracking number in the carrier's own format. It learns of tracking events only through
/// the API and the carrier webhook, so `track` reports none.
pub struct TableCarrier {
    /// `None` for a custom carrier.
    pub kind: Option<CarrierKind>,
    /// The carrier's code (prefix of a custom carrier's tracking numbers).
    pub code: String,
    /// Printed on labels.
    pub name: String,
    pub table: RateTable,
}

impl TableCarrier {
    fn tracking_number(&self, sequence: u64) -> String {
        match self.kind {
            Some(kind) => generate_tracking_number(kind, sequence),
            None => format!(
                "{}{sequence:012}",
                self.code.to_ascii_uppercase().replace('_', "")
            ),
        }
    }
}

impl Carrier for TableCarrier {
    fn rate<'a>(&'a self, request: &'a RateRequest) -> BoxFuture<'a, Result<Vec<Quote>, Error>> {
        let quotes = self
            .table
            .quote(
                &request.origin,
                &request.destination,
                &request.parcels,
                request.signature,
            )
            .into_iter()
            .map(|q| Quote {
                estimated_delivery: add_business_days(request.ship_date, q.business_days),
                service: q.service,
                service_name: q.service_name,
                price: q.price,
                guaranteed: q.guaranteed,
            })
            .collect();
        Box::pin(async move { Ok(quotes) })
    }

    fn buy_label<'a>(
        &'a self,
        request: &'a LabelRequest,
    ) -> BoxFuture<'a, Result<BoughtLabel, Error>> {
        Box::pin(async move {
            // The signature surcharge is once per shipment (as rated): on its first package.
            let signature = if request.package.0 <= 1 {
                request.signature
            } else {
                SignatureRequirement::None
            };
            let quote = self
                .table
                .quote(
                    &request.origin,
                    &request.destination,
                    std::slice::from_ref(&request.parcel),
                    signature,
                )
                .into_iter()
                .find(|q| q.service == request.service)
                .ok_or_else(|| {
                    Error::invalid(
                        "service",
                        format!(
                            "{} does not carry this package there with `{}`",
                            self.name, request.service
                        ),
                    )
                })?;
            let tracking_number = self.tracking_number(request.sequence);
            let content = LabelContent {
                from: &request.origin,
                to: &request.destination,
                carrier_name: &self.name,
                service: &quote.service_name,
                weight_grams: request.parcel.weight_grams,
                signature: request.signature.as_str(),
                tracking_number: &tracking_number,
                reference: &request.reference,
                package: request.package,
            };
            let pdf = label::render(&content).map_err(|reason| {
                Error::Internal(anyhow::anyhow!("rendering a label: {reason}"))
            })?;
            Ok(BoughtLabel {
                carrier_label_id: tracking_number.clone(),
                tracking_number,
                pdf,
                price: Some(quote.price),
            })
        })
    }

    fn void_label<'a>(&'a self, _carrier_label_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        // Nothing was bought from anyone: the record of the label is all there is to void.
        Box::pin(async { Ok(()) })
    }

    fn track<'a>(
        &'a self,
        _tracking_number: &'a str,
    ) -> BoxFuture<'a, Result<Vec<CarrierEvent>, Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
