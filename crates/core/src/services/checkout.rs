//! Checkout: from a cart to a paid order. Each step (email, addresses, shipping method,
//! discount code, payment token) updates the checkout and returns it with its totals
//! recomputed.
//!
//! Completion charges exactly once (see `payments::attempts`): under the checkout's lock the
//! payment attempt is written down with a key derived from the checkout; the provider is
//! called with no lock held; then one transaction places the order (reserving stock), records
//! the payment, counts the discount and writes the events. If that transaction cannot commit
//! (the stock went, the checkout changed), the payment is given back and nothing is created. A
//! decline creates nothing. A duplicate completion waits for the one paying and then gets the
//! same order; a retry after a lost answer or a crash resumes the same attempt.

use stateset_domain::EventType;
use std::sync::Arc;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::carts::{CartRef, CartService};
use super::checks::check_address;
use super::error::Validator;
use super::payments::attempts::{AttemptRow, Held};
use super::payments::{Begun, PaymentService, Pays};
use super::{Ctx, Error};
use crate::auth::Access;
use crate::metrics::{Business, Metrics};
use stateset_db::Db;
use stateset_db::carts::{self as cart_q, CartChanges};
use stateset_db::checkout::{self as q, CheckoutChanges, CheckoutRow};
use stateset_db::customers as customer_q;
use stateset_db::pricing as pricing_q;
use stateset_domain::pricing::{self, PricedLineInput, Pricing};
use stateset_domain::{
    Address, CartStatus, Checkout, CheckoutStatus, CheckoutTotals, CompletedCheckout, DiscountCode,
    Money, Payment, PaymentMethodSummary, ShippingMethod, ShippingOption,
};

/// A checkout to start from a cart.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct StartCheckoutInput {
    /// The cart's id or token.
    pub cart_id: String,
    pub email: Option<String>,
}

/// One or more checkout steps; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateCheckoutInput {
    pub email: Option<String>,
    pub shipping_address: Option<Address>,
    /// The shipping address when absent.
    pub billing_address: Option<Address>,
    /// One of the checkout's shipping options.
    pub shipping_method_id: Option<Uuid>,
    /// A discount code; an empty string removes it.
    pub discount_code: Option<String>,
    /// A `tok_...` from `POST /api/v1/payments/tokens`.
    pub payment_token: Option<String>,
}

/// Checkouts.
#[derive(Clone)]
pub struct CheckoutService {
    db: Db,
    payments: PaymentService,
    metrics: Arc<Metrics>,
}

