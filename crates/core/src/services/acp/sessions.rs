//! ACP checkout sessions: create, read, update, complete and cancel, each returning the
//! session as a typed [`Session`] for the adapter to render.
//!
//! A session *is* a checkout (same id) on a cart made from the requested SKUs or variant ids;
//! what only ACP knows lives in `acp_sessions.state` ([`SessionDetails`], stored as JSON).
//! Items short of stock are still put in the cart so the agent sees the problem and can fix
//! the quantity. Prices and totals always come from the checkout, never from the request.

use chrono::Utc;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stateset_domain::quantity::check_line_units;
use stateset_domain::{EventType, Sku};
use uuid::Uuid;

use super::{AcpService, HANDLER_ID, PERMISSION, SELLER_INTERVENTIONS, rename_fields, visible};
use crate::services::carts::{CartLineInput, CartRef, CreateCartInput, Shortfall};
use crate::services::checkout::{StartCheckoutInput, UpdateCheckoutInput};
use crate::services::error::Validator;
use crate::services::{CartService, CheckoutService, Ctx, Error};
use stateset_db::acp::{self as q, SessionRow};
use stateset_db::carts as cart_q;
use stateset_db::checkout::{self as checkout_q, CheckoutChanges};
use stateset_domain::{
    Address, AgentSessionStatus, Checkout, CheckoutStatus, Order, ShippingOption,
};

/// An item an agent asks for: our variant SKU or variant id, and a quantity (1 when `None`).
/// There is no price: what an item costs is ours to say.
#[derive(Debug, Clone)]
pub struct LineItemRequest {
    pub id: String,
    pub quantity: Option<i64>,
}

/// A buyer, as ACP spells it: stored in [`SessionDetails`] and read and shown as is by the
/// ACP door.
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

/// An address as ACP gives it (one `name`, `state` for the region).
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

/// Why the buyer walked away.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IntentTrace {
    pub reason_code: String,
    pub trace_summary: Option<String>,
    pub metadata: Option<Value>,
}

/// What the agent said it can do.
#[derive(Debug, Clone, Default)]
pub struct AgentCapabilities {
    /// Interventions the agent supports.
    pub interventions: Vec<String>,
}

/// A new session.
#[derive(Debug, Clone)]
pub struct CreateSession {
    pub line_items: Vec<LineItemRequest>,
    /// An ISO 4217 code in either case.
    pub currency: String,
    /// `None` when the agent sent no capabilities object, which is refused.
    pub capabilities: Option<AgentCapabilities>,
    pub buyer: Option<Buyer>,
    pub fulfillment_details: Option<FulfillmentDetails>,
    /// Discount codes to try, in order (the first one is applied).
    pub discount_codes: Vec<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub quote_id: Option<String>,
    pub metadata: Option<Value>,
    pub order_notes: Option<String>,
}

/// A change to a session: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateSession {
    pub buyer: Option<Option<Buyer>>,
    pub line_items: Option<Vec<LineItemRequest>>,
    pub fulfillment_details: Option<Option<FulfillmentDetails>>,
    pub selected_fulfillment_options: Option<Option<Vec<SelectedOption>>>,
    /// The discount codes to try instead of the session's (empty: none).
    pub discount_codes: Option<Vec<String>>,
    pub order_notes: Option<Option<String>>,
}

/// How the buyer pays: a payment handler and a delegated token.
#[derive(Debug, Clone, Default)]
pub struct Payment {
    pub handler_id: Option<String>,
    pub token: Option<String>,
}

/// Completing a session.
#[derive(Debug, Clone)]
pub struct CompleteSession {
    pub payment: Payment,
    pub buyer: Option<Buyer>,
    pub order_notes: Option<String>,
}

/// Canceling a session.
#[derive(Debug, Clone, Default)]
pub struct CancelSession {
    pub intent_trace: Option<IntentTrace>,
}

/// Everything ACP keeps about a session beside the checkout: the `state` column, whose JSON
/// is this struct's serde form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SessionDetails {
    #[serde(default)]
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_details: Option<FulfillmentDetails>,
    #[serde(default)]
    pub selected_fulfillment_options: Vec<SelectedOption>,
    /// Interventions the agent said it supports.
    #[serde(default)]
    pub interventions: Vec<String>,
    #[serde(default)]
    pub discount_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_trace: Option<IntentTrace>,
}

/// Where a session stands; derived, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Something is missing (email, address, option) or an item is short of stock.
    NotReadyForPayment,
    /// The checkout lacks nothing but payment and every item can be bought.
    ReadyForPayment,
    /// The checkout placed its order.
    Completed,
    /// Canceled by the agent.
    Canceled,
}

/// The order a completed session placed.
#[derive(Debug, Clone)]
pub struct PlacedOrder {
    pub order: Order,
    /// The order's status page (see `services::order_pages`).
    pub permalink_url: String,
}

