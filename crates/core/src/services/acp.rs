//! The Agentic Commerce Protocol (2026-04-17), merchant side: checkout sessions and a
//! delegated-payment vault for the test provider.
//!
//! A session is a thin layer over one of our checkouts (and its cart): the checkout service
//! prices it, checks stock and places the order; what only ACP knows (buyer, fulfillment
//! details, selected options, agent capabilities, metadata, cancellation) is kept in
//! `acp_sessions` keyed by the checkout id. Session ids are checkout ids. Money leaves here
//! in integer minor units, currencies in lowercase.
//!
//! Errors are ordinary service errors whose field paths are RFC 9535 JSONPaths
//! (`$.line_items[0].id`); the ACP adapter turns them into the flat ACP error object.

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use stateset_domain::EventType;
use stateset_domain::money::parse_currency;
use stateset_domain::quantity::check_line_units;
use uuid::Uuid;

use super::carts::{CartLineInput, CartRef, CreateCartInput, Shortfall};
use super::checkout::{StartCheckoutInput, UpdateCheckoutInput};
use super::error::Validator;
use super::payments::{minor_unit_scale, to_minor};
use super::{CartService, CheckoutService, Ctx, Error, PaymentService};
use crate::config::AcpSettings;
use stateset_db::Db;
use stateset_db::acp::{self as q, AllowanceRow, SessionRow};
use stateset_db::carts as cart_q;
use stateset_db::checkout::{self as checkout_q, CheckoutChanges};
use stateset_domain::{Address, Checkout, CheckoutStatus, ShippingOption};

/// The protocol version this server speaks.
pub const VERSION: &str = "2026-04-17";
/// Versions accepted in `API-Version`, newest first.
pub const SUPPORTED_VERSIONS: &[&str] = &[VERSION];
/// The permission (API key scope) an agent needs.
pub const PERMISSION: &str = "acp:checkout";
/// The one payment handler offered: cards delegated to our vault.
pub const HANDLER_ID: &str = "card_tokenized";
/// Interventions this seller can run; responses carry their intersection with the agent's.
const SELLER_INTERVENTIONS: &[&str] = &[];

fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An item an agent asks for: our variant SKU or variant id, and (an extension the digest
/// recommends for the spec's quantity gap) an optional quantity, 1 by default.
#[derive(Debug, Clone, Deserialize)]
pub struct ItemInput {
    pub id: String,
    pub name: Option<String>,
    pub unit_amount: Option<i64>,
    pub quantity: Option<i64>,
}

/// A buyer; unknown fields are ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Buyer {
    #[serde(default)]
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// An ACP address.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct AcpAddress {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub line_one: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_two: Option<String>,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
}

/// Where and to whom items go.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct FulfillmentDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<AcpAddress>,
}

/// A fulfillment option the buyer picked.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct SelectedOption {
    #[serde(rename = "type")]
    pub kind: String,
    pub option_id: String,
    #[serde(default)]
    pub item_ids: Vec<String>,
}

/// Discount codes in a request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DiscountsInput {
    #[serde(default)]
    pub codes: Vec<String>,
}

/// `POST /checkout_sessions`. Unknown fields (and unknown capability values) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateSessionInput {
    pub line_items: Vec<ItemInput>,
    pub currency: String,
    pub capabilities: Value,
    pub buyer: Option<Buyer>,
    pub fulfillment_details: Option<FulfillmentDetails>,
    pub discounts: Option<DiscountsInput>,
    pub coupons: Option<Vec<String>>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub quote_id: Option<String>,
    pub metadata: Option<Value>,
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}`: an absent field is left alone, `null` clears it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateSessionInput {
    #[serde(default, deserialize_with = "double")]
    pub buyer: Option<Option<Buyer>>,
    pub line_items: Option<Vec<ItemInput>>,
    #[serde(default, deserialize_with = "double")]
    pub fulfillment_details: Option<Option<FulfillmentDetails>>,
    #[serde(default, deserialize_with = "double")]
    pub selected_fulfillment_options: Option<Option<Vec<SelectedOption>>>,
    #[serde(default, deserialize_with = "double")]
    pub discounts: Option<Option<DiscountsInput>>,
    pub coupons: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double")]
    pub order_notes: Option<Option<String>>,
}

/// The credential inside `payment_data.instrument`.
#[derive(Debug, Clone, Deserialize)]
pub struct Credential {
    #[serde(rename = "type")]
    pub kind: String,
    pub token: String,
}

/// `payment_data.instrument`.
#[derive(Debug, Clone, Deserialize)]
pub struct Instrument {
    #[serde(rename = "type")]
    pub kind: String,
    pub credential: Credential,
}

/// `payment_data`.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentData {
    pub handler_id: Option<String>,
    pub instrument: Option<Instrument>,
    pub billing_address: Option<AcpAddress>,
    pub purchase_order_number: Option<String>,
}

/// `POST /checkout_sessions/{id}/complete`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompleteSessionInput {
    pub payment_data: PaymentData,
    pub buyer: Option<Buyer>,
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}/cancel`; the body may be empty.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CancelSessionInput {
    pub intent_trace: Option<IntentTrace>,
}

/// Why the buyer walked away; unknown reason codes count as `other`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IntentTrace {
    pub reason_code: String,
    pub trace_summary: Option<String>,
    pub metadata: Option<Value>,
}

/// A card to vault. Its `Debug` never shows the number or CVC.
#[derive(Clone, Deserialize)]
pub struct DelegatedCard {
    #[serde(rename = "type")]
    pub kind: String,
    pub card_number_type: Option<String>,
    pub number: String,
    pub exp_month: Option<String>,
    pub exp_year: Option<String>,
    pub cvc: Option<String>,
}

impl std::fmt::Debug for DelegatedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DelegatedCard { .. }")
    }
}