fn address_of(value: &Option<serde_json::Value>) -> Option<Address> {
    value
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Everything a checkout's price depends on, read on one connection.
struct Priced {
    view: Checkout,
    pricing: Pricing,
    currency: String,
    discount: Option<DiscountCode>,
}

/// Prices a checkout as it stands and lists what it still lacks.
async fn price(conn: &mut AsyncPgConnection, row: &CheckoutRow) -> Result<Priced, Error> {
    let cart_row = cart_q::lock_cart(conn, Some(row.cart_id), None)
        .await?
        .ok_or_else(|| Error::not_found("cart", row.cart_id))?;
    let cart = super::carts::view(conn, cart_row).await?;
    let currency = cart.currency.clone();
    let shipping_address = address_of(&row.shipping_address);
    let mut missing = Vec::new();
    if cart.items.is_empty() {
        missing.push("items".to_owned());
    } else if !cart.purchasable {
        missing.push("stock".to_owned());
    }
    if row.email.is_none() {
        missing.push("email".to_owned());
    }
    let subtotal = cart.subtotal.amount;
    let grams: i64 = cart
        .items
        .iter()
        .map(|i| i64::from(i.weight_grams.unwrap_or(0)) * i64::from(i.quantity))
        .sum();
    let mut shipping = Decimal::ZERO;
    let mut shipping_method = None;
    let mut rates = Vec::new();
    match &shipping_address {
        None => missing.push("shipping_address".to_owned()),
        Some(address) => {
            rates = pricing_q::tax_rates_for(conn, &address.country, address.region.as_deref())
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            let option = match row.shipping_method_id {
                Some(id) => pricing_q::shipping_method(conn, id)
                    .await?
                    .map(ShippingMethod::from)
                    .and_then(|m| option_for(&m, address, subtotal, grams, &currency)),
                None => None,
            };
            match option {
                Some(option) => {
                    shipping = option.price.amount;
                    shipping_method = Some(option);
                }
                None => missing.push("shipping_method".to_owned()),
            }
        }
    }
    if row.payment_token.is_none() {
        missing.push("payment_token".to_owned());
    }
    let discount = match &row.discount_code {
        Some(code) => pricing_q::discount_by_code(conn, code, false)
            .await?
            .map(DiscountCode::from),
        None => None,
    };
    let variant_ids: Vec<Uuid> = cart.items.iter().map(|i| i.variant_id).collect();
    let tax_classes = pricing_q::tax_classes_of(conn, &variant_ids).await?;
    let lines: Vec<PricedLineInput> = cart
        .items
        .iter()
        .map(|i| PricedLineInput {
            unit_price: i.unit_price.amount,
            quantity: i.quantity,
            tax_class: tax_classes.get(&i.variant_id).cloned(),
        })
        .collect();
    let pricing = pricing::price(&lines, discount.as_ref(), shipping, &rates);
    let money = |amount: Decimal| Money::from_stored(amount, &currency);
    let payment_method = match &row.payment_token {
        Some(token) => q::token(conn, token).await?.map(|t| PaymentMethodSummary {
            token: t.id,
            brand: t.brand,
            last4: t.last4,
        }),
        None => None,
    };
    let view = Checkout {
        id: row.id,
        cart_id: row.cart_id,
        status: row.status,
        email: row.email.clone(),
        billing_address: address_of(&row.billing_address).or_else(|| shipping_address.clone()),
        shipping_address,
        shipping_method,
        discount_code: row.discount_code.clone(),
        payment_method,
        items: cart.items,
        totals: CheckoutTotals {
            subtotal: money(pricing.subtotal),
            discount_total: money(pricing.discount_total),
            shipping_total: money(pricing.shipping_total),
            tax_total: money(pricing.tax_total),
            total: money(pricing.total),
        },
        missing,
        order_id: row.order_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    Ok(Priced {
        view,
        pricing,
        currency,
        discount,
    })
}

fn option_for(
    method: &ShippingMethod,
    address: &Address,
    subtotal: Decimal,
    grams: i64,
    currency: &str,
) -> Option<ShippingOption> {
    if method.currency != currency || !method.serves(&address.country, address.region.as_deref()) {
        return None;
    }
    let price = method.price(subtotal, grams)?;
    Some(ShippingOption {
        method_id: method.id,
        name: method.name.clone(),
        carrier: method.carrier.clone(),
        service: method.service.clone(),
        price: Money::from_stored(price, currency),
        min_days: method.min_days,
        max_days: method.max_days,
    })
}

/// Why a discount code cannot be used by `email` on an order of `subtotal`, if it cannot.
async fn discount_refusal(
    conn: &mut AsyncPgConnection,
    code: &DiscountCode,
    subtotal: Decimal,
    email: Option<&str>,
) -> Result<Option<String>, Error> {
    let used = match email {
        Some(email) => pricing_q::redemptions_by(conn, code.id, email).await?,
        None => 0,
    };
    Ok(code.refusal(subtotal, Utc::now(), used))
}

impl CheckoutService {
    pub fn new(db: Db, payments: PaymentService, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            payments,
            metrics,
        }
    }

    /// Starts a checkout from an active cart (by id for its owner or staff, by token for
    /// whoever holds it).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn start(&self, ctx: &Ctx, input: StartCheckoutInput) -> Result<Checkout, Error> {
        let ctx = ctx.clone();
        self.db
            .tx("start", async move |conn: &mut AsyncPgConnection| {
                Self::start_in(conn, &ctx, input).await
            })
            .await
    }

    /// [`Self::start`] inside the caller's transaction.
    pub(crate) async fn start_in(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        input: StartCheckoutInput,
    ) -> Result<Checkout, Error> {
        let mut v = Validator::default();
        let email = input.email.as_deref().map(|e| v.email("email", e));
        v.finish()?;
        // Reading the cart through the cart service applies its access rules.
        let cart = CartService::get_in(conn, ctx, &CartRef::parse(&input.cart_id)).await?;
        if cart.status != stateset_domain::CartStatus::Active {
            return Err(Error::InvalidState {
                from: format!("cart {}", cart.status.as_str()),
                action: "check out".into(),
            });
        }
        let email = match email {
            Some(email) => Some(email),
            None => match cart.customer_id {
                Some(customer) => customer_q::customer_by_id(conn, customer)
                    .await?
                    .map(|c| c.email),
                None => None,
            },
        };
        let now = Utc::now();
        let row = CheckoutRow {
            id: Uuid::new_v4(),
            cart_id: cart.id,
            status: CheckoutStatus::Open,
            email,
            shipping_address: None,
            billing_address: None,
            shipping_method_id: None,
            discount_code: None,
            payment_token: None,
            order_id: None,
            payment_id: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        q::insert_checkout(conn, &row).await?;
        let checkout = price(conn, &row).await?.view;
        checkout_event(conn, EventType::CheckoutCreated, &checkout).await?;
        Ok(checkout)
    }

    async fn open(conn: &mut AsyncPgConnection, id: Uuid) -> Result<CheckoutRow, Error> {
        q::lock_checkout(conn, id)
            .await?
            .ok_or_else(|| Error::not_found("checkout", id))
    }

    /// A checkout with its totals as of now.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn get(&self, ctx: &Ctx, id: Uuid) -> Result<Checkout, Error> {
        let _ = ctx;
        self.db
            .tx("get checkout", async move |conn: &mut AsyncPgConnection| {
                Self::get_in(conn, id).await
            })
            .await
    }

    /// [`Self::get`] inside the caller's transaction.
    pub(crate) async fn get_in(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Checkout, Error> {
        let row = Self::open(conn, id).await?;
        Ok(price(conn, &row).await?.view)
    }

    /// The shipping methods that serve the checkout's address, priced for its cart.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn shipping_options(
        &self,
        ctx: &Ctx,
        id: Uuid,
    ) -> Result<Vec<ShippingOption>, Error> {
        let _ = ctx;
        self.db
            .tx(
                "shipping_options",
                async move |conn: &mut AsyncPgConnection| Self::shipping_options_in(conn, id).await,
            )
            .await
    }

    /// [`Self::shipping_options`] inside the caller's transaction.
    pub(crate) async fn shipping_options_in(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> Result<Vec<ShippingOption>, Error> {
        let row = Self::open(conn, id).await?;
        let Some(address) = address_of(&row.shipping_address) else {
            return Err(Error::InvalidState {
                from: "without a shipping address".into(),
                action: "list shipping methods".into(),
            });
        };
        let priced = price(conn, &row).await?;
        let grams: i64 = priced
            .view
            .items
            .iter()
            .map(|i| i64::from(i.weight_grams.unwrap_or(0)) * i64::from(i.quantity))
            .sum();
        Ok(pricing_q::shipping_methods(conn)
            .await?
            .into_iter()
            .map(ShippingMethod::from)
            .filter_map(|m| {
                option_for(
                    &m,
                    &address,
                    priced.pricing.subtotal,
                    grams,
                    &priced.currency,
                )
            })
            .collect())
    }

    /// Applies one or more steps and returns the checkout with its totals recomputed.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn update(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateCheckoutInput,
    ) -> Result<Checkout, Error> {
        // Before the lock: a Stripe payment method is looked up at Stripe.
        let token = match input.payment_token.as_deref() {
            Some(token) => Some(self.payments.resolve_token(token).await?.id),
            None => None,
        };
        let input = UpdateCheckoutInput {
            payment_token: token,
            ..input
        };
        self.db
            .tx("update", async move |conn: &mut AsyncPgConnection| {
                Self::update_in(conn, id, input).await
            })
            .await
    }

    /// [`Self::update`] inside the caller's transaction, with `payment_token` (if any) already
    /// resolved by [`PaymentService::resolve_token`].
    pub(crate) async fn update_in(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        input: UpdateCheckoutInput,
    ) -> Result<Checkout, Error> {
        let mut v = Validator::default();
        let email = input.email.as_deref().map(|e| v.email("email", e));
        let shipping_address = input
            .shipping_address
            .as_ref()
            .map(|a| check_address(&mut v, "shipping_address", a));
        let billing_address = input
            .billing_address
            .as_ref()
            .map(|a| check_address(&mut v, "billing_address", a));
        v.finish()?;
        let to_json = |a: Address| serde_json::to_value(a).map_err(anyhow::Error::new);
        let shipping_json = shipping_address.map(to_json).transpose()?;
        let billing_json = billing_address.map(to_json).transpose()?;
        let row = Self::open(conn, id).await?;
        if row.status != CheckoutStatus::Open {
            return Err(Error::InvalidState {
                from: row.status.to_string(),
                action: "change the checkout".into(),
            });
        }
        if stateset_db::payment_attempts::lock_open_for_checkout(conn, id)
            .await?
            .is_some()
        {
            return Err(Error::Conflict {
                field: None,
                message: "the checkout is being paid; wait for the payment to finish".into(),
            });
        }
        let mut changes = CheckoutChanges {
            email: email.map(Some),
            shipping_address: shipping_json.map(Some),
            billing_address: billing_json.map(Some),
            shipping_method_id: input.shipping_method_id.map(Some),
            payment_token: input.payment_token.clone().map(Some),
            updated_at: Some(Utc::now()),
            ..Default::default()
        };
        if let Some(code) = input.discount_code.as_deref() {
            changes.discount_code = Some(if code.trim().is_empty() {
                None
            } else {
                let Some(found) = pricing_q::discount_by_code(conn, code, false).await? else {
                    return Err(Error::invalid("discount_code", "no such code"));
                };
                Some(found.code)
            });
        }
        let row = q::update_checkout(conn, id, &changes).await?;
        let priced = price(conn, &row).await?;
        if let Some(method) = input.shipping_method_id
            && priced
                .view
                .shipping_method
                .as_ref()
                .is_none_or(|m| m.method_id != method)
        {
            return Err(Error::invalid(
                "shipping_method_id",
                "is not one of this checkout's shipping options",
            ));
        }
        if let (Some(_), Some(code)) = (&input.discount_code, &priced.discount)
            && let Some(why) =
                discount_refusal(conn, code, priced.pricing.subtotal, row.email.as_deref()).await?
        {
            return Err(Error::invalid("discount_code", why));
        }
        checkout_event(conn, EventType::CheckoutUpdated, &priced.view).await?;
        Ok(priced.view)
    }

    /// Places the order and takes the payment (see the module comment). Completing a
    /// completed checkout returns its order and payment again.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, checkout.id = %id))]
    pub async fn complete(&self, ctx: &Ctx, id: Uuid) -> Result<CompletedCheckout, Error> {
        let started = std::time::Instant::now();
        loop {
            match self.begin_completion(id).await? {
                Completion::Done(completed) => return Ok(*completed),
                Completion::Pay(attempt) => return self.pay_and_place(ctx, id, *attempt).await,
                Completion::Wait if started.elapsed() < WAIT_FOR_PAYMENT => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Completion::Wait => {
                    return Err(Error::Conflict {
                        field: None,
                        message: "this checkout's payment is still in progress; retry shortly"
                            .into(),
                    });
                }
            }
        }
    }

    /// Under the checkout's lock: the finished result, or the payment attempt to make (new, or
    /// one in doubt taken over), or word that someone else is paying right now.
    async fn begin_completion(&self, id: Uuid) -> Result<Completion, Error> {
        let capture = self.payments.checkout_captures();
        self.db
            .tx(
                "begin_completion",
                async move |conn: &mut AsyncPgConnection| {
                    let row = Self::open(conn, id).await?;
                    if let (Some(order_id), Some(payment_id)) = (row.order_id, row.payment_id) {
                        let done = completed(conn, &row, order_id, payment_id).await?;
                        return Ok(Completion::Done(Box::new(done)));
                    }
                    let priced = ready_to_pay(conn, &row).await?;
                    let pays = Pays {
                        checkout_id: Some(id),
                        order_id: None,
                        amount: priced.pricing.total,
                        currency: priced.currency.clone(),
                        client_key: None,
                    };
                    let token = row.payment_token.clone().unwrap_or_default();
                    Ok(
                        match self
                            .payments
                            .begin_authorization(conn, &pays, &token, capture)
                            .await?
                        {
                            Begun::Held(Held::Mine(attempt)) => Completion::Pay(attempt),
                            Begun::Held(Held::Busy) | Begun::Applied(_) => Completion::Wait,
                        },
                    )
                },
            )
            .await
    }

    /// Charges through the provider (no lock held), then places the order with its payment in
    /// one transaction; gives the money back when that transaction cannot commit.
    async fn pay_and_place(
        &self,
        ctx: &Ctx,
        id: Uuid,
        attempt: AttemptRow,
    ) -> Result<CompletedCheckout, Error> {
        let attempt = match self.payments.run_attempt(attempt).await {
            Ok(attempt) => attempt,
            Err(Error::PaymentDeclined { decline_code }) => {
                self.payments
                    .record_decline("checkout", id, &decline_code)
                    .await;
                return Err(Error::PaymentDeclined { decline_code });
            }
            Err(err) => return Err(err),
        };
        let ctx = ctx.clone();
        let placed = self
            .db
            .tx("pay_and_place", async |conn: &mut AsyncPgConnection| {
                self.place_paid_order(conn, &ctx, id, &attempt).await
            })
            .await;
        match placed {
            Ok((completed, reservations)) => {
                super::orders::count_placed(&self.metrics, reservations);
                self.metrics.observe_business(Business::PaymentProcessed, 1);
                Ok(completed)
            }
            Err(err) => {
                self.payments.undo_after(&attempt, &err).await;
                Err(err)
            }
        }
    }

    /// The second transaction of a completion: the checkout is still what was paid for, the
    /// order is placed, the payment recorded, the discount counted, cart and checkout done.
    /// Also gives the number of stock reservations made, to count once this commits.
    async fn place_paid_order(
        &self,
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        id: Uuid,
        attempt: &AttemptRow,
    ) -> Result<(CompletedCheckout, usize), Error> {
        let row = Self::open(conn, id).await?;
        let priced = ready_to_pay(conn, &row).await?;
        if priced.pricing.total != attempt.amount || priced.currency != attempt.currency {
            return Err(Error::Conflict {
                field: None,
                message:
                    "the checkout changed while it was being paid; review it and complete it again"
                        .into(),
            });
        }
        let email = row.email.clone().unwrap_or_default();
        // The code is locked so its use limits hold under concurrent checkouts.
        let discount = match &priced.discount {
            Some(code) => {
                let locked = pricing_q::discount_by_code(conn, &code.code, true)
                    .await?
                    .map(DiscountCode::from)
                    .ok_or_else(|| Error::invalid("discount_code", "no such code"))?;
                if let Some(why) =
                    discount_refusal(conn, &locked, priced.pricing.subtotal, Some(&email)).await?
                {
                    return Err(Error::invalid("discount_code", why));
                }
                Some(locked)
            }
            None => None,
        };
        let customer = match customer_q::customer_by_email(conn, &email).await? {
            Some(customer) => customer.id,
            None => {
                let now = Utc::now();
                let shipping = priced.view.shipping_address.clone();
                let row = customer_q::CustomerRow {
                    id: Uuid::now_v7(),
                    user_id: None,
                    email: email.clone(),
                    first_name: shipping.as_ref().and_then(|a| a.first_name.clone()),
                    last_name: shipping.as_ref().and_then(|a| a.last_name.clone()),
                    phone: None,
                    tags: vec!["guest".into()],
                    notes: None,
                    default_shipping_address_id: None,
                    default_billing_address_id: None,
                    created_at: now,
                    updated_at: now,
                };
                customer_q::insert_customer(conn, &row).await?;
                row.id
            }
        };
        let items = priced
            .view
            .items
            .iter()
            .zip(&priced.pricing.lines)
            .map(|(item, line)| super::orders::OrderLineInput {
                variant_id: item.variant_id,
                quantity: item.quantity,
                unit_price: Some(item.unit_price.amount),
                discount: Some(line.discount),
                // Only tax charged on top: tax included in prices is in them already.
                tax: Some(line.total - line.subtotal + line.discount),
            })
            .collect();
        let lines_total: Decimal = priced.pricing.lines.iter().map(|l| l.total).sum();
        let input = super::orders::CreateOrderInput {
            customer_id: Some(customer),
            currency: Some(priced.currency.clone()),
            items,
            // Shipping with the tax charged on it: what is left of the total.
            shipping_total: Some(priced.pricing.total - lines_total),
            shipping_address: priced.view.shipping_address.clone(),
            billing_address: priced.view.billing_address.clone(),
            tags: vec!["checkout".into()],
            attributes: Some(serde_json::json!({ "checkout_id": row.id })),
            notes: None,
        };
        let super::orders::PlacedOrder {
            detail: order,
            reservations,
        } = super::orders::place_order(
            conn,
            ctx,
            Access::All,
            input,
            super::orders::PriceSource::Checkout,
        )
        .await?;
        if order.order.total.amount != attempt.amount {
            return Err(Error::Internal(anyhow::anyhow!(
                "checkout {id} priced {} but its order totals {}",
                attempt.amount,
                order.order.total.amount
            )));
        }
        let payment = self
            .payments
            .record_payment(conn, attempt, order.order.id)
            .await?;
        let now = Utc::now();
        if let Some(code) = &discount {
            pricing_q::redeem(conn, code.id, order.order.id, &email).await?;
        }
        let converted = CartChanges {
            status: Some(CartStatus::Converted.as_str()),
            updated_at: Some(now),
            ..Default::default()
        };
        cart_q::update_cart(conn, row.cart_id, &converted).await?;
        let done = CheckoutChanges {
            status: Some(CheckoutStatus::Completed.as_str()),
            order_id: Some(Some(order.order.id)),
            payment_id: Some(Some(payment.id)),
            updated_at: Some(now),
            completed_at: Some(Some(now)),
            ..Default::default()
        };
        let row = q::update_checkout(conn, id, &done).await?;
        let mut checkout = priced.view;
        checkout.status = CheckoutStatus::Completed;
        checkout.order_id = row.order_id;
        checkout_event(conn, EventType::CheckoutCompleted, &checkout).await?;
        let completed = CompletedCheckout {
            checkout,
            order: order.order,
            payment,
        };
        Ok((completed, reservations))
    }
}

