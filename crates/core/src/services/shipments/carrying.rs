//! Carriers (made, changed, listed), rate shopping across all of them at once, and labels
//! bought exactly once per package.
//!
//! A label purchase is written down (with its idempotency key and sequence number) before
//! the carrier is called and settled after, with no lock held across the call; a retry finds
//! the purchase in doubt and repeats it with the same key, so the carrier sells one label.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use super::carriers::http::HttpCarrier;
use super::carriers::{self as adapters, LabelRequest, RateRequest, TableCarrier};
use super::*;
use stateset_db::carriers::{
    self as carrier_q, CarrierChanges, CarrierRow, LabelChanges, LabelRow,
};
use stateset_db::inventory as inventory_q;
use stateset_domain::fulfillment::choose_rate;
use stateset_domain::rating::{Parcel, RateTable, add_business_days};
use stateset_domain::tracking::{CarrierKind, validate_tracking_number};
use stateset_domain::{
    Carrier, CarrierAdapter, CarrierFailure, CreatedCarrier, LabelStatus, RateChoice, RateShopping,
    ShipmentRate,
};

/// A carrier to ship with.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "CreateCarrierInput")]
pub struct CreateCarrierInput {
    /// Unique: lowercase letters, digits and `_`, up to 50 (e.g. `ups`, `local_courier`).
    pub code: String,
    pub name: String,
    /// Whose tracking numbers and event codes apply; omitted for a custom carrier.
    pub kind: Option<CarrierKind>,
    pub adapter: CarrierAdapter,
    /// Default true.
    pub enabled: Option<bool>,
    /// Required for `http`: the carrier bridge's base URL (`http://` or `https://`).
    pub base_url: Option<String>,
    /// Sent as a bearer token to an `http` carrier; never shown again.
    pub api_key: Option<String>,
    /// 100 to 60,000 ms (default 5,000).
    pub timeout_ms: Option<i32>,
    /// Required for `table`: the prices.
    pub rate_table: Option<RateTable>,
}

/// Changes to a carrier; what is left out stays.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "UpdateCarrierInput")]
pub struct UpdateCarrierInput {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub timeout_ms: Option<i32>,
    pub rate_table: Option<RateTable>,
}

/// Which label to buy for every package of a shipment that has none: a carrier's service,
/// or the rate a choice picks among all carriers' rates.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "BuyLabelsInput")]
pub struct BuyLabelsInput {
    /// With `service`: this carrier's code.
    pub carrier: Option<String>,
    pub service: Option<String>,
    /// Instead of `carrier` and `service`: rate-shop and take this pick.
    pub choice: Option<RateChoice>,
}

/// How long one attempt holds a label purchase before another may repeat it: above any
/// carrier timeout (60 s at most) and its one retry.
const LABEL_LEASE_SECS: i64 = 150;

fn carrier_view(row: &CarrierRow) -> Carrier {
    Carrier {
        id: row.id,
        code: row.code.clone(),
        name: row.name.clone(),
        kind: row.kind.as_deref().and_then(CarrierKind::parse),
        adapter: CarrierAdapter::parse(&row.adapter).unwrap_or(CarrierAdapter::Table),
        enabled: row.enabled,
        base_url: row.base_url.clone(),
        has_api_key: row.api_key.is_some(),
        timeout_ms: row.timeout_ms,
        rate_table: row
            .rate_table
            .clone()
            .and_then(|t| serde_json::from_value(t).ok()),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The adapter that speaks for a carrier record.
pub(super) fn adapter_for(row: &CarrierRow) -> Result<Arc<dyn adapters::Carrier>, Error> {
    let timeout = Duration::from_millis(u64::try_from(row.timeout_ms).unwrap_or(5_000));
    match CarrierAdapter::parse(&row.adapter) {
        Some(CarrierAdapter::Http) => {
            let base = row.base_url.as_deref().unwrap_or_default();
            let carrier = HttpCarrier::new(&row.code, base, row.api_key.clone(), timeout)
                .map_err(Error::Internal)?;
            Ok(Arc::new(carrier))
        }
        _ => {
            let table = row
                .rate_table
                .clone()
                .and_then(|t| serde_json::from_value::<RateTable>(t).ok())
                .ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!(
                        "carrier {} has no readable rate table",
                        row.code
                    ))
                })?;
            Ok(Arc::new(TableCarrier {
                kind: row.kind.as_deref().and_then(CarrierKind::parse),
                code: row.code.clone(),
                name: row.name.clone(),
                table,
            }))
        }
    }
}