/// What a delegated token may pay for.
#[derive(Debug, Clone, Deserialize)]
pub struct AllowanceInput {
    pub reason: String,
    pub max_amount: i64,
    pub currency: String,
    pub checkout_session_id: String,
    pub merchant_id: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /agentic_commerce/delegate_payment`.
#[derive(Debug, Clone, Deserialize)]
pub struct DelegatePaymentInput {
    pub payment_method: DelegatedCard,
    pub allowance: AllowanceInput,
    #[serde(default)]
    pub risk_signals: Vec<Value>,
    #[serde(default)]
    pub metadata: Value,
}

/// Everything ACP keeps about a session beside the checkout (the `state` column).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct SessionState {
    #[serde(default)]
    currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buyer: Option<Buyer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fulfillment_details: Option<FulfillmentDetails>,
    #[serde(default)]
    selected_fulfillment_options: Vec<SelectedOption>,
    /// Interventions the agent said it supports.
    #[serde(default)]
    interventions: Vec<String>,
    #[serde(default)]
    discount_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quote_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    intent_trace: Option<IntentTrace>,
}

fn load_state(row: &SessionRow) -> SessionState {
    serde_json::from_value(row.state.clone()).unwrap_or_default()
}

fn state_json(state: &SessionState) -> Result<Value, Error> {
    Ok(serde_json::to_value(state).map_err(anyhow::Error::new)?)
}

/// Checks an ACP address under `path`: the fields the protocol requires, then the rules every
/// door applies to addresses (`checks::check_address`), named by their ACP paths.
fn check_acp_address(v: &mut Validator, path: &str, a: &AcpAddress) {
    for (name, value) in [
        ("name", &a.name),
        ("line_one", &a.line_one),
        ("city", &a.city),
        ("state", &a.state),
        ("postal_code", &a.postal_code),
    ] {
        if value.trim().is_empty() {
            v.add(format!("{path}.{name}"), "is required");
        }
    }
    let mut shared = Validator::default();
    super::checks::check_address(&mut shared, "address", &to_address(a, None));
    if let Err(err) = shared.finish() {
        let err = rename_fields(err, "address", path);
        if let Error::Validation(fields) = err {
            for field in fields {
                // Names split from `name`: report them on `name`.
                let at = field
                    .field
                    .replace(".first_name", ".name")
                    .replace(".last_name", ".name");
                v.add(at, field.message);
            }
        }
    }
}

fn to_address(a: &AcpAddress, phone: Option<&str>) -> Address {
    let name = a.name.trim();
    let (first, last) = match name.rsplit_once(' ') {
        Some((first, last)) => (Some(first.to_owned()), Some(last.to_owned())),
        None => (Some(name.to_owned()), None),
    };
    Address {
        first_name: first.filter(|s| !s.is_empty()),
        last_name: last,
        company: a.company.clone(),
        line1: a.line_one.trim().to_owned(),
        line2: a.line_two.clone().filter(|s| !s.trim().is_empty()),
        city: a.city.trim().to_owned(),
        region: Some(a.state.trim().to_owned()),
        postal_code: Some(a.postal_code.trim().to_owned()),
        country: a.country.trim().to_ascii_uppercase(),
        phone: phone.map(str::to_owned),
    }
}

/// Money in minor units, in the currency's own scale.
fn minor(amount: Decimal, currency: &str) -> i64 {
    // Rounded to the currency's own minor unit first, so only an amount beyond i64 can fail.
    to_minor(amount.round_dp(minor_unit_scale(currency)), currency).unwrap_or(i64::MAX)
}

/// ACP sessions and the delegated-payment vault.
#[derive(Clone)]
pub struct AcpService {
    db: Db,
    checkout: CheckoutService,
    payments: PaymentService,
    settings: AcpSettings,
}

impl AcpService {
    pub fn new(
        db: Db,
        checkout: CheckoutService,
        payments: PaymentService,
        settings: AcpSettings,
    ) -> Self {
        Self {
            db,
            checkout,
            payments,
            settings,
        }
    }

    /// The settings this door runs with.
    pub fn settings(&self) -> &AcpSettings {
        &self.settings
    }

    /// Finds each requested item by variant SKU or id; unknown ids name their JSONPath.
    async fn resolve_items(
        conn: &mut AsyncPgConnection,
        items: &[ItemInput],
        path: &str,
    ) -> Result<Vec<CartLineInput>, Error> {
        let mut v = Validator::default();
        if items.is_empty() {
            v.add(path, "must hold at least one item");
        }
        let mut lines = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let quantity = item.quantity.unwrap_or(1);
            let units = i32::try_from(quantity).unwrap_or(i32::MAX);
            v.check(format!("{path}[{i}].quantity"), check_line_units(units));
            let id = item.id.trim();
            let by_sku = stateset_db::catalog::variant_by_sku(conn, id).await?;
            let variant = match by_sku {
                Some(variant) => Some(variant),
                None => match Uuid::parse_str(id) {
                    Ok(uuid) => stateset_db::catalog::variants_by_ids(conn, &[uuid])
                        .await?
                        .first()
                        .map(|v| v.id),
                    Err(_) => None,
                },
            };
            match variant {
                Some(variant_id) => lines.push(CartLineInput {
                    variant_id,
                    quantity: i32::try_from(quantity).unwrap_or(1),
                }),
                None => v.add(format!("{path}[{i}].id"), format!("unknown item `{id}`")),
            }
        }
        v.finish()?;
        Ok(lines)
    }

    /// Creates a session in one transaction: a cart with the items (items short of stock are
    /// kept and reported as `out_of_stock` messages), a checkout on it, the session row, then
    /// the buyer, address and discount codes if given.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create(&self, ctx: &Ctx, input: CreateSessionInput) -> Result<Value, Error> {
        ctx.authorize(PERMISSION)?;
        let mut v = Validator::default();
        // ACP sends currencies in lower case; the code itself is read as every door reads it.
        let currency = input.currency.trim().to_ascii_lowercase();
        v.check("$.currency", parse_currency(&currency).map(drop));
        if let Some(buyer) = &input.buyer {
            v.email("$.buyer.email", &buyer.email);
        }
        if let Some(address) = input
            .fulfillment_details
            .as_ref()
            .and_then(|f| f.address.as_ref())
        {
            check_acp_address(&mut v, "$.fulfillment_details.address", address);
        }
        if input.capabilities.as_object().is_none() {
            v.add("$.capabilities", "must be an object");
        }
        v.finish()?;
        let ctx = ctx.clone();
        self.db
            .tx("create", async |conn: &mut AsyncPgConnection| {
                let items = Self::resolve_items(conn, &input.line_items, "$.line_items").await?;
                let cart = CartService::create_in(
                    conn,
                    &ctx,
                    CreateCartInput {
                        items,
                        customer_id: None,
                    },
                    Shortfall::Keep,
                )
                .await
                .map_err(|e| rename_fields(e, "items", "$.line_items"))?;
                if cart.currency.to_ascii_lowercase() != currency {
                    return Err(Error::invalid(
                        "$.currency",
                        format!("these items are sold in {}", cart.currency.to_lowercase()),
                    ));
                }
                let email = input
                    .buyer
                    .as_ref()
                    .map(|b| b.email.trim().to_owned())
                    .or_else(|| {
                        input
                            .fulfillment_details
                            .as_ref()
                            .and_then(|f| f.email.clone())
                    });
                let checkout = CheckoutService::start_in(
                    conn,
                    &ctx,
                    StartCheckoutInput {
                        cart_id: cart.token.clone(),
                        email,
                    },
                )
                .await
                .map_err(|e| rename_fields(e, "email", "$.buyer.email"))?;
                let interventions = input.capabilities["interventions"]["supported"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut codes = input.discounts.clone().map(|d| d.codes).unwrap_or_default();
                codes.extend(input.coupons.clone().unwrap_or_default());
                let state = SessionState {
                    currency: currency.clone(),
                    buyer: input.buyer.clone(),
                    fulfillment_details: input.fulfillment_details.clone(),
                    selected_fulfillment_options: Vec::new(),
                    interventions,
                    discount_codes: Vec::new(),
                    metadata: input.metadata.clone(),
                    locale: input.locale.clone(),
                    timezone: input.timezone.clone(),
                    quote_id: input.quote_id.clone(),
                    order_notes: input.order_notes.clone(),
                    intent_trace: None,
                };
                let now = Utc::now();
                let row = SessionRow {
                    checkout_id: checkout.id,
                    status: "open".into(),
                    state: state_json(&state)?,
                    principal: ctx.principal.key(),
                    created_at: now,
                    updated_at: now,
                };
                q::insert_session(conn, &row).await?;
                let update = UpdateSessionInput {
                    fulfillment_details: state.fulfillment_details.clone().map(Some),
                    discounts: (!codes.is_empty()).then_some(Some(DiscountsInput { codes })),
                    ..Default::default()
                };
                let (row, rejected) = Self::apply_update(conn, &ctx, row, update).await?;
                self.render_in(conn, &row, &rejected).await
            })
            .await
    }

    /// The session as it stands.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn get(&self, ctx: &Ctx, id: Uuid) -> Result<Value, Error> {
        ctx.authorize(PERMISSION)?;
        let ctx = ctx.clone();
        self.db
            .tx("get", async |conn: &mut AsyncPgConnection| {
                let row = q::session(conn, id)
                    .await?
                    .filter(|row| visible(&ctx, row))
                    .ok_or_else(|| Error::not_found("checkout_session", id))?;
                self.render_in(conn, &row, &[]).await
            })
            .await
    }

    /// The session, locked, provided it can still change.
    async fn open_session(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        id: Uuid,
        action: &str,
    ) -> Result<SessionRow, Error> {
        let row = q::lock_session(conn, id)
            .await?
            .filter(|row| visible(ctx, row))
            .ok_or_else(|| Error::not_found("checkout_session", id))?;
        if row.status == "canceled" {
            return Err(Error::InvalidState {
                from: "canceled".into(),
                action: action.into(),
            });
        }
        let checkout = checkout_q::checkout(conn, id)
            .await?
            .ok_or_else(|| Error::not_found("checkout_session", id))?;
        if checkout.status == CheckoutStatus::Completed {
            return Err(Error::InvalidState {
                from: "completed".into(),
                action: action.into(),
            });
        }
        Ok(row)
    }

    /// Applies an update (see [`UpdateSessionInput`]) in one transaction.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn update(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateSessionInput,
    ) -> Result<Value, Error> {
        ctx.authorize(PERMISSION)?;
        let ctx = ctx.clone();
        self.db
            .tx("update", async |conn: &mut AsyncPgConnection| {
                let row = Self::open_session(conn, &ctx, id, "update the session").await?;
                let (row, rejected) = Self::apply_update(conn, &ctx, row, input).await?;
                self.render_in(conn, &row, &rejected).await
            })
            .await
    }

    /// Applies an update to a locked session inside the caller's transaction; returns the
    /// session as saved and the discount codes that were rejected.
    async fn apply_update(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        row: SessionRow,
        input: UpdateSessionInput,
    ) -> Result<(SessionRow, Vec<String>), Error> {
        let id = row.checkout_id;
        let mut state = load_state(&row);
        let mut v = Validator::default();
        if let Some(Some(buyer)) = &input.buyer {
            v.email("$.buyer.email", &buyer.email);
        }
        if let Some(Some(address)) = input
            .fulfillment_details
            .as_ref()
            .map(|f| f.as_ref().and_then(|f| f.address.as_ref()))
        {
            check_acp_address(&mut v, "$.fulfillment_details.address", address);
        }
        if let Some(Some(notes)) = &input.order_notes
            && notes.chars().count() > 5000
        {
            v.add("$.order_notes", "must be at most 5000 characters");
        }
        v.finish()?;
        let mut clear = CheckoutChanges::default();
        let mut step = UpdateCheckoutInput::default();
        match input.buyer {
            Some(Some(buyer)) => {
                step.email = Some(buyer.email.trim().to_owned());
                state.buyer = Some(buyer);
            }
            Some(None) => {
                state.buyer = None;
                clear.email = Some(None);
            }
            None => {}
        }
        match input.fulfillment_details {
            Some(Some(details)) => {
                match &details.address {
                    Some(address) => {
                        step.shipping_address =
                            Some(to_address(address, details.phone_number.as_deref()));
                    }
                    None => {
                        clear.shipping_address = Some(None);
                        clear.shipping_method_id = Some(None);
                        state.selected_fulfillment_options.clear();
                    }
                }
                if state.buyer.is_none()
                    && let Some(email) = &details.email
                {
                    step.email = Some(email.clone());
                }
                state.fulfillment_details = Some(details);
            }
            Some(None) => {
                state.fulfillment_details = None;
                state.selected_fulfillment_options.clear();
                clear.shipping_address = Some(None);
                clear.shipping_method_id = Some(None);
            }
            None => {}
        }
        if let Some(notes) = input.order_notes {
            state.order_notes = notes;
        }
        if let Some(items) = &input.line_items {
            let lines = Self::resolve_items(conn, items, "$.line_items").await?;
            let cart_id = checkout_cart(conn, id).await?;
            let token = cart_q::lock_cart(conn, Some(cart_id), None)
                .await?
                .ok_or_else(|| Error::not_found("cart", id))?
                .token;
            CartService::replace_lines_in(
                conn,
                ctx,
                &CartRef::Token(token),
                &lines,
                Shortfall::Keep,
            )
            .await
            .map_err(|e| rename_fields(e, "items", "$.line_items"))?;
        }
        let mut codes = match input.discounts {
            Some(Some(d)) => Some(d.codes),
            Some(None) => Some(Vec::new()),
            None => None,
        };
        if let Some(coupons) = input.coupons {
            codes.get_or_insert_with(Vec::new).extend(coupons);
        }
        if clear.email.is_some()
            || clear.shipping_address.is_some()
            || clear.shipping_method_id.is_some()
        {
            clear.updated_at = Some(Utc::now());
            checkout_q::update_checkout(conn, id, &clear).await?;
        }
        if step.email.is_some() || step.shipping_address.is_some() {
            CheckoutService::update_in(conn, id, step)
                .await
                .map_err(|e| rename_fields(e, "shipping_address", "$.fulfillment_details.address"))
                .map_err(|e| rename_fields(e, "email", "$.buyer.email"))?;
        }
        let mut rejected = Vec::new();
        if let Some(codes) = codes {
            let first = codes.first().cloned().unwrap_or_default();
            let discount = UpdateCheckoutInput {
                discount_code: Some(first.clone()),
                ..Default::default()
            };
            // In a savepoint: a code the checkout refuses leaves nothing behind.
            let applied = conn
                .transaction(async |conn: &mut AsyncPgConnection| {
                    CheckoutService::update_in(conn, id, discount).await
                })
                .await;
            match applied {
                Ok(_) => {}
                Err(Error::Validation(_)) => {
                    rejected.push(first);
                    let none = CheckoutChanges {
                        discount_code: Some(None),
                        ..Default::default()
                    };
                    checkout_q::update_checkout(conn, id, &none).await?;
                }
                Err(err) => return Err(err),
            }
            rejected.extend(codes.iter().skip(1).cloned());
            state.discount_codes = codes;
        }
        if let Some(selected) = input.selected_fulfillment_options {
            let mut method = None;
            if let Some(selected) = &selected {
                let options = Self::options(conn, id).await?;
                let mut v = Validator::default();
                for (i, s) in selected.iter().enumerate() {
                    match options
                        .iter()
                        .find(|o| o.method_id.to_string() == s.option_id)
                    {
                        Some(o) if s.kind == "shipping" => method = Some(o.method_id),
                        _ => v.add(
                            format!("$.selected_fulfillment_options[{i}].option_id"),
                            "is not one of this session's fulfillment options",
                        ),
                    }
                }
                v.finish()?;
            }
            match method {
                Some(method) => {
                    let choose = UpdateCheckoutInput {
                        shipping_method_id: Some(method),
                        ..Default::default()
                    };
                    CheckoutService::update_in(conn, id, choose)
                        .await
                        .map_err(|e| {
                            rename_fields(
                                e,
                                "shipping_method_id",
                                "$.selected_fulfillment_options[0].option_id",
                            )
                        })?;
                }
                None => {
                    let none = CheckoutChanges {
                        shipping_method_id: Some(None),
                        ..Default::default()
                    };
                    checkout_q::update_checkout(conn, id, &none).await?;
                }
            }
            state.selected_fulfillment_options = selected.unwrap_or_default();
        }
        let saved = state_json(&state)?;
        q::update_session(conn, id, &row.status, &saved).await?;
        Ok((
            SessionRow {
                state: saved,
                ..row
            },
            rejected,
        ))
    }

    /// Shipping options for the session's address (none without one).
    async fn options(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Vec<ShippingOption>, Error> {
        match CheckoutService::shipping_options_in(conn, id).await {
            Ok(options) => Ok(options),
            Err(Error::InvalidState { .. }) => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    /// Completes the session with a delegated token: the buyer, notes and token are saved in
    /// one transaction, then the checkout is completed as every checkout is: the token's
    /// allowance is checked and the payment taken under the checkout's lock, the order placed
    /// in one transaction, exactly one charge (see `payments::attempts`).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn complete(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: CompleteSessionInput,
    ) -> Result<Value, Error> {
        ctx.authorize(PERMISSION)?;
        let data = &input.payment_data;
        let mut v = Validator::default();
        if let Some(buyer) = &input.buyer {
            v.email("$.buyer.email", &buyer.email);
        }
        match data.handler_id.as_deref() {
            Some(HANDLER_ID) => {}
            Some(_) => v.add(
                "$.payment_data.handler_id",
                "is not a payment handler offered for this session",
            ),
            None => v.add("$.payment_data.handler_id", "is required"),
        }
        let token = data
            .instrument
            .as_ref()
            .map(|i| i.credential.token.trim().to_owned())
            .unwrap_or_default();
        if token.is_empty() {
            v.add("$.payment_data.instrument.credential.token", "is required");
        }
        v.finish()?;
        let token_path = "$.payment_data.instrument.credential.token";
        // A finished or canceled session says so before its token is looked at.
        {
            self.db
                .tx("complete", async |conn: &mut AsyncPgConnection| {
                    Self::open_session(conn, ctx, id, "complete the session").await
                })
                .await?;
        }
        let token = self
            .payments
            .resolve_token(&token)
            .await
            .map_err(|e| rename_fields(e, "payment_token", token_path))?
            .id;
        let ctx = ctx.clone();
        let row = self
            .db
            .tx("complete", async |conn: &mut AsyncPgConnection| {
                let row = Self::open_session(conn, &ctx, id, "complete the session").await?;
                if q::allowance(conn, &token).await?.is_none() {
                    return Err(Error::invalid(
                        token_path,
                        "is not a delegated payment token",
                    ));
                }
                let mut state = load_state(&row);
                let step = UpdateCheckoutInput {
                    email: input.buyer.as_ref().map(|b| b.email.trim().to_owned()),
                    payment_token: Some(token.clone()),
                    ..Default::default()
                };
                let checkout = CheckoutService::update_in(conn, id, step)
                    .await
                    .map_err(|e| rename_fields(e, "payment_token", token_path))
                    .map_err(|e| rename_fields(e, "email", "$.buyer.email"))?;
                if let Some(missing) = checkout.missing.first() {
                    return Err(Error::invalid(
                        missing_path(missing),
                        "is needed before the session can be completed",
                    ));
                }
                if let Some(buyer) = input.buyer.clone() {
                    state.buyer = Some(buyer);
                }
                if let Some(notes) = input.order_notes.clone() {
                    state.order_notes = Some(notes);
                }
                let saved = state_json(&state)?;
                q::update_session(conn, id, "open", &saved).await?;
                Ok(SessionRow {
                    state: saved,
                    ..row
                })
            })
            .await?;
        self.checkout
            .complete(&ctx, id)
            .await
            .map_err(|e| rename_fields(e, "payment_token", token_path))?;
        self.render(&row).await
    }

    /// Cancels an open session.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn cancel(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: CancelSessionInput,
    ) -> Result<Value, Error> {
        ctx.authorize(PERMISSION)?;
        let caller = ctx.clone();
        let row = self
            .db
            .tx("cancel", async move |conn: &mut AsyncPgConnection| {
                let row = q::lock_session(conn, id)
                    .await?
                    .filter(|row| visible(&caller, row))
                    .ok_or_else(|| Error::not_found("checkout_session", id))?;
                let checkout = checkout_q::lock_checkout(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("checkout_session", id))?;
                if row.status == "canceled" || checkout.status == CheckoutStatus::Completed {
                    let from = if row.status == "canceled" {
                        "canceled"
                    } else {
                        "completed"
                    };
                    return Err(Error::InvalidState {
                        from: from.into(),
                        action: "cancel the session".into(),
                    });
                }
                let mut state = load_state(&row);
                state.intent_trace = input.intent_trace.map(|mut t| {
                    const KNOWN: &[&str] = &[
                        "price_sensitivity",
                        "shipping_cost",
                        "shipping_speed",
                        "product_fit",
                        "trust_security",
                        "returns_policy",
                        "payment_options",
                        "comparison",
                        "timing_deferred",
                        "other",
                    ];
                    if !KNOWN.contains(&t.reason_code.as_str()) {
                        t.reason_code = "other".into();
                    }
                    t
                });
                let state = state_json(&state)?;
                q::update_session(conn, id, "canceled", &state).await?;
                let event = crate::events::DomainEvent {
                    event_type: EventType::CheckoutCanceled,
                    entity_type: "checkout",
                    entity_id: id,
                    data: json!({ "id": id, "channel": "acp" }),
                };
                crate::events::record(conn, event).await?;
                Ok(SessionRow {
                    status: "canceled".into(),
                    state,
                    ..row
                })
            })
            .await?;
        self.render(&row).await
    }

    /// Vaults a card as a single-use `vt_...` token bound to an allowance.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn delegate_payment(
        &self,
        ctx: &Ctx,
        input: DelegatePaymentInput,
    ) -> Result<Value, Error> {
        ctx.authorize(PERMISSION)?;
        let mut v = Validator::default();
        let card = &input.payment_method;
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
        match parse_currency(&allowance.currency) {
            Err(message) => v.add("$.allowance.currency", message),
            Ok(_) if allowance.currency.bytes().any(|b| b.is_ascii_uppercase()) => {
                v.add(
                    "$.allowance.currency",
                    "must be in lower case, as ACP writes it",
                );
            }
            Ok(_) => {}
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
        let session = Uuid::parse_str(allowance.checkout_session_id.trim()).ok();
        let mut conn = self.db.conn().await?;
        let known = match session {
            Some(id) => q::session(&mut conn, id)
                .await?
                .is_some_and(|row| visible(ctx, &row)),
            None => false,
        };
        if !known {
            v.add(
                "$.allowance.checkout_session_id",
                "is not a checkout session of this merchant",
            );
        }
        if !super::payments::is_card_number(&card.number) {
            v.add("$.payment_method.number", "is not a valid card number");
        }
        v.finish()?;
        drop(conn);
        let id = format!("vt_{}", crate::auth::random_token(24));
        let vaulted = super::payments::VaultCard {
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
        let mut metadata = serde_json::Map::new();
        if let Some(given) = input.metadata.as_object() {
            for (key, value) in given {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                metadata.insert(key.clone(), Value::String(text));
            }
        }
        metadata.insert(
            "merchant_id".into(),
            Value::String(self.settings.merchant_id.clone()),
        );
        Ok(json!({
            "id": id,
            "created": created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "metadata": metadata,
        }))
    }

    /// The payment handler offered in every session.
    fn handler(&self) -> Value {
        let base = &self.settings.public_base_url;
        json!({
            "id": HANDLER_ID,
            "name": "dev.acp.tokenized.card",
            "display_name": "Card",
            "version": VERSION,
            "spec": "https://agenticcommerce.dev/handlers/tokenized-card",
            "requires_delegate_payment": true,
            "requires_pci_compliance": false,
            "psp": "stateset",
            "config_schema": "https://agenticcommerce.dev/schemas/handlers/tokenized-card/config.json",
            "instrument_schemas": [
                "https://agenticcommerce.dev/schemas/handlers/tokenized-card/instrument.json"
            ],
            "config": {
                "merchant_id": self.settings.merchant_id,
                "accepted_brands": ["visa", "mastercard", "amex", "discover"],
                "delegate_payment_url": format!("{base}/agentic_commerce/delegate_payment"),
            },
        })
    }

    /// The store policies offered as links: only those configured, so none leads nowhere.
    fn policy_links(&self) -> Vec<Value> {
        [
            ("terms_of_use", &self.settings.terms_url, "Terms of use"),
            (
                "privacy_policy",
                &self.settings.privacy_url,
                "Privacy policy",
            ),
            ("return_policy", &self.settings.returns_url, "Returns"),
        ]
        .into_iter()
        .filter_map(|(kind, url, title)| {
            url.as_ref()
                .map(|url| json!({ "type": kind, "url": url, "title": title }))
        })
        .collect()
    }

    /// The full session as ACP shows it, read in a transaction of its own.
    async fn render(&self, row: &SessionRow) -> Result<Value, Error> {
        self.db
            .tx("render session", async |conn: &mut AsyncPgConnection| {
                self.render_in(conn, row, &[]).await
            })
            .await
    }

    /// The full session as ACP shows it, read inside the caller's transaction;
    /// `rejected_codes` are discount codes this request tried and the checkout refused.
    async fn render_in(
        &self,
        conn: &mut AsyncPgConnection,
        row: &SessionRow,
        rejected_codes: &[String],
    ) -> Result<Value, Error> {
        let checkout = CheckoutService::get_in(conn, row.checkout_id).await?;
        let state = load_state(row);
        let options = if checkout.status == CheckoutStatus::Completed {
            checkout.shipping_method.clone().into_iter().collect()
        } else {
            Self::options(conn, row.checkout_id).await?
        };
        let order = match checkout.order_id {
            Some(order_id) => Some((
                super::orders::order_by_id(conn, order_id).await?,
                super::order_pages::status_url(conn, &self.settings, order_id).await?,
            )),
            None => None,
        };
        Ok(self.session_json(
            &checkout,
            &state,
            &row.status,
            &options,
            order.as_ref(),
            rejected_codes,
        ))
    }

    fn session_json(
        &self,
        checkout: &Checkout,
        state: &SessionState,
        status: &str,
        options: &[ShippingOption],
        order: Option<&(stateset_domain::Order, String)>,
        rejected_codes: &[String],
    ) -> Value {
        let currency = checkout.totals.total.currency.to_ascii_lowercase();
        let money = |amount: Decimal| minor(amount, &currency);
        let mut messages = Vec::new();
        let error = |code: &str, param: &str, content: &str| {
            json!({
                "type": "error", "code": code, "param": param,
                "content_type": "plain", "content": content,
                "resolution": "requires_buyer_input",
            })
        };
        for missing in &checkout.missing {
            match missing.as_str() {
                "email" => messages.push(error(
                    "missing",
                    "$.buyer.email",
                    "The buyer's email address is needed.",
                )),
                "shipping_address" => messages.push(error(
                    "missing",
                    "$.fulfillment_details.address",
                    "A shipping address is needed.",
                )),
                "shipping_method" => messages.push(error(
                    "missing",
                    "$.selected_fulfillment_options",
                    "Choose one of the fulfillment options.",
                )),
                _ => {}
            }
        }
        for (i, item) in checkout.items.iter().enumerate() {
            if !item.purchasable {
                let content = match item.available {
                    Some(available) => format!(
                        "Only {} of {} {} available.",
                        available.max(0),
                        item.product_name,
                        if available == 1 { "is" } else { "are" }
                    ),
                    None => format!("{} cannot be bought now.", item.product_name),
                };
                messages.push(json!({
                    "type": "error", "code": "out_of_stock",
                    "param": format!("$.line_items[{i}]"),
                    "content_type": "plain", "content": content,
                    "resolution": "requires_buyer_input",
                }));
            }
        }
        for code in rejected_codes {
            messages.push(json!({
                "type": "warning", "code": "discount_code_invalid",
                "param": "$.discounts.codes",
                "content_type": "plain",
                "content": format!("The discount code {code} cannot be used."),
            }));
        }
        let completed = checkout.status == CheckoutStatus::Completed;
        let ready = checkout.missing.iter().all(|m| m == "payment_token");
        let status = if completed {
            "completed"
        } else if status == "canceled" {
            "canceled"
        } else if ready && messages.iter().all(|m| m["type"] != "error") {
            "ready_for_payment"
        } else {
            "not_ready_for_payment"
        };
        let line_items: Vec<Value> = checkout
            .items
            .iter()
            .map(|item| {
                let unit = money(item.unit_price.amount);
                let base = unit * i64::from(item.quantity);
                let name = if item.variant_title.is_empty()
                    || item.variant_title == item.product_name
                    || item.variant_title == "Default"
                {
                    item.product_name.clone()
                } else {
                    format!("{} ({})", item.product_name, item.variant_title)
                };
                json!({
                    "id": item.id.to_string(),
                    "item": { "id": item.sku, "name": name, "unit_amount": unit },
                    "quantity": item.quantity,
                    "name": name,
                    "unit_amount": unit,
                    "product_id": item.product_id.to_string(),
                    "variant_id": item.variant_id.to_string(),
                    "sku": item.sku,
                    "totals": [
                        { "type": "items_base_amount", "display_text": "Item(s)", "amount": base },
                        { "type": "subtotal", "display_text": "Subtotal", "amount": base },
                    ],
                })
            })
            .collect();
        let since = checkout.updated_at;
        let fulfillment_options: Vec<Value> = options
            .iter()
            .map(|o| {
                json!({
                    "type": "shipping",
                    "id": o.method_id.to_string(),
                    "title": o.name,
                    "description": format!("{} {}", o.carrier, o.service).trim().to_owned(),
                    "carrier": o.carrier,
                    "earliest_delivery_time": rfc3339(since + Duration::days(i64::from(o.min_days))),
                    "latest_delivery_time": rfc3339(since + Duration::days(i64::from(o.max_days))),
                    "totals": [
                        { "type": "fulfillment", "display_text": "Shipping", "amount": money(o.price.amount) },
                        { "type": "total", "display_text": "Total", "amount": money(o.price.amount) },
                    ],
                })
            })
            .collect();
        let t = &checkout.totals;
        let subtotal = money(t.subtotal.amount);
        let discount = money(t.discount_total.amount);
        let shipping = money(t.shipping_total.amount);
        let total = money(t.total.amount);
        // Tax as charged on top of the prices (tax included in prices is not added again).
        let tax = total - (subtotal - discount + shipping);
        let mut totals = vec![
            json!({ "type": "items_base_amount", "display_text": "Item(s)", "amount": subtotal }),
            json!({ "type": "subtotal", "display_text": "Subtotal", "amount": subtotal }),
        ];
        if discount != 0 {
            totals.push(
                json!({ "type": "discount", "display_text": "Discount", "amount": discount }),
            );
        }
        if checkout.shipping_method.is_some() {
            totals.push(
                json!({ "type": "fulfillment", "display_text": "Shipping", "amount": shipping }),
            );
        }
        if checkout.shipping_address.is_some() {
            totals.push(json!({ "type": "tax", "display_text": "Tax", "amount": tax }));
        }
        totals.push(json!({ "type": "total", "display_text": "Total", "amount": total }));
        let interventions: Vec<&str> = SELLER_INTERVENTIONS
            .iter()
            .copied()
            .filter(|i| state.interventions.iter().any(|a| a == i))
            .collect();
        let mut session = json!({
            "id": checkout.id.to_string(),
            "protocol": { "version": VERSION },
            "capabilities": {
                "payment": { "handlers": [self.handler()] },
                "interventions": { "supported": interventions, "required": [], "enforcement": "conditional" },
            },
            "status": status,
            "currency": currency,
            "line_items": line_items,
            "fulfillment_options": fulfillment_options,
            "totals": totals,
            "messages": messages,
            "links": self.policy_links(),
            "created_at": rfc3339(checkout.created_at),
            "updated_at": rfc3339(checkout.updated_at),
        });
        let buyer = state.buyer.clone().or_else(|| {
            checkout.email.clone().map(|email| Buyer {
                email,
                ..Default::default()
            })
        });
        let fields: [(&str, Option<Value>); 9] = [
            ("buyer", buyer.map(|b| json!(b))),
            (
                "fulfillment_details",
                state.fulfillment_details.as_ref().map(|f| json!(f)),
            ),
            (
                "selected_fulfillment_options",
                (!state.selected_fulfillment_options.is_empty())
                    .then(|| json!(state.selected_fulfillment_options)),
            ),
            ("metadata", state.metadata.clone().filter(Value::is_object)),
            ("locale", state.locale.clone().map(Value::String)),
            ("timezone", state.timezone.clone().map(Value::String)),
            ("quote_id", state.quote_id.clone().map(Value::String)),
            (
                "discounts",
                (!state.discount_codes.is_empty())
                    .then(|| json!({ "codes": state.discount_codes })),
            ),
            (
                "order",
                order.map(|(o, permalink)| {
                    json!({
                        "id": o.id.to_string(),
                        "checkout_session_id": checkout.id.to_string(),
                        "order_number": o.number,
                        "permalink_url": permalink,
                    })
                }),
            ),
        ];
        if let Some(object) = session.as_object_mut() {
            for (name, value) in fields {
                if let Some(value) = value {
                    object.insert(name.to_owned(), value);
                }
            }
        }
        session
    }
}

/// Whether the caller may see a session: an API key (an agent) sees the sessions it made;
/// signed-in staff holding the permission see all.
fn visible(ctx: &Ctx, row: &SessionRow) -> bool {
    !matches!(ctx.principal, super::Principal::ApiKey { .. })
        || row.principal == ctx.principal.key()
}

/// The `webhooks` row that carries order events to the agent platform.
pub const PLATFORM_WEBHOOK_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0acb);

/// ACP's order status for ours (the spec's list is open; these are its defined values).
fn order_status(status: stateset_domain::OrderStatus) -> &'static str {
    use stateset_domain::OrderStatus as S;
    match status {
        S::Pending => "confirmed",
        S::Processing => "processing",
        S::Shipped => "shipped",
        S::Delivered | S::Completed | S::Archived => "completed",
        S::OnHold => "manual_review",
        S::Cancelled => "canceled",
    }
}

/// The full ACP `Order` of an order placed through an ACP session, or `None` for others.
pub async fn acp_order(
    conn: &mut AsyncPgConnection,
    settings: &AcpSettings,
    order_id: Uuid,
) -> Result<Option<Value>, Error> {
    let order = match super::orders::order_by_id(conn, order_id).await {
        Ok(order) => order,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(checkout_id) = order.attributes["checkout_id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return Ok(None);
    };
    if q::session(conn, checkout_id).await?.is_none() {
        return Ok(None);
    }
    let currency = order.currency.to_ascii_lowercase();
    let money = |amount: Decimal| minor(amount, &currency);
    let total = |kind: &str, text: &str, amount: Decimal| json!({ "type": kind, "display_text": text, "amount": money(amount) });
    let shipped = matches!(
        order.status,
        stateset_domain::OrderStatus::Shipped
            | stateset_domain::OrderStatus::Delivered
            | stateset_domain::OrderStatus::Completed
            | stateset_domain::OrderStatus::Archived
    );
    let canceled = order.status == stateset_domain::OrderStatus::Cancelled;
    let line_items: Vec<Value> = stateset_db::orders::items_for(conn, &[order.id])
        .await?
        .into_iter()
        .map(|item| {
            let current = if canceled { 0 } else { item.quantity };
            let fulfilled = if shipped { current } else { 0 };
            let status = if current == 0 {
                "removed"
            } else if fulfilled == current {
                "fulfilled"
            } else {
                "processing"
            };
            json!({
                "id": item.id.to_string(),
                "title": item.name,
                "quantity": { "ordered": item.quantity, "current": current, "fulfilled": fulfilled },
                "unit_price": money(item.unit_price),
                "subtotal": money(item.unit_price * Decimal::from(item.quantity)),
                "status": status,
            })
        })
        .collect();
    Ok(Some(json!({
        "type": "order",
        "id": order.id.to_string(),
        "checkout_session_id": checkout_id.to_string(),
        "order_number": order.number,
        "permalink_url": super::order_pages::status_url(conn, settings, order.id).await?,
        "status": order_status(order.status),
        "line_items": line_items,
        "totals": [
            total("subtotal", "Subtotal", order.subtotal.amount),
            total("discount", "Discount", order.discount_total.amount),
            total("fulfillment", "Shipping", order.shipping_total.amount),
            total("tax", "Tax", order.tax_total.amount),
            total("total", "Total", order.total.amount),
        ],
    })))
}

/// The relay's sink for the agent platform's order webhooks (see [`enqueue_platform_events`]).
pub struct PlatformOrderWebhooks(pub AcpSettings);

impl crate::events::relay::DeliverySink for PlatformOrderWebhooks {
    fn owe<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        events: &'a [stateset_domain::Event],
        give_up_at: DateTime<Utc>,
    ) -> futures::future::BoxFuture<'a, Result<usize, Error>> {
        Box::pin(enqueue_platform_events(conn, &self.0, events, give_up_at))
    }
}

/// Inside the relay's transaction: owes the agent platform (when `ACP_WEBHOOK_URL` is set) an
/// `order_create` for each ACP order placed and an `order_update` for each later change to
/// one (status, shipments, refunds), each carrying the full order. Returns how many.
async fn enqueue_platform_events(
    conn: &mut AsyncPgConnection,
    settings: &AcpSettings,
    events: &[stateset_domain::Event],
    give_up_at: DateTime<Utc>,
) -> Result<usize, Error> {
    let (Some(url), Some(secret)) = (&settings.webhook_url, &settings.webhook_secret) else {
        return Ok(0);
    };
    let mut rows = Vec::new();
    for event in events {
        let order_id = if event.entity_type == "order" {
            Some(event.entity_id)
        } else if event.event_type.starts_with("shipment.")
            || event.event_type.starts_with("payment.refund")
        {
            event.data["order_id"]
                .as_str()
                .and_then(|id| Uuid::parse_str(id).ok())
        } else {
            None
        };
        let Some(order_id) = order_id else { continue };
        let Some(order) = acp_order(conn, settings, order_id).await? else {
            continue;
        };
        let kind = if event.event_type == EventType::OrderCreated {
            "order_create"
        } else {
            "order_update"
        };
        rows.push(stateset_db::webhooks::NewDelivery {
            id: Uuid::now_v7(),
            webhook_id: PLATFORM_WEBHOOK_ID,
            event_id: event.id,
            event_sequence: Some(event.sequence),
            event_type: kind.to_owned(),
            payload: json!({ "type": kind, "data": order }),
            status: "pending",
            next_attempt_at: Some(Utc::now()),
            give_up_at,
        });
    }
    if rows.is_empty() {
        return Ok(0);
    }
    q::upsert_platform_webhook(conn, PLATFORM_WEBHOOK_ID, url, secret).await?;
    Ok(stateset_db::webhooks::insert_deliveries(conn, &rows).await?)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The cart a session's checkout is on.
async fn checkout_cart(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Uuid, Error> {
    Ok(checkout_q::checkout(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("checkout_session", id))?
        .cart_id)
}

/// Where the thing a checkout still lacks is set in ACP.
fn missing_path(missing: &str) -> &'static str {
    match missing {
        "email" => "$.buyer.email",
        "shipping_address" => "$.fulfillment_details.address",
        "shipping_method" => "$.selected_fulfillment_options",
        "stock" | "items" => "$.line_items",
        _ => "$",
    }
}

/// Renames a field path prefix in validation errors (`items[0]` → `$.line_items[0]`).
fn rename_fields(err: Error, from: &str, to: &str) -> Error {
    match err {
        Error::Validation(fields) => Error::Validation(
            fields
                .into_iter()
                .map(|mut f| {
                    if let Some(rest) = f.field.strip_prefix(from) {
                        let rest = rest
                            .replace(".variant_id", ".id")
                            .replace(".line1", ".line_one")
                            .replace(".line2", ".line_two")
                            .replace(".region", ".state");
                        f.field = format!("{to}{rest}");
                    }
                    f
                })
                .collect(),
        ),
        other => other,
    }
}