/// A session as it stands, with what showing it needs.
#[derive(Debug, Clone)]
pub struct Session {
    /// The checkout the session is: items, prices, totals, what is missing.
    pub checkout: Checkout,
    pub status: SessionStatus,
    pub details: SessionDetails,
    /// The interventions both this seller and the agent support.
    pub interventions: Vec<String>,
    /// Shipping options for the session's address (the chosen one once completed).
    pub fulfillment_options: Vec<ShippingOption>,
    pub order: Option<PlacedOrder>,
    /// Discount codes this request tried that the checkout refused.
    pub rejected_codes: Vec<String>,
}

fn load_state(row: &SessionRow) -> SessionDetails {
    serde_json::from_value(row.state.clone()).unwrap_or_default()
}

fn state_json(state: &SessionDetails) -> Result<Value, Error> {
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
    crate::services::checks::check_address(&mut shared, "address", &to_address(a, None));
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

/// Where the thing a checkout still lacks is set in an ACP request.
fn missing_path(missing: &str) -> &'static str {
    match missing {
        "email" => "$.buyer.email",
        "shipping_address" => "$.fulfillment_details.address",
        "shipping_method" => "$.selected_fulfillment_options",
        "stock" | "items" => "$.line_items",
        _ => "$",
    }
}

/// The cart a session's checkout is on.
async fn checkout_cart(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Uuid, Error> {
    Ok(checkout_q::checkout(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("checkout_session", id))?
        .cart_id)
}

impl SessionStatus {
    /// The status of a session on `checkout` whose row says `row_status`: `completed` from
    /// the checkout, `canceled` from the row, otherwise ready exactly when nothing but the
    /// payment is missing and every item can be bought.
    fn of(checkout: &Checkout, row_status: AgentSessionStatus) -> Self {
        if checkout.status == CheckoutStatus::Completed {
            Self::Completed
        } else if row_status == AgentSessionStatus::Canceled {
            Self::Canceled
        } else if checkout.missing.iter().all(|m| m == "payment_token")
            && checkout.items.iter().all(|item| item.purchasable)
        {
            Self::ReadyForPayment
        } else {
            Self::NotReadyForPayment
        }
    }
}

impl AcpService {
    /// Finds each requested item by variant SKU or id; unknown ids name their JSONPath.
    async fn resolve_items(
        conn: &mut AsyncPgConnection,
        items: &[LineItemRequest],
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
            let by_sku = match Sku::parse(id) {
                Ok(sku) => stateset_db::catalog::variant_by_sku(conn, &sku).await?,
                // Not a SKU's shape: it may still be a variant id.
                Err(_) => None,
            };
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
    /// kept and reported as out of stock), a checkout on it, the session row, then the
    /// buyer, address and discount codes if given.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create(&self, ctx: &Ctx, input: CreateSession) -> Result<Session, Error> {
        ctx.authorize(PERMISSION)?;
        let mut v = Validator::default();
        let currency = v.currency("$.currency", &input.currency);
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
        if input.capabilities.is_none() {
            v.add("$.capabilities", "must be an object");
        }
        v.finish()?;
        let Some(currency) = currency else {
            return Err(Error::invalid("$.currency", "is required"));
        };
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
                if cart.currency != currency.as_str() {
                    return Err(Error::invalid(
                        "$.currency",
                        format!(
                            "these items are sold in {}",
                            cart.currency.to_ascii_lowercase()
                        ),
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
                let interventions = input
                    .capabilities
                    .clone()
                    .map(|c| c.interventions)
                    .unwrap_or_default();
                let codes = input.discount_codes.clone();
                let state = SessionDetails {
                    // Kept as ACP writes it.
                    currency: currency.acp_code(),
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
                    status: AgentSessionStatus::Open,
                    state: state_json(&state)?,
                    principal: ctx.principal.key(),
                    created_at: now,
                    updated_at: now,
                };
                q::insert_session(conn, &row).await?;
                let update = UpdateSession {
                    fulfillment_details: state.fulfillment_details.clone().map(Some),
                    discount_codes: (!codes.is_empty()).then_some(codes),
                    ..Default::default()
                };
                let (row, rejected) = Self::apply_update(conn, &ctx, row, update).await?;
                self.view_in(conn, &row, rejected).await
            })
            .await
    }

    /// The session as it stands.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn get(&self, ctx: &Ctx, id: Uuid) -> Result<Session, Error> {
        ctx.authorize(PERMISSION)?;
        let ctx = ctx.clone();
        self.db
            .tx("get", async |conn: &mut AsyncPgConnection| {
                let row = q::session(conn, id)
                    .await?
                    .filter(|row| visible(&ctx, row))
                    .ok_or_else(|| Error::not_found("checkout_session", id))?;
                self.view_in(conn, &row, Vec::new()).await
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
        if row.status == AgentSessionStatus::Canceled {
            return Err(Error::InvalidState {
                from: row.status.to_string(),
                action: action.into(),
            });
        }
        let checkout = checkout_q::checkout(conn, id)
            .await?
            .ok_or_else(|| Error::not_found("checkout_session", id))?;
        if checkout.status == CheckoutStatus::Completed {
            return Err(Error::InvalidState {
                from: checkout.status.to_string(),
                action: action.into(),
            });
        }
        Ok(row)
    }

    /// Applies an update (see [`UpdateSession`]) in one transaction.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn update(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateSession,
    ) -> Result<Session, Error> {
        ctx.authorize(PERMISSION)?;
        let ctx = ctx.clone();
        self.db
            .tx("update", async |conn: &mut AsyncPgConnection| {
                let row = Self::open_session(conn, &ctx, id, "update the session").await?;
                let (row, rejected) = Self::apply_update(conn, &ctx, row, input).await?;
                self.view_in(conn, &row, rejected).await
            })
            .await
    }

    /// Applies an update to a locked session inside the caller's transaction; returns the
    /// session as saved and the discount codes that were rejected.
    async fn apply_update(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        row: SessionRow,
        input: UpdateSession,
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
        let codes = input.discount_codes;
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
        q::update_session(conn, id, row.status, &saved).await?;
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
        input: CompleteSession,
    ) -> Result<Session, Error> {
        ctx.authorize(PERMISSION)?;
        let payment = &input.payment;
        let mut v = Validator::default();
        if let Some(buyer) = &input.buyer {
            v.email("$.buyer.email", &buyer.email);
        }
        match payment.handler_id.as_deref() {
            Some(HANDLER_ID) => {}
            Some(_) => v.add(
                "$.payment_data.handler_id",
                "is not a payment handler offered for this session",
            ),
            None => v.add("$.payment_data.handler_id", "is required"),
        }
        let token = payment
            .token
            .as_deref()
            .map(|t| t.trim().to_owned())
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
                q::update_session(conn, id, AgentSessionStatus::Open, &saved).await?;
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
        self.view(&row).await
    }

    /// Cancels an open session.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn cancel(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: CancelSession,
    ) -> Result<Session, Error> {
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
                if row.status == AgentSessionStatus::Canceled
                    || checkout.status == CheckoutStatus::Completed
                {
                    let from = if row.status == AgentSessionStatus::Canceled {
                        row.status.to_string()
                    } else {
                        checkout.status.to_string()
                    };
                    return Err(Error::InvalidState {
                        from,
                        action: "cancel the session".into(),
                    });
                }
                let mut state = load_state(&row);
                state.intent_trace = input.intent_trace;
                let state = state_json(&state)?;
                q::update_session(conn, id, AgentSessionStatus::Canceled, &state).await?;
                let event = crate::events::DomainEvent {
                    event_type: EventType::CheckoutCanceled,
                    entity_type: "checkout",
                    entity_id: id,
                    data: json!({ "id": id, "channel": "acp" }),
                };
                crate::events::record(conn, event).await?;
                Ok(SessionRow {
                    status: AgentSessionStatus::Canceled,
                    state,
                    ..row
                })
            })
            .await?;
        self.view(&row).await
    }

    /// The session as it stands, read in a transaction of its own.
    async fn view(&self, row: &SessionRow) -> Result<Session, Error> {
        self.db
            .tx("render session", async |conn: &mut AsyncPgConnection| {
                self.view_in(conn, row, Vec::new()).await
            })
            .await
    }

    /// The session as it stands, read inside the caller's transaction; `rejected_codes` are
    /// discount codes this request tried and the checkout refused.
    async fn view_in(
        &self,
        conn: &mut AsyncPgConnection,
        row: &SessionRow,
        rejected_codes: Vec<String>,
    ) -> Result<Session, Error> {
        let checkout = CheckoutService::get_in(conn, row.checkout_id).await?;
        let details = load_state(row);
        let fulfillment_options = if checkout.status == CheckoutStatus::Completed {
            checkout.shipping_method.clone().into_iter().collect()
        } else {
            Self::options(conn, row.checkout_id).await?
        };
        let order = match checkout.order_id {
            Some(order_id) => Some(PlacedOrder {
                order: crate::services::orders::order_by_id(conn, order_id).await?,
                permalink_url: crate::services::order_pages::status_url(
                    conn,
                    &self.settings,
                    order_id,
                )
                .await?,
            }),
            None => None,
        };
        let interventions = SELLER_INTERVENTIONS
            .iter()
            .filter(|i| details.interventions.iter().any(|a| a == *i))
            .map(|i| (*i).to_owned())
            .collect();
        Ok(Session {
            status: SessionStatus::of(&checkout, row.status),
            checkout,
            details,
            interventions,
            fulfillment_options,
            order,
            rejected_codes,
        })
    }
}