fn check_base_url(v: &mut Validator, url: &str) {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 500
        && reqwest::Url::parse(url).is_ok();
    if !ok {
        v.add("base_url", "must be an http:// or https:// URL");
    }
}

fn check_table(v: &mut Validator, table: &RateTable) {
    for (field, message) in table.problems() {
        v.add(format!("rate_table.{field}"), message);
    }
}

fn check_timeout(v: &mut Validator, timeout_ms: Option<i32>) {
    if timeout_ms.is_some_and(|t| !(100..=60_000).contains(&t)) {
        v.add("timeout_ms", "must be 100 to 60000");
    }
}

/// The kind whose tracking numbers a shipment's carrier code uses: the carrier record's, or
/// the code itself when it names a known carrier (a label bought elsewhere).
pub(super) fn kind_of(carriers: &[CarrierRow], code: Option<&str>) -> Option<CarrierKind> {
    let code = code?;
    carriers
        .iter()
        .find(|c| c.code == code)
        .and_then(|c| c.kind.as_deref().and_then(CarrierKind::parse))
        .or_else(|| CarrierKind::parse(code))
}

/// Checks tracking numbers typed in for packages against the carrier's format, returning
/// them normalised.
pub(super) fn check_tracking_numbers(
    v: &mut Validator,
    field: &str,
    kind: Option<CarrierKind>,
    packages: &mut [PackageInput],
) {
    let Some(kind) = kind else { return };
    for (i, p) in packages.iter_mut().enumerate() {
        if let Some(number) = &p.tracking_number {
            match validate_tracking_number(kind, number) {
                Ok(normal) => p.tracking_number = Some(normal),
                Err(reason) => v.add(format!("{field}[{i}].tracking_number"), reason),
            }
        }
    }
}

/// What a label request needs to know of a shipment.
struct Shippable {
    shipment: ShipmentRow,
    packages: Vec<PackageRow>,
    origin: Address,
    destination: Address,
}