/// How long a duplicate completion waits for the one already paying before it gives up.
const WAIT_FOR_PAYMENT: std::time::Duration = std::time::Duration::from_secs(20);

/// Where a completion stands.
enum Completion {
    Done(Box<CompletedCheckout>),
    Pay(Box<AttemptRow>),
    Wait,
}

/// The checkout priced, with nothing missing but the payment and its discount code usable.
async fn ready_to_pay(conn: &mut AsyncPgConnection, row: &CheckoutRow) -> Result<Priced, Error> {
    if row.status != CheckoutStatus::Open {
        return Err(Error::InvalidState {
            from: row.status.to_string(),
            action: "complete the checkout".into(),
        });
    }
    let priced = price(conn, row).await?;
    if !priced.view.missing.is_empty() {
        let mut v = Validator::default();
        for field in &priced.view.missing {
            v.add(
                field.clone(),
                "is needed before the checkout can be completed",
            );
        }
        v.finish()?;
    }
    if let Some(code) = &priced.discount
        && let Some(why) =
            discount_refusal(conn, code, priced.pricing.subtotal, row.email.as_deref()).await?
    {
        return Err(Error::invalid("discount_code", why));
    }
    Ok(priced)
}

/// Writes a checkout event carrying the checkout as shown, minus the payment token (which
/// could still pay until it is used).
async fn checkout_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    checkout: &Checkout,
) -> Result<(), Error> {
    let mut event = crate::events::DomainEvent::about(
        event_type,
        "checkout",
        checkout.id,
        checkout,
        serde_json::json!({}),
    )
    .map_err(anyhow::Error::new)?;
    if let Some(method) = event
        .data
        .get_mut("payment_method")
        .and_then(serde_json::Value::as_object_mut)
    {
        method.remove("token");
    }
    crate::events::record(conn, event).await?;
    Ok(())
}

/// The result of a checkout completed earlier.
async fn completed(
    conn: &mut AsyncPgConnection,
    row: &CheckoutRow,
    order_id: Uuid,
    payment_id: Uuid,
) -> Result<CompletedCheckout, Error> {
    let order = super::orders::order_by_id(conn, order_id).await?;
    let payment = q::payment(conn, payment_id)
        .await?
        .map(Payment::from)
        .ok_or_else(|| Error::not_found("payment", payment_id))?;
    let checkout = price(conn, row).await?.view;
    Ok(CompletedCheckout {
        checkout,
        order,
        payment,
    })
}