/// The shipment with what rating and labels need: packages, the location's address, the
/// address it goes to. A shipment that has left, or is cancelled, has nothing to buy.
async fn shippable(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Shippable, Error> {
    let shipment = q::shipment_by_id(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("shipment", id))?;
    if shipment.status.has_left() || shipment.status == ShipmentStatus::Cancelled {
        return Err(invalid(shipment.status, "buy labels"));
    }
    let packages = q::packages_of(conn, &[id]).await?;
    if packages.is_empty() {
        return Err(Error::invalid(
            "packages",
            "add the shipment's packages first",
        ));
    }
    let location = inventory_q::location_by_id(conn, shipment.location_id)
        .await?
        .ok_or_else(|| Error::not_found("location", shipment.location_id))?;
    let origin = location.ship_from().ok_or_else(|| {
        Error::invalid(
            "location.address",
            format!("location {} has no address to ship from", location.code),
        )
    })?;
    let destination = shipment
        .ship_to
        .clone()
        .and_then(|a| serde_json::from_value::<Address>(a).ok())
        .ok_or_else(|| Error::invalid("ship_to", "the order has no shipping address"))?;
    Ok(Shippable {
        shipment,
        packages,
        origin,
        destination,
    })
}

fn parcel(p: &PackageRow) -> Parcel {
    Parcel {
        weight_grams: p.weight_grams,
        length_mm: p.length_mm,
        width_mm: p.width_mm,
        height_mm: p.height_mm,
    }
}

impl ShipmentService {
    /// Adds a carrier; the answer carries the secret its webhooks are signed with, once.
    pub async fn create_carrier(
        &self,
        ctx: &Ctx,
        input: CreateCarrierInput,
    ) -> Result<CreatedCarrier, Error> {
        ctx.authorize("shipments:manage")?;
        let mut v = Validator::default();
        let code = carrier_code(&mut v, "code", Some(&input.code)).unwrap_or_default();
        let name = optional_text(&mut v, "name", Some(&input.name), 100).unwrap_or_default();
        if name.is_empty() {
            v.add("name", "must not be empty");
        }
        check_timeout(&mut v, input.timeout_ms);
        match input.adapter {
            CarrierAdapter::Http => match &input.base_url {
                Some(url) => check_base_url(&mut v, url),
                None => v.add("base_url", "is required for an http carrier"),
            },
            CarrierAdapter::Table => match &input.rate_table {
                Some(table) => check_table(&mut v, table),
                None => v.add("rate_table", "is required for a table carrier"),
            },
        }
        v.finish()?;
        let now = Utc::now();
        let row = CarrierRow {
            id: Uuid::now_v7(),
            code,
            name,
            kind: input.kind.map(|k| k.as_str().to_owned()),
            adapter: input.adapter.as_str().to_owned(),
            enabled: input.enabled.unwrap_or(true),
            base_url: input.base_url.map(|u| u.trim_end_matches('/').to_owned()),
            api_key: input.api_key.filter(|k| !k.is_empty()),
            webhook_secret: format!("cwhsec_{}", crate::auth::random_token(40)),
            timeout_ms: input.timeout_ms.unwrap_or(5_000),
            rate_table: input
                .rate_table
                .map(|t| serde_json::to_value(t).map_err(anyhow::Error::new))
                .transpose()?,
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.db.conn().await?;
        if carrier_q::count_carriers(&mut conn).await? >= carrier_q::MAX_CARRIERS {
            return Err(Error::Conflict {
                field: None,
                message: format!("a shop has at most {} carriers", carrier_q::MAX_CARRIERS),
            });
        }
        carrier_q::insert_carrier(&mut conn, &row)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Conflict { .. } => Error::Conflict {
                    field: Some("code".into()),
                    message: "a carrier with this code exists".into(),
                },
                other => other,
            })?;
        Ok(CreatedCarrier {
            carrier: carrier_view(&row),
            webhook_secret: row.webhook_secret,
        })
    }

    /// Changes a carrier.
    pub async fn update_carrier(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateCarrierInput,
    ) -> Result<Carrier, Error> {
        ctx.authorize("shipments:manage")?;
        let mut v = Validator::default();
        let name = input
            .name
            .as_deref()
            .and_then(|n| optional_text(&mut v, "name", Some(n), 100));
        check_timeout(&mut v, input.timeout_ms);
        if let Some(url) = &input.base_url {
            check_base_url(&mut v, url);
        }
        if let Some(table) = &input.rate_table {
            check_table(&mut v, table);
        }
        v.finish()?;
        let changes = CarrierChanges {
            name,
            enabled: input.enabled,
            base_url: input
                .base_url
                .map(|u| Some(u.trim_end_matches('/').to_owned())),
            api_key: input.api_key.map(|k| Some(k).filter(|k| !k.is_empty())),
            timeout_ms: input.timeout_ms,
            rate_table: input
                .rate_table
                .map(|t| {
                    serde_json::to_value(t)
                        .map(Some)
                        .map_err(anyhow::Error::new)
                })
                .transpose()?,
            updated_at: Some(Utc::now()),
        };
        let mut conn = self.db.conn().await?;
        let row = carrier_q::update_carrier(&mut conn, id, &changes)
            .await?
            .ok_or_else(|| Error::not_found("carrier", id))?;
        Ok(carrier_view(&row))
    }

    /// Every carrier (a shop has at most 50), by code; staff only.
    pub async fn list_carriers(&self, ctx: &Ctx) -> Result<Vec<Carrier>, Error> {
        // Carrier settings (bridge addresses, the merchant's prices) are the shop's own.
        ctx.authorize("shipments:manage")?;
        let mut conn = self.db.conn().await?;
        Ok(carrier_q::list_carriers(&mut conn)
            .await?
            .iter()
            .map(carrier_view)
            .collect())
    }

    pub async fn get_carrier(&self, ctx: &Ctx, id: Uuid) -> Result<Carrier, Error> {
        ctx.authorize("shipments:manage")?;
        let mut conn = self.db.conn().await?;
        let row = carrier_q::carrier_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("carrier", id))?;
        Ok(carrier_view(&row))
    }

    /// Asks every enabled carrier at once for the shipment's rates. A carrier that fails or
    /// does not answer within its timeout is listed under `failures`; the others still count.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, shipment.id = %id))]
    pub async fn shop_rates(&self, ctx: &Ctx, id: Uuid) -> Result<RateShopping, Error> {
        ctx.authorize("shipments:update")?;
        let (request, carriers, promised_by) = {
            let mut conn = self.db.conn().await?;
            let ship = shippable(&mut conn, id).await?;
            let carriers: Vec<CarrierRow> = carrier_q::list_carriers(&mut conn)
                .await?
                .into_iter()
                .filter(|c| c.enabled)
                .collect();
            let today = Utc::now().date_naive();
            let request = RateRequest {
                origin: ship.origin,
                destination: ship.destination,
                parcels: ship.packages.iter().map(parcel).collect(),
                signature: ship.shipment.signature,
                ship_date: today,
            };
            let promised_by = carrier_q::promise_of_order(&mut conn, ship.shipment.order_id)
                .await?
                .map(|(days, completed)| {
                    let from = completed.map_or(today, |c| c.date_naive());
                    add_business_days(from, days)
                });
            (request, carriers, promised_by)
        };
        // No connection is held while carriers are asked.
        let asks = carriers.iter().map(|row| {
            let request = &request;
            async move {
                let answer = match adapter_for(row) {
                    Err(err) => Err(err.to_string()),
                    Ok(adapter) => {
                        let wait =
                            Duration::from_millis(u64::try_from(row.timeout_ms).unwrap_or(5_000));
                        match tokio::time::timeout(wait, adapter.rate(request)).await {
                            Err(_) => Err(format!("no answer within {} ms", row.timeout_ms)),
                            Ok(Err(err)) => Err(err.to_string()),
                            Ok(Ok(quotes)) => Ok(quotes),
                        }
                    }
                };
                (row, answer)
            }
        });
        let mut rates = Vec::new();
        let mut failures = Vec::new();
        for (row, answer) in join_all(asks).await {
            match answer {
                Ok(quotes) => rates.extend(quotes.into_iter().map(|q| ShipmentRate {
                    carrier: row.code.clone(),
                    carrier_name: row.name.clone(),
                    service: q.service,
                    service_name: q.service_name,
                    price: q.price,
                    estimated_delivery: q.estimated_delivery,
                    guaranteed: q.guaranteed,
                })),
                Err(error) => {
                    tracing::warn!(carrier = %row.code, %error, "a carrier gave no rates");
                    failures.push(CarrierFailure {
                        carrier: row.code.clone(),
                        error,
                    });
                }
            }
        }
        rates.sort_by(|a, b| {
            (a.price.amount, a.estimated_delivery).cmp(&(b.price.amount, b.estimated_delivery))
        });
        let pick = |choice| choose_rate(&rates, choice, promised_by).cloned();
        Ok(RateShopping {
            shipment_id: id,
            cheapest: pick(RateChoice::Cheapest),
            fastest: pick(RateChoice::Fastest),
            best_value: pick(RateChoice::BestValue),
            rates,
            failures,
            promised_by,
        })
    }

    /// Buys a label for every package of the shipment that has none, from the carrier and
    /// service named or the rate a choice picks. Retrying never buys twice: a package with a
    /// label keeps it, and a purchase left in doubt is repeated with its idempotency key.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, shipment.id = %id))]
    pub async fn buy_labels(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: BuyLabelsInput,
    ) -> Result<Shipment, Error> {
        ctx.authorize("shipments:update")?;
        let (carrier_code, service) = match (input.choice, input.carrier, input.service) {
            (Some(choice), None, None) => {
                let shopping = self.shop_rates(ctx, id).await?;
                let picked = match choice {
                    RateChoice::Cheapest => shopping.cheapest,
                    RateChoice::Fastest => shopping.fastest,
                    RateChoice::BestValue => shopping.best_value,
                };
                let picked = picked.ok_or_else(|| {
                    Error::invalid("choice", format!("no rate is {}", choice.as_str()))
                })?;
                (picked.carrier, picked.service)
            }
            (None, Some(carrier), Some(service)) => (carrier, service),
            _ => {
                return Err(Error::invalid(
                    "choice",
                    "give either `choice`, or `carrier` and `service`",
                ));
            }
        };
        let mut conn = self.db.conn().await?;
        let carrier = carrier_q::carrier_by_code(&mut conn, &carrier_code)
            .await?
            .filter(|c| c.enabled)
            .ok_or_else(|| Error::invalid("carrier", "no such enabled carrier"))?;
        let adapter = adapter_for(&carrier)?;
        let ship = shippable(&mut conn, id).await?;
        drop(conn);
        let count = ship.packages.len();
        let mut failure = None;
        for package in &ship.packages {
            match self
                .buy_one(&carrier, &adapter, &service, &ship, package, count)
                .await
            {
                Ok(()) => {}
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        // What was bought is told either way; the error (if any) after.
        let shipment = self
            .db
            .tx("labels_bought", async |conn: &mut AsyncPgConnection| {
                let row = q::shipment_by_id(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("shipment", id))?;
                shipment_event(
                    conn,
                    EventType::ShipmentUpdated,
                    row,
                    serde_json::json!({ "action": "labels_purchased" }),
                )
                .await
            })
            .await?;
        match failure {
            Some(err) => Err(err),
            None => Ok(shipment),
        }
    }

    /// Buys (or settles) the label of one package; nothing when it has one.
    async fn buy_one(
        &self,
        carrier: &CarrierRow,
        adapter: &Arc<dyn adapters::Carrier>,
        service: &str,
        ship: &Shippable,
        package: &PackageRow,
        count: usize,
    ) -> Result<(), Error> {
        let id = ship.shipment.id;
        let now = Utc::now();
        // Written down before the carrier is asked: the key and the sequence survive a crash,
        // and the next attempt repeats this very purchase. The claim (`attempted_at`) keeps
        // two attempts from asking at once; the settlement below is fenced by it.
        let attempt = self
            .db
            .tx("label_attempt", async |conn: &mut AsyncPgConnection| {
                let shipment = q::lock_shipment(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("shipment", id))?;
                if shipment.status.has_left() || shipment.status == ShipmentStatus::Cancelled {
                    return Err(invalid(shipment.status, "buy labels"));
                }
                let live = carrier_q::lock_live_label(conn, package.id).await?;
                match live {
                    Some(label) if label.status == LabelStatus::Purchased.as_str() => Ok(None),
                    Some(label) if label.status == LabelStatus::Voiding.as_str() => Err(Error::Conflict {
                        field: None,
                        message: format!("the label of package {} is being voided", package.position),
                    }),
                    Some(pending) => {
                        let lease = now - chrono::Duration::seconds(LABEL_LEASE_SECS);
                        if !carrier_q::claim_label(conn, pending.id, now, lease).await? {
                            return Err(Error::IdempotencyInFlight { retry_after_secs: LABEL_LEASE_SECS as u64 });
                        }
                        Ok(Some(LabelRow { attempted_at: now, ..pending }))
                    }
                    None => {
                        // One carrier per shipment: its labels and its tracking agree.
                        let others = carrier_q::labels_of(conn, &[id]).await?;
                        if let Some(other) = others.iter().find(|l| {
                            l.carrier_id != carrier.id && LabelStatus::parse(&l.status).is_some_and(LabelStatus::is_live)
                        }) {
                            return Err(Error::Conflict {
                                field: Some("carrier".into()),
                                message: format!("this shipment has labels of another carrier (label {}); void them first", other.id),
                            });
                        }
                        let row = LabelRow {
                            id: Uuid::now_v7(),
                            shipment_id: id,
                            package_id: package.id,
                            carrier_id: carrier.id,
                            service: service.to_owned(),
                            idempotency_key: format!("label-{}", Uuid::now_v7()),
                            sequence: carrier_q::next_label_sequence(conn).await?,
                            status: LabelStatus::Pending.as_str().to_owned(),
                            attempted_at: now,
                            tracking_number: None,
                            carrier_label_id: None,
                            price: None,
                            currency: None,
                            pdf: None,
                            error: None,
                            created_at: now,
                            purchased_at: None,
                            voided_at: None,
                        };
                        carrier_q::insert_label(conn, &row).await?;
                        Ok(Some(row))
                    }
                }
            })
            .await?;
        let Some(attempt) = attempt else {
            return Ok(());
        };
        // A purchase in doubt is repeated exactly: its own carrier, service and key.
        let (attempt_carrier, attempt_adapter) = if attempt.carrier_id == carrier.id {
            (carrier.clone(), adapter.clone())
        } else {
            let mut conn = self.db.conn().await?;
            let original = carrier_q::carrier_by_id(&mut conn, attempt.carrier_id)
                .await?
                .ok_or_else(|| Error::not_found("carrier", attempt.carrier_id))?;
            let adapter = adapter_for(&original)?;
            (original, adapter)
        };
        let request = LabelRequest {
            idempotency_key: attempt.idempotency_key.clone(),
            sequence: u64::try_from(attempt.sequence).unwrap_or_default(),
            reference: ship.shipment.number.clone(),
            package: (usize::try_from(package.position).unwrap_or(1), count),
            origin: ship.origin.clone(),
            destination: ship.destination.clone(),
            parcel: parcel(package),
            service: attempt.service.clone(),
            signature: ship.shipment.signature,
        };
        let bought = attempt_adapter.buy_label(&request).await;
        let settled = match &bought {
            Ok(label) => Some(LabelChanges {
                status: Some(LabelStatus::Purchased.as_str().to_owned()),
                tracking_number: Some(Some(label.tracking_number.clone())),
                carrier_label_id: Some(Some(label.carrier_label_id.clone())),
                price: Some(label.price.as_ref().map(|p| p.amount)),
                currency: Some(label.price.as_ref().map(|p| p.currency.clone())),
                pdf: Some(Some(label.pdf.clone())),
                error: Some(None),
                purchased_at: Some(Some(Utc::now())),
                ..Default::default()
            }),
            // Refused: nothing was bought, the next attempt starts afresh.
            Err(err @ Error::Validation(_)) => Some(LabelChanges {
                status: Some(LabelStatus::Failed.as_str().to_owned()),
                error: Some(Some(err.to_string())),
                ..Default::default()
            }),
            // In doubt (it may have sold one): stays pending, repeated with the same key.
            Err(err) => {
                tracing::warn!(label = %attempt.id, error = %err, "a label purchase is in doubt; the next attempt repeats it");
                None
            }
        };
        if let Some(settled) = settled {
            let tracking = bought.as_ref().ok().map(|l| l.tracking_number.clone());
            let code = attempt_carrier.code.clone();
            let service = attempt.service.clone();
            self.db
                .tx("label_settle", async |conn: &mut AsyncPgConnection| {
                    // A later attempt that claimed it settles it instead (same key, same label).
                    if !carrier_q::settle_label(conn, attempt.id, attempt.attempted_at, &settled)
                        .await?
                    {
                        return Ok(());
                    }
                    if let Some(number) = &tracking {
                        carrier_q::set_package_tracking(conn, package.id, Some(number)).await?;
                        let changes = ShipmentChanges {
                            carrier: Some(Some(code.clone())),
                            service: Some(Some(service.clone())),
                            updated_at: Some(Utc::now()),
                            ..Default::default()
                        };
                        q::update_shipment(conn, id, &changes).await?;
                    }
                    Ok::<_, Error>(())
                })
                .await?;
        }
        bought.map(drop)
    }

    /// Voids the shipment's purchased labels (one package's, or all) before it ships.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, shipment.id = %id))]
    pub async fn void_labels(
        &self,
        ctx: &Ctx,
        id: Uuid,
        package_id: Option<Uuid>,
    ) -> Result<Shipment, Error> {
        ctx.authorize("shipments:update")?;
        let mut conn = self.db.conn().await?;
        let shipment = q::shipment_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("shipment", id))?;
        if shipment.status.has_left() {
            return Err(invalid(shipment.status, "void labels"));
        }
        let packages: Vec<PackageRow> = q::packages_of(&mut conn, &[id])
            .await?
            .into_iter()
            .filter(|p| package_id.is_none_or(|only| only == p.id))
            .collect();
        if packages.is_empty() {
            return Err(Error::invalid(
                "package_id",
                "is not a package of this shipment",
            ));
        }
        let mut voidable = Vec::new();
        for package in &packages {
            // A read: the label is marked `voiding` under the shipment's lock below.
            let live = carrier_q::live_label(&mut conn, package.id).await?;
            if let Some(label) = live.filter(|l| l.status != LabelStatus::Pending.as_str()) {
                let carrier = carrier_q::carrier_by_id(&mut conn, label.carrier_id)
                    .await?
                    .ok_or_else(|| Error::not_found("carrier", label.carrier_id))?;
                voidable.push((label, carrier));
            }
        }
        drop(conn);
        if voidable.is_empty() {
            return Err(Error::invalid("package_id", "no purchased label to void"));
        }
        for (label, carrier) in voidable {
            // Marked `voiding` under the shipment's lock first: the shipment cannot ship
            // meanwhile, and a crash leaves a void to repeat (voiding twice is harmless).
            self.db
                .tx("label_voiding", async |conn: &mut AsyncPgConnection| {
                    let shipment = q::lock_shipment(conn, id)
                        .await?
                        .ok_or_else(|| Error::not_found("shipment", id))?;
                    if shipment.status.has_left() {
                        return Err(invalid(shipment.status, "void labels"));
                    }
                    let changes = LabelChanges {
                        status: Some(LabelStatus::Voiding.as_str().to_owned()),
                        ..Default::default()
                    };
                    carrier_q::update_label(conn, label.id, &changes).await?;
                    Ok::<_, Error>(())
                })
                .await?;
            let voided = adapter_for(&carrier)?
                .void_label(label.carrier_label_id.as_deref().unwrap_or_default())
                .await;
            self.db
                .tx("label_void", async |conn: &mut AsyncPgConnection| {
                    let changes = match &voided {
                        Ok(()) => LabelChanges {
                            status: Some(LabelStatus::Voided.as_str().to_owned()),
                            voided_at: Some(Some(Utc::now())),
                            ..Default::default()
                        },
                        // The carrier still counts it: it stays bought.
                        Err(_) => LabelChanges {
                            status: Some(LabelStatus::Purchased.as_str().to_owned()),
                            ..Default::default()
                        },
                    };
                    carrier_q::update_label(conn, label.id, &changes).await?;
                    if voided.is_ok() {
                        carrier_q::set_package_tracking(conn, label.package_id, None).await?;
                    }
                    Ok::<_, Error>(())
                })
                .await?;
            voided?;
        }
        self.db
            .tx("labels_voided", async |conn: &mut AsyncPgConnection| {
                let row = q::shipment_by_id(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("shipment", id))?;
                shipment_event(
                    conn,
                    EventType::ShipmentUpdated,
                    row,
                    serde_json::json!({ "action": "labels_voided" }),
                )
                .await
            })
            .await
    }

    /// The printable label of one package (by its position, 1 for the first), as a PDF.
    pub async fn label_pdf(
        &self,
        ctx: &Ctx,
        id: Uuid,
        position: i32,
    ) -> Result<(String, Vec<u8>), Error> {
        let shipment = self.get_shipment(ctx, id).await?;
        let package = shipment
            .packages
            .iter()
            .find(|p| p.position == position)
            .ok_or_else(|| Error::invalid("package", "is not a package of this shipment"))?;
        let mut conn = self.db.conn().await?;
        let label = carrier_q::purchased_label(&mut conn, package.id)
            .await?
            .ok_or_else(|| Error::not_found("label", package.id))?;
        let pdf = label.pdf.unwrap_or_default();
        Ok((format!("{}-{}", shipment.number, position), pdf))
    }
}
