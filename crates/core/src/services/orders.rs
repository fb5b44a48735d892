//! The order management system: placing orders, the status lifecycle (declared once in
//! `domain::order`), holds, cancellation, archiving, merging and splitting, with a history
//! entry and an event for every change. Customers see and place only their own orders.

use stateset_domain::EventType;
use stateset_domain::quantity::check_line_units;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::{check_address, check_json_object, check_tags, optional_text};
use super::error::Validator;
use super::inventory::{self, Hold, Want};
use super::page::{Keyset, Page, PageRequest};
use super::shipments;
use super::{Ctx, Error};
use crate::auth::Access;
use crate::events::{self, DomainEvent};
use crate::metrics::{Business, Metrics};
use stateset_db::Db;
use stateset_db::customers as customer_q;
use stateset_db::orders::{self as q, HistoryRow, OrderChanges, OrderItemRow, OrderRow};
use stateset_domain::Currency;
use stateset_domain::money::MAX_SCALE;
use stateset_domain::order::{Totals, line_total};
use stateset_domain::{
    Address, Order, OrderAction, OrderDetail, OrderFilter, OrderHistoryEntry, OrderItem, OrderSort,
    OrderStatus,
};

const MAX_LINES: usize = 500;
const MAX_REASON: usize = 1_000;
const MAX_NOTES: usize = 10_000;
/// The permission to set an order's prices, discounts, taxes or shipping by hand.
pub const OVERRIDE_PRICE: &str = "orders:override_price";

/// One line of a new order. The money fields are staff overrides: each needs the
/// `orders:override_price` permission and is recorded in the order's history.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct OrderLineInput {
    pub variant_id: Uuid,
    /// 1 or more.
    pub quantity: i32,
    /// Override: price per unit instead of the variant's current price.
    #[schema(value_type = Option<String>)]
    pub unit_price: Option<Decimal>,
    /// Override: discount on the whole line instead of none.
    #[schema(value_type = Option<String>)]
    pub discount: Option<Decimal>,
    /// Override: tax on the whole line instead of the tax rules' amount for the shipping
    /// address.
    #[schema(value_type = Option<String>)]
    pub tax: Option<Decimal>,
}

/// A new order.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateOrderInput {
    /// Required for staff; a customer's own record when a customer orders.
    pub customer_id: Option<Uuid>,
    /// ISO 4217 code; the variants' currency when absent. Every line must be in it.
    pub currency: Option<String>,
    pub items: Vec<OrderLineInput>,
    /// Override (`orders:override_price`): shipping charged instead of none.
    #[schema(value_type = Option<String>)]
    pub shipping_total: Option<Decimal>,
    /// Copied into the order; the customer's default when absent.
    pub shipping_address: Option<Address>,
    /// Copied into the order; the customer's default when absent.
    pub billing_address: Option<Address>,
    #[serde(default)]
    #[graphql(default)]
    pub tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    pub notes: Option<String>,
}

/// Changes to an order's tags, attributes or notes; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateOrderInput {
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// Replaces all attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    pub notes: Option<String>,
}

/// A line (or part of one) to move into a new order.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct SplitLineInput {
    pub item_id: Uuid,
    /// How many units to move; the whole line when absent.
    pub quantity: Option<i32>,
}

/// An order looked up by id or by number.
#[derive(Debug, Clone)]
pub enum OrderRef {
    Id(Uuid),
    Number(String),
}

/// The order service.
#[derive(Clone)]
pub struct OrderService {
    db: Db,
    /// The event feed that `watch` follows.
    events: super::EventService,
    /// How the invoice of a completed order is made.
    invoice_settings: crate::config::InvoiceSettings,
    metrics: Arc<Metrics>,
}

fn check_amount(v: &mut Validator, field: &str, amount: Option<Decimal>) -> Decimal {
    let amount = amount.unwrap_or(Decimal::ZERO);
    if amount.is_sign_negative() && !amount.is_zero() {
        v.add(field, "must not be negative");
    } else if amount.normalize().scale() > MAX_SCALE {
        v.add(
            field,
            format!("must have at most {MAX_SCALE} decimal places"),
        );
    } else if amount >= Decimal::from(1_000_000_000_000i64) {
        v.add(field, "is too large");
    }
    amount
}

fn invalid_transition(from: OrderStatus, action: &str) -> Error {
    Error::InvalidState {
        from: from.as_str().to_owned(),
        action: action.to_owned(),
    }
}

/// The permission each action needs.
fn permission_for(action: OrderAction) -> &'static str {
    match action {
        OrderAction::Cancel => "orders:cancel",
        OrderAction::Archive => "orders:archive",
        _ => "orders:update",
    }
}

/// Whether the caller may see this order: everything, or only orders of their own customer.
pub(crate) async fn visible(
    conn: &mut AsyncPgConnection,
    access: Access,
    order: &OrderRow,
) -> Result<bool, Error> {
    Ok(match access {
        Access::All => true,
        Access::Own(user) => customer_q::customer_by_id(conn, order.customer_id)
            .await?
            .is_some_and(|c| c.user_id == Some(user)),
    })
}

async fn detail(conn: &mut AsyncPgConnection, row: OrderRow) -> Result<OrderDetail, Error> {
    let items = q::items_for(conn, &[row.id])
        .await?
        .into_iter()
        .map(|i| i.into_domain(&row.currency))
        .collect();
    Ok(OrderDetail {
        order: row.into(),
        items,
    })
}

/// Recomputes and stores an order's totals from its lines.
async fn retotal(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    shipping: Decimal,
) -> Result<OrderRow, Error> {
    let items = q::items_for(conn, &[order.id]).await?;
    let totals = Totals::of(
        items
            .iter()
            .map(|i| (i.quantity, i.unit_price, i.discount, i.tax)),
        shipping,
    );
    let changes = OrderChanges {
        subtotal: Some(totals.subtotal),
        discount_total: Some(totals.discount),
        shipping_total: Some(totals.shipping),
        tax_total: Some(totals.tax),
        total: Some(totals.total),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    Ok(q::update_order(conn, order.id, &changes).await?)
}

/// One history entry.
struct History<'a> {
    action: &'a str,
    from: Option<OrderStatus>,
    to: Option<OrderStatus>,
    reason: Option<String>,
    details: serde_json::Value,
}

async fn write_history(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    order_id: Uuid,
    entry: History<'_>,
) -> Result<(), Error> {
    let row = HistoryRow {
        id: Uuid::now_v7(),
        order_id,
        action: entry.action.to_owned(),
        from_status: entry.from.map(|s| s.as_str().to_owned()),
        to_status: entry.to.map(|s| s.as_str().to_owned()),
        reason: entry.reason,
        actor: ctx.principal.key(),
        details: entry.details,
        created_at: Utc::now(),
    };
    q::insert_history(conn, &row).await?;
    Ok(())
}

/// Records `event_type` with the order as it now is, plus `extra` fields.
async fn order_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    order: &OrderDetail,
    extra: serde_json::Value,
) -> Result<(), Error> {
    let event = DomainEvent::about(event_type, "order", order.order.id, order, extra)
        .map_err(anyhow::Error::new)?;
    events::record(conn, event).await?;
    Ok(())
}

/// One move of an order along its lifecycle.
pub(crate) struct Step {
    pub action: OrderAction,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub reason: Option<String>,
    /// Written to the history entry: what caused the move (a shipment, ...).
    pub details: serde_json::Value,
}

/// Writes a move the order row already made: its history entry, `order.status_changed`, and
/// the milestone event others act on (`order.shipped`, ...). Returns the order as it now is.
pub(crate) async fn record_step(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    row: OrderRow,
    step: Step,
) -> Result<OrderDetail, Error> {
    let Step {
        action,
        from,
        to,
        reason,
        details,
    } = step;
    let history = History {
        action: action.as_str(),
        from: Some(from),
        to: Some(to),
        reason: reason.clone(),
        details,
    };
    write_history(conn, ctx, row.id, history).await?;
    let detail = detail(conn, row).await?;
    let change = serde_json::json!({ "from": from, "to": to, "action": action, "reason": reason });
    order_event(conn, EventType::OrderStatusChanged, &detail, change.clone()).await?;
    let milestone = match (action, to) {
        (OrderAction::Ship, OrderStatus::Shipped) => Some(EventType::OrderShipped),
        (OrderAction::Deliver, _) => Some(EventType::OrderDelivered),
        (OrderAction::Complete, _) => Some(EventType::OrderCompleted),
        (OrderAction::Cancel, _) => Some(EventType::OrderCancelled),
        (OrderAction::Archive, _) => Some(EventType::OrderArchived),
        _ => None,
    };
    if let Some(milestone) = milestone {
        order_event(conn, milestone, &detail, change).await?;
    }
    Ok(detail)
}

/// Moves a locked order through `steps` (each an action and where it leads), as shipments
/// leaving or arriving drive it; each step is recorded like a change by hand.
pub(crate) async fn advance(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    mut row: OrderRow,
    steps: &[(OrderAction, OrderStatus)],
    details: serde_json::Value,
) -> Result<OrderRow, Error> {
    for &(action, to) in steps {
        let from = row.status;
        let changes = OrderChanges {
            status: Some(to.as_str().to_owned()),
            updated_at: Some(Utc::now()),
            ..Default::default()
        };
        row = q::update_order(conn, row.id, &changes).await?;
        let step = Step {
            action,
            from,
            to,
            reason: None,
            details: details.clone(),
        };
        record_step(conn, ctx, row.clone(), step).await?;
    }
    Ok(row)
}

/// Locks an order for a service that acts on it on another's behalf (shipments).
pub(crate) async fn lock_order(conn: &mut AsyncPgConnection, id: Uuid) -> Result<OrderRow, Error> {
    q::lock_orders(conn, &[id])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("order", id))
}

/// Where the money on a new order comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PriceSource {
    /// Checkout priced every line and the shipping from the catalog, the discount and the tax
    /// rules; the input carries its amounts.
    Checkout,
    /// The catalog's prices and the tax rules for the shipping address, with no discount or
    /// shipping; amounts in the input are overrides the caller was allowed to make.
    Catalog,
}

/// The money fields a caller set on a new order, by field path: each is a price override.
fn price_overrides(input: &CreateOrderInput) -> Vec<String> {
    let mut fields = Vec::new();
    for (i, line) in input.items.iter().enumerate() {
        for (name, set) in [
            ("unit_price", line.unit_price.is_some()),
            ("discount", line.discount.is_some()),
            ("tax", line.tax.is_some()),
        ] {
            if set {
                fields.push(format!("items[{i}].{name}"));
            }
        }
    }
    if input.shipping_total.is_some() {
        fields.push("shipping_total".to_owned());
    }
    fields
}

/// One order by id as stored, for services that act on orders they already found.
pub(crate) async fn order_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Order, Error> {
    let row = q::order_by_id(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("order", id))?;
    Ok(detail(conn, row).await?.order)
}

/// One order with its lines by id, for pages that checked access themselves.
pub(crate) async fn order_detail_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<OrderDetail, Error> {
    let row = q::order_by_id(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("order", id))?;
    detail(conn, row).await
}

/// Validates and places an order on `conn`, inside the caller's transaction: lines priced
/// (see [`PriceSource`]), stock reserved, history and `order.created` written. `access` is what
/// the caller may do (`Own` narrows to the caller's customer record); checkout calls this with
/// `All` after resolving the customer itself.
pub(crate) async fn place_order(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    access: Access,
    input: CreateOrderInput,
    source: PriceSource,
) -> Result<PlacedOrder, Error> {
    let mut v = Validator::default();
    if input.items.is_empty() || input.items.len() > MAX_LINES {
        v.add("items", format!("must hold 1 to {MAX_LINES} lines"));
    }
    for (i, line) in input.items.iter().enumerate() {
        v.check(
            format!("items[{i}].quantity"),
            check_line_units(line.quantity),
        );
        check_amount(&mut v, &format!("items[{i}].unit_price"), line.unit_price);
        check_amount(&mut v, &format!("items[{i}].discount"), line.discount);
        check_amount(&mut v, &format!("items[{i}].tax"), line.tax);
    }
    let shipping = check_amount(&mut v, "shipping_total", input.shipping_total);
    let currency = input
        .currency
        .as_deref()
        .and_then(|raw| v.currency("currency", raw))
        .map(Currency::into_string);
    let shipping_address = input
        .shipping_address
        .as_ref()
        .map(|a| check_address(&mut v, "shipping_address", a));
    let billing_address = input
        .billing_address
        .as_ref()
        .map(|a| check_address(&mut v, "billing_address", a));
    let tags = check_tags(&mut v, "tags", &input.tags);
    let attributes = check_json_object(&mut v, "attributes", input.attributes.clone());
    let notes = optional_text(&mut v, "notes", input.notes.as_deref(), MAX_NOTES);
    v.finish()?;

    let customer = match (input.customer_id, access) {
        (Some(id), _) => customer_q::customer_by_id(conn, id).await?,
        (None, Access::Own(user)) => customer_q::customer_by_user(conn, user).await?,
        (None, Access::All) => {
            return Err(Error::invalid("customer_id", "is required"));
        }
    };
    let customer = customer.filter(|c| match access {
        Access::All => true,
        Access::Own(user) => c.user_id == Some(user),
    });
    let customer = customer.ok_or_else(|| Error::invalid("customer_id", "no such customer"))?;

    let ids: Vec<Uuid> = input.items.iter().map(|l| l.variant_id).collect();
    let variants: HashMap<Uuid, q::SellableVariant> = q::sellable_variants(conn, &ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let currency = currency.or_else(|| {
        // The first line that names a real variant sets it; others are reported below.
        input
            .items
            .iter()
            .find_map(|l| variants.get(&l.variant_id))
            .map(|s| s.currency.clone())
    });
    let mut v = Validator::default();
    let order_id = Uuid::now_v7();
    let mut items = Vec::new();
    for (i, line) in input.items.iter().enumerate() {
        let Some(variant) = variants.get(&line.variant_id) else {
            v.add(format!("items[{i}].variant_id"), "no such variant");
            continue;
        };
        if currency.as_deref() != Some(variant.currency.as_str()) {
            v.add(
                format!("items[{i}].variant_id"),
                format!(
                    "is priced in {}, not the order's currency",
                    variant.currency
                ),
            );
        }
        let unit_price = line.unit_price.unwrap_or(variant.price);
        let discount = line.discount.unwrap_or(Decimal::ZERO);
        // Catalog-priced lines get their tax from the rules once the address is known.
        let tax = line.tax.unwrap_or(Decimal::ZERO);
        if discount > Decimal::from(line.quantity) * unit_price {
            v.add(
                format!("items[{i}].discount"),
                "must not exceed the line's price",
            );
        }
        items.push(OrderItemRow {
            id: Uuid::now_v7(),
            order_id,
            variant_id: Some(variant.id),
            sku: variant.sku.clone(),
            name: if variant.title == "Default" {
                variant.product_name.clone()
            } else {
                format!("{} — {}", variant.product_name, variant.title)
            },
            quantity: line.quantity,
            unit_price,
            discount,
            tax,
            total: line_total(line.quantity, unit_price, discount, tax),
            position: i as i32,
        });
    }
    v.finish()?;
    let currency = currency.ok_or_else(|| Error::invalid("currency", "is required"))?;

    let addresses = customer_q::addresses_for(conn, &[customer.id]).await?;
    let default_address = |id: Option<Uuid>| {
        addresses
            .iter()
            .find(|a| Some(a.id) == id)
            .map(|a| a.clone().into_address())
    };
    let shipping_address =
        shipping_address.or_else(|| default_address(customer.default_shipping_address_id));
    let billing_address =
        billing_address.or_else(|| default_address(customer.default_billing_address_id));
    let mut shipping = shipping;
    if source == PriceSource::Catalog
        && let Some(address) = &shipping_address
    {
        let taxes = catalog_taxes(conn, address, &items, shipping).await?;
        for ((item, line), tax) in items.iter_mut().zip(&input.items).zip(taxes.lines) {
            if line.tax.is_none() {
                item.tax = tax;
                item.total = line_total(item.quantity, item.unit_price, item.discount, tax);
            }
        }
        shipping += taxes.shipping_tax;
    }
    let totals = Totals::of(
        items
            .iter()
            .map(|i| (i.quantity, i.unit_price, i.discount, i.tax)),
        shipping,
    );
    let now = Utc::now();
    let row = OrderRow {
        id: order_id,
        number: q::next_order_number(conn).await?,
        customer_id: customer.id,
        email: customer.email.clone(),
        status: OrderStatus::Pending,
        held_from: None,
        hold_reason: None,
        cancel_reason: None,
        currency,
        subtotal: totals.subtotal,
        discount_total: totals.discount,
        shipping_total: totals.shipping,
        tax_total: totals.tax,
        total: totals.total,
        shipping_address: shipping_address.map(|a| serde_json::to_value(a).unwrap_or_default()),
        billing_address: billing_address.map(|a| serde_json::to_value(a).unwrap_or_default()),
        tags,
        attributes,
        notes,
        created_at: now,
        updated_at: now,
    };
    q::insert_order(conn, &row).await?;
    q::insert_items(conn, &items).await?;
    // Same connection, same transaction: an order whose stock cannot be reserved
    // is never created. Variants without stock records are not stock-tracked.
    let wants: Vec<Want> = items
        .iter()
        .filter_map(|i| {
            i.variant_id.map(|v| Want {
                variant_id: v,
                item_id: None,
                quantity: i.quantity,
            })
        })
        .collect();
    let hold = Hold {
        order_id: Some(order_id),
        reference: None,
        expires_at: None,
        partial: false,
        tracked_only: true,
    };
    let reserved = inventory::reserve(conn, &ctx.principal.key(), &wants, &hold).await?;
    // The plan of what leaves from where follows the reservations just made.
    shipments::plan(conn, order_id, &items, &reserved).await?;
    let reservations = reserved.len();
    let history = History {
        action: "created",
        from: None,
        to: Some(OrderStatus::Pending),
        reason: None,
        details: serde_json::json!({}),
    };
    write_history(conn, ctx, order_id, history).await?;
    let overrides = price_overrides(&input);
    if source == PriceSource::Catalog && !overrides.is_empty() {
        // Who set which amount, beside what the catalog would have charged.
        let lines: Vec<serde_json::Value> = items
            .iter()
            .zip(&input.items)
            .map(|(item, line)| {
                serde_json::json!({
                    "sku": item.sku,
                    "catalog_unit_price": variants.get(&line.variant_id).map(|v| v.price.normalize().to_string()),
                    "unit_price": item.unit_price.normalize().to_string(),
                    "discount": item.discount.normalize().to_string(),
                    "tax": item.tax.normalize().to_string(),
                })
            })
            .collect();
        let history = History {
            action: "price_override",
            from: None,
            to: None,
            reason: None,
            details: serde_json::json!({
                "fields": overrides,
                "lines": lines,
                "shipping_total": input.shipping_total.map(|s| s.normalize().to_string()),
            }),
        };
        write_history(conn, ctx, order_id, history).await?;
    }
    let detail = detail(conn, row).await?;
    order_event(
        conn,
        EventType::OrderCreated,
        &detail,
        serde_json::json!({}),
    )
    .await?;
    Ok(PlacedOrder {
        detail,
        reservations,
    })
}

/// An order [`place_order`] wrote, with what to count once its transaction commits.
pub(crate) struct PlacedOrder {
    pub detail: OrderDetail,
    /// Stock reservations made for its lines.
    pub reservations: usize,
}

/// Counts a placed order in the business metrics; call after its transaction committed.
pub(crate) fn count_placed(metrics: &Metrics, reservations: usize) {
    metrics.observe_business(Business::OrderCreated, 1);
    metrics.observe_business(Business::StockReserved, reservations as u64);
}

/// The tax rules' amounts for catalog-priced lines shipped to `address`: per line, and on
/// `shipping`, with the products' tax classes.
async fn catalog_taxes(
    conn: &mut AsyncPgConnection,
    address: &Address,
    items: &[OrderItemRow],
    shipping: Decimal,
) -> Result<CatalogTaxes, Error> {
    use stateset_db::pricing as pricing_q;
    use stateset_domain::pricing::{self, PricedLineInput};
    let rates: Vec<stateset_domain::TaxRate> =
        pricing_q::tax_rates_for(conn, &address.country, address.region.as_deref())
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
    let variant_ids: Vec<Uuid> = items.iter().filter_map(|i| i.variant_id).collect();
    let classes = pricing_q::tax_classes_of(conn, &variant_ids).await?;
    let lines: Vec<PricedLineInput> = items
        .iter()
        .map(|i| PricedLineInput {
            // The discount (an override) is priced in as a lower price per line.
            unit_price: i.unit_price - i.discount / Decimal::from(i.quantity.max(1)),
            quantity: i.quantity,
            tax_class: i.variant_id.and_then(|v| classes.get(&v).cloned()),
        })
        .collect();
    let priced = pricing::price(&lines, None, shipping, &rates);
    // Taxes included in prices are not charged again on top.
    let added = |tax: Decimal, class: Option<&str>| match pricing::rate_for(&rates, class) {
        Some(rate) if rate.prices_include_tax => Decimal::ZERO,
        _ => tax,
    };
    Ok(CatalogTaxes {
        lines: priced
            .lines
            .iter()
            .zip(&lines)
            .map(|(line, input)| added(line.tax, input.tax_class.as_deref()))
            .collect(),
        shipping_tax: added(priced.shipping_tax, None),
    })
}

/// Taxes the rules charge on top of catalog prices.
struct CatalogTaxes {
    lines: Vec<Decimal>,
    shipping_tax: Decimal,
}

impl OrderService {
    pub fn new(
        db: Db,
        events: super::EventService,
        invoice_settings: crate::config::InvoiceSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            db,
            events,
            invoice_settings,
            metrics,
        }
    }

    /// Places an order for a customer (staff: phone and manual orders): prices each line from
    /// the catalog and the tax rules for the shipping address, copies the addresses, reserves
    /// the stock, computes the totals, and numbers it. Writes `order.created`.
    ///
    /// Customers order through checkout, which takes the payment: an order placed here is
    /// unpaid and holds stock until staff cancel it, so a grant of `orders:create:own` is
    /// refused. Amounts in the input are price overrides, allowed only with
    /// `orders:override_price` and recorded in the order's history with who made them.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_order(
        &self,
        ctx: &Ctx,
        input: CreateOrderInput,
    ) -> Result<OrderDetail, Error> {
        if ctx.authorize("orders:create")? != Access::All {
            return Err(Error::Forbidden {
                permission: "orders:create".into(),
            });
        }
        if !price_overrides(&input).is_empty() && ctx.authorize(OVERRIDE_PRICE)? != Access::All {
            return Err(Error::Forbidden {
                permission: OVERRIDE_PRICE.into(),
            });
        }
        let ctx = ctx.clone();
        let placed = self
            .db
            .tx("create_order", async move |conn: &mut AsyncPgConnection| {
                place_order(conn, &ctx, Access::All, input, PriceSource::Catalog).await
            })
            .await?;
        count_placed(&self.metrics, placed.reservations);
        Ok(placed.detail)
    }

    /// One order; someone else's is `NOT_FOUND` for a customer.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn get_order(&self, ctx: &Ctx, order: OrderRef) -> Result<Order, Error> {
        Ok(self.get_order_detail(ctx, order).await?.order)
    }

    /// One order with its lines.
    pub async fn get_order_detail(&self, ctx: &Ctx, order: OrderRef) -> Result<OrderDetail, Error> {
        let access = ctx.authorize("orders:read")?;
        let mut conn = self.db.conn().await?;
        let (row, key) = match order {
            OrderRef::Id(id) => (q::order_by_id(&mut conn, id).await?, id.to_string()),
            OrderRef::Number(number) => (q::order_by_number(&mut conn, &number).await?, number),
        };
        let row = match row {
            Some(row) if visible(&mut conn, access, &row).await? => row,
            _ => return Err(Error::not_found("order", key)),
        };
        detail(&mut conn, row).await
    }

    /// A page of orders matching `filter`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_orders(
        &self,
        ctx: &Ctx,
        filter: OrderFilter,
        sort: OrderSort,
        page: PageRequest,
    ) -> Result<Page<Order>, Error> {
        let access = ctx.authorize("orders:read")?;
        let limit = page.limit()?;
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Err(Error::invalid("to", "must be after from"));
        }
        let sort_name = format!("{sort:?}");
        let after = page.keyset(&sort_name)?;
        let owner = match access {
            Access::All => None,
            Access::Own(user) => Some(user),
        };
        let mut conn = self.db.conn().await?;
        let rows = q::list_orders(&mut conn, &filter, owner, sort, after, limit + 1).await?;
        let total = page
            .total(q::count_orders(&mut conn, &filter, owner))
            .await?;
        let position = |row: &OrderRow| Keyset {
            key: row.sort_key(sort),
            id: row.id,
        };
        Ok(page.page(&sort_name, limit, rows, total, position, Order::from))
    }

    /// A page of orders with their lines (REST and gRPC list with lines; GraphQL loads them
    /// per field).
    pub async fn list_order_details(
        &self,
        ctx: &Ctx,
        filter: OrderFilter,
        sort: OrderSort,
        page: PageRequest,
    ) -> Result<Page<OrderDetail>, Error> {
        let page = self.list_orders(ctx, filter, sort, page).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|(_, o)| o.id).collect();
        let mut lines = self.items_by_order(ctx, &ids).await?;
        Ok(page.map(|order| OrderDetail {
            items: lines.remove(&order.id).unwrap_or_default(),
            order,
        }))
    }

    /// A live feed of orders as they change: every order the caller may see, or only `only`;
    /// with `created_only`, just new orders. Each item is the order as it is now; following one
    /// order begins with its current state.
    pub async fn watch(
        &self,
        ctx: &Ctx,
        only: Option<Uuid>,
        created_only: bool,
    ) -> Result<impl futures::Stream<Item = Result<Order, Error>> + Send + use<>, Error> {
        use futures::StreamExt as _;
        ctx.authorize("orders:read")?;
        let types = if created_only {
            vec![EventType::OrderCreated.as_str().to_owned()]
        } else {
            vec!["order.*".to_owned()]
        };
        // From the newest event on: older ones still on their way must not replay stale states.
        let after = Some(self.events.head().await?);
        let query = super::events::EventQuery {
            types,
            entity_id: only,
            after,
            ..Default::default()
        };
        let events = self.events.subscribe(ctx, query).await?;
        // Following one order starts from where it stands now (subscribed first, so no change
        // between the two is missed).
        let current = match only {
            Some(id) => vec![Ok(self.get_order(ctx, OrderRef::Id(id)).await?)],
            None => vec![],
        };
        let (orders, ctx) = (self.clone(), ctx.clone());
        let changes = events.filter_map(move |event| {
            let (orders, ctx) = (orders.clone(), ctx.clone());
            async move {
                let event = match event {
                    Ok(event) => event,
                    Err(err) => return Some(Err(err)),
                };
                match orders.get_order(&ctx, OrderRef::Id(event.entity_id)).await {
                    Ok(order) => Some(Ok(order)),
                    Err(Error::NotFound { .. }) => None,
                    Err(err) => Some(Err(err)),
                }
            }
        });
        Ok(futures::stream::iter(current).chain(changes))
    }

    /// A live feed of one order's shipment events: `order.shipped`, `order.delivered` and any
    /// `shipment.*` event whose data names the order (`order_id`).
    pub async fn watch_shipments(
        &self,
        ctx: &Ctx,
        order_id: Uuid,
    ) -> Result<
        impl futures::Stream<Item = Result<stateset_domain::Event, Error>> + Send + use<>,
        Error,
    > {
        use futures::StreamExt as _;
        // The order must exist and be the caller's to see.
        self.get_order(ctx, OrderRef::Id(order_id)).await?;
        let query = super::events::EventQuery {
            types: vec![
                EventType::OrderShipped.as_str().to_owned(),
                EventType::OrderDelivered.as_str().to_owned(),
                "shipment.*".to_owned(),
            ],
            after: Some(self.events.head().await?),
            ..Default::default()
        };
        let events = self.events.subscribe(ctx, query).await?;
        let order = order_id.to_string();
        Ok(events.filter(move |event| {
            let about_order = match event {
                Ok(event) => {
                    event.entity_id == order_id
                        || event.data.get("order_id").and_then(|v| v.as_str()) == Some(&order)
                }
                Err(_) => true,
            };
            std::future::ready(about_order)
        }))
    }

    /// The lines of each order, in a constant number of queries (the batch behind GraphQL's
    /// loader); orders the caller may not see are left out.
    pub async fn items_by_order(
        &self,
        ctx: &Ctx,
        order_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<OrderItem>>, Error> {
        let access = ctx.authorize("orders:read")?;
        let mut conn = self.db.conn().await?;
        let mut orders = q::orders_by_ids(&mut conn, order_ids).await?;
        if let Access::Own(user) = access {
            let own = customer_q::customer_by_user(&mut conn, user)
                .await?
                .map(|c| c.id);
            orders.retain(|o| Some(o.customer_id) == own);
        }
        let currencies: HashMap<Uuid, String> =
            orders.into_iter().map(|o| (o.id, o.currency)).collect();
        let visible_ids: Vec<Uuid> = currencies.keys().copied().collect();
        let mut by_order: HashMap<Uuid, Vec<OrderItem>> = HashMap::new();
        for item in q::items_for(&mut conn, &visible_ids).await? {
            let currency = currencies.get(&item.order_id).cloned().unwrap_or_default();
            by_order
                .entry(item.order_id)
                .or_default()
                .push(item.into_domain(&currency));
        }
        Ok(by_order)
    }

    /// The events about an order, oldest first: those after `query.after`, at most
    /// `query.first`; `query.entity_id` is the order's. `NOT_FOUND` for an order the caller
    /// cannot see, so its events are never told apart from a missing order's.
    pub async fn order_events(
        &self,
        ctx: &Ctx,
        id: Uuid,
        query: super::events::EventQuery,
    ) -> Result<super::events::EventPage, Error> {
        self.get_order(ctx, OrderRef::Id(id)).await?;
        let query = super::events::EventQuery {
            entity_id: Some(id),
            ..query
        };
        self.events.list(ctx, query).await
    }

    /// What happened to an order, oldest first.
    pub async fn order_history(
        &self,
        ctx: &Ctx,
        id: Uuid,
        page: PageRequest,
    ) -> Result<Page<OrderHistoryEntry>, Error> {
        let limit = page.limit()?;
        let after = page.keyset("created_at")?;
        self.get_order(ctx, OrderRef::Id(id)).await?;
        let mut conn = self.db.conn().await?;
        let (rows, total) = q::history_for(&mut conn, id, after, limit + 1).await?;
        let position = |row: &HistoryRow| Keyset::created(row.created_at, row.id);
        Ok(page.page(
            "created_at",
            limit,
            rows,
            total,
            position,
            OrderHistoryEntry::from,
        ))
    }

    /// Applies a lifecycle action as the transition table allows; writes
    /// `order.status_changed`, and `order.cancelled` / `order.archived` for those actions.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, order.id = %id, order.action = action.as_str()))]
    pub async fn transition(
        &self,
        ctx: &Ctx,
        id: Uuid,
        action: OrderAction,
        reason: Option<String>,
    ) -> Result<OrderDetail, Error> {
        let access = ctx.authorize(permission_for(action))?;
        let mut v = Validator::default();
        let reason = optional_text(&mut v, "reason", reason.as_deref(), MAX_REASON);
        if matches!(action, OrderAction::Hold | OrderAction::Cancel)
            && reason.is_none()
            && v.is_empty()
        {
            v.add("reason", format!("is required to {}", action.as_str()));
        }
        v.finish()?;
        let ctx = ctx.clone();
        let invoice_settings = self.invoice_settings.clone();
        let detail = self
            .db
            // Shipping everything left locks the items of several shipments in turn: a
            // deadlock with another order's shipping is retried, never a 500.
            .tx_retrying("transition", move |conn: &mut AsyncPgConnection| {
                let (ctx, reason, invoice_settings) =
                    (ctx.clone(), reason.clone(), invoice_settings.clone());
                Box::pin(async move {
                    let row = q::lock_orders(conn, &[id]).await?.pop();
                    let row = match row {
                        Some(row) if visible(conn, access, &row).await? => row,
                        _ => return Err(Error::not_found("order", id)),
                    };
                    let from = row.status;
                    let to = from
                        .apply(action, row.held_from())
                        .ok_or_else(|| invalid_transition(from, action.as_str()))?;
                    let changes = OrderChanges {
                        status: Some(to.as_str().to_owned()),
                        held_from: match action {
                            OrderAction::Hold => Some(Some(from.as_str().to_owned())),
                            OrderAction::Release => Some(None),
                            _ => None,
                        },
                        hold_reason: match action {
                            OrderAction::Hold => Some(reason.clone()),
                            OrderAction::Release => Some(None),
                            _ => None,
                        },
                        cancel_reason: (action == OrderAction::Cancel).then(|| reason.clone()),
                        updated_at: Some(Utc::now()),
                        ..Default::default()
                    };
                    if action == OrderAction::Cancel && !from.may_cancel(row.held_from()) {
                        return Err(invalid_transition(from, action.as_str()));
                    }
                    // Cancelling gives the reserved stock back and ends the fulfilment plan;
                    // shipping sends what has not left yet, in shipments (or straight out of
                    // stock for an order with no plan).
                    match action {
                        OrderAction::Cancel => {
                            shipments::cancel_order_fulfillment(conn, &ctx, id).await?;
                            inventory::release_order(conn, &ctx.principal.key(), id).await?;
                        }
                        OrderAction::Ship => {
                            let planned = shipments::ship_everything_left(conn, &ctx, id).await?;
                            if !planned {
                                inventory::ship_order(conn, &ctx.principal.key(), id).await?;
                            }
                        }
                        OrderAction::Deliver => {
                            shipments::deliver_everything_left(conn, &ctx, id).await?
                        }
                        _ => {}
                    }
                    let row = q::update_order(conn, id, &changes).await?;
                    let detail = record_step(
                        conn,
                        &ctx,
                        row,
                        Step {
                            action,
                            from,
                            to,
                            reason: reason.clone(),
                            details: serde_json::json!({}),
                        },
                    )
                    .await?;
                    // A completed order is invoiced in the same transaction: no completed order
                    // without its invoice (unless one was made on demand before).
                    if action == OrderAction::Complete {
                        super::invoices::invoice_completed_order(conn, &ctx, &invoice_settings, id)
                            .await?;
                    }
                    Ok(detail)
                })
            })
            .await?;
        if action == OrderAction::Complete {
            self.metrics.observe_business(Business::OrderCompleted, 1);
        }
        Ok(detail)
    }

    /// Moves an order to `status` with the action that leads there (`processing` → process, ...).
    pub async fn update_order_status(
        &self,
        ctx: &Ctx,
        id: Uuid,
        status: OrderStatus,
        reason: Option<String>,
    ) -> Result<OrderDetail, Error> {
        match OrderStatus::action_towards(status) {
            Some(action) => self.transition(ctx, id, action, reason).await,
            None => {
                // No action leads there (back to pending): say so in the state machine's terms.
                let current = self.get_order(ctx, OrderRef::Id(id)).await?;
                Err(invalid_transition(
                    current.status,
                    &format!("set status to {}", status.as_str()),
                ))
            }
        }
    }

    /// Changes tags, attributes or notes; writes `order.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, order.id = %id))]
    pub async fn update_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateOrderInput,
    ) -> Result<OrderDetail, Error> {
        let access = ctx.authorize("orders:update")?;
        let mut v = Validator::default();
        let changes = OrderChanges {
            tags: input.tags.as_deref().map(|t| check_tags(&mut v, "tags", t)),
            attributes: input
                .attributes
                .clone()
                .map(|a| check_json_object(&mut v, "attributes", Some(a))),
            notes: input
                .notes
                .as_deref()
                .map(|n| optional_text(&mut v, "notes", Some(n), MAX_NOTES)),
            updated_at: Some(Utc::now()),
            ..Default::default()
        };
        v.finish()?;
        let ctx = ctx.clone();
        self.db
            .tx("update_order", async move |conn: &mut AsyncPgConnection| {
                let row = q::lock_orders(conn, &[id]).await?.pop();
                match row {
                    Some(row) if visible(conn, access, &row).await? => row,
                    _ => return Err(Error::not_found("order", id)),
                };
                let row = q::update_order(conn, id, &changes).await?;
                let fields: Vec<&str> = [
                    ("tags", changes.tags.is_some()),
                    ("attributes", changes.attributes.is_some()),
                    ("notes", changes.notes.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, changed)| changed.then_some(name))
                .collect();
                let history = History {
                    action: "updated",
                    from: None,
                    to: None,
                    reason: None,
                    details: serde_json::json!({ "fields": fields }),
                };
                write_history(conn, &ctx, id, history).await?;
                let detail = detail(conn, row).await?;
                order_event(
                    conn,
                    EventType::OrderUpdated,
                    &detail,
                    serde_json::json!({}),
                )
                .await?;
                Ok(detail)
            })
            .await
    }

    /// Merges open orders of one customer and currency into the first one given: its lines
    /// join it, the others end cancelled ("merged into ..."). Writes `order.merged`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn merge_orders(
        &self,
        ctx: &Ctx,
        order_ids: Vec<Uuid>,
    ) -> Result<OrderDetail, Error> {
        let access = ctx.authorize("orders:update")?;
        let mut ids = order_ids.clone();
        ids.dedup();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        if order_ids.len() < 2 || unique.len() != order_ids.len() {
            return Err(Error::invalid(
                "order_ids",
                "must name two or more different orders",
            ));
        }
        let ctx = ctx.clone();
        self
            .db
            .tx("merge_orders", async move |conn: &mut AsyncPgConnection| {
                let locked = q::lock_orders(conn, &unique).await?;
                let mut by_id: HashMap<Uuid, OrderRow> = HashMap::new();
                for row in locked {
                    if visible(conn, access, &row).await? {
                        by_id.insert(row.id, row);
                    }
                }
                let mut v = Validator::default();
                let mut rows = Vec::new();
                for (i, id) in order_ids.iter().enumerate() {
                    match by_id.remove(id) {
                        Some(row) => rows.push(row),
                        None => v.add(format!("order_ids[{i}]"), "no such order"),
                    }
                }
                v.finish()?;
                let target = rows.remove(0);
                let mut v = Validator::default();
                for (i, row) in rows.iter().enumerate() {
                    let field = format!("order_ids[{}]", i + 1);
                    if row.customer_id != target.customer_id {
                        v.add(&field, "belongs to another customer");
                    }
                    if row.currency != target.currency {
                        v.add(&field, format!("is in {}, not {}", row.currency, target.currency));
                    }
                }
                v.finish()?;
                for row in std::iter::once(&target).chain(&rows) {
                    if !row.status.is_open() {
                        return Err(invalid_transition(row.status, "merge"));
                    }
                }
                let mut position = q::items_for(conn, &[target.id]).await?.len() as i32;
                let mut shipping = target.shipping_total;
                for row in &rows {
                    for mut item in q::items_for(conn, &[row.id]).await? {
                        item.order_id = target.id;
                        item.position = position;
                        position += 1;
                        q::update_item(conn, &item).await?;
                    }
                    shipping += row.shipping_total;
                    let reason = format!("merged into {}", target.number);
                    // A merged-away order is cancelled, as the lifecycle table allows.
                    let to = row
                        .status
                        .apply(OrderAction::Cancel, row.held_from())
                        .ok_or_else(|| invalid_transition(row.status, "merge"))?;
                    let changes = OrderChanges {
                        status: Some(to.as_str().to_owned()),
                        cancel_reason: Some(Some(reason.clone())),
                        ..Default::default()
                    };
                    let merged = q::update_order(conn, row.id, &changes).await?;
                    retotal(conn, &merged, Decimal::ZERO).await?;
                    let history = History {
                        action: "merged_into",
                        from: Some(row.status),
                        to: Some(to),
                        reason: Some(reason),
                        details: serde_json::json!({ "into": target.number, "into_order_id": target.id }),
                    };
                    write_history(conn, &ctx, row.id, history).await?;
                }
                let merged_away: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                inventory::move_order_reservations(conn, &merged_away, target.id).await?;
                let replanned: Vec<Uuid> = std::iter::once(target.id).chain(merged_away.iter().copied()).collect();
                shipments::replan(conn, &ctx, &replanned).await?;
                let target_row = retotal(conn, &target, shipping).await?;
                let numbers: Vec<&str> = rows.iter().map(|r| r.number.as_str()).collect();
                let merged_ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                let history = History {
                    action: "merged",
                    from: None,
                    to: None,
                    reason: None,
                    details: serde_json::json!({ "merged": numbers, "merged_order_ids": merged_ids }),
                };
                write_history(conn, &ctx, target.id, history).await?;
                let detail = detail(conn, target_row).await?;
                order_event(conn, EventType::OrderMerged, &detail, serde_json::json!({ "merged_order_ids": merged_ids })).await?;
                Ok(detail)
            })
            .await
    }

    /// Moves lines (or part of a line's quantity) of an open order into a new order of the
    /// same customer. Returns `(the order, the new order)`; writes `order.split`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, order.id = %id))]
    pub async fn split_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
        lines: Vec<SplitLineInput>,
    ) -> Result<(OrderDetail, OrderDetail), Error> {
        let access = ctx.authorize("orders:update")?;
        if lines.is_empty() {
            return Err(Error::invalid(
                "items",
                "must name at least one line to move",
            ));
        }
        let ctx = ctx.clone();
        self
            .db
            .tx("split_order", async move |conn: &mut AsyncPgConnection| {
                let row = q::lock_orders(conn, &[id]).await?.pop();
                let source = match row {
                    Some(row) if visible(conn, access, &row).await? => row,
                    _ => return Err(Error::not_found("order", id)),
                };
                if !source.status.is_open() {
                    return Err(invalid_transition(source.status, "split"));
                }
                let items: HashMap<Uuid, OrderItemRow> =
                    q::items_for(conn, &[id]).await?.into_iter().map(|i| (i.id, i)).collect();
                let mut v = Validator::default();
                let mut moving: HashMap<Uuid, i32> = HashMap::new();
                for (i, line) in lines.iter().enumerate() {
                    let Some(item) = items.get(&line.item_id) else {
                        v.add(format!("items[{i}].item_id"), "is not a line of this order");
                        continue;
                    };
                    let quantity = line.quantity.unwrap_or(item.quantity);
                    let already = moving.get(&item.id).copied().unwrap_or(0);
                    if quantity < 1 || already.saturating_add(quantity) > item.quantity {
                        v.add(format!("items[{i}].quantity"), format!("must be between 1 and {}", item.quantity - already));
                    }
                    let entry = moving.entry(item.id).or_default();
                    *entry = entry.saturating_add(quantity);
                }
                let units_left: i32 = items.values().map(|i| i.quantity - moving.get(&i.id).copied().unwrap_or(0)).sum();
                if v.is_empty() && units_left == 0 {
                    v.add("items", "must leave at least one unit in the order");
                }
                v.finish()?;

                let now = Utc::now();
                let new_row = OrderRow {
                    id: Uuid::now_v7(),
                    number: q::next_order_number(conn).await?,
                    subtotal: Decimal::ZERO,
                    discount_total: Decimal::ZERO,
                    shipping_total: Decimal::ZERO,
                    tax_total: Decimal::ZERO,
                    total: Decimal::ZERO,
                    created_at: now,
                    updated_at: now,
                    ..source.clone()
                };
                q::insert_order(conn, &new_row).await?;
                let mut position = 0;
                let mut ordered: Vec<(&Uuid, &i32)> = moving.iter().collect();
                ordered.sort_by_key(|(item_id, _)| items.get(item_id).map(|i| i.position));
                for (item_id, quantity) in ordered {
                    let Some(item) = items.get(item_id) else { continue };
                    if let Some(variant_id) = item.variant_id {
                        inventory::move_variant_reservations(conn, source.id, new_row.id, variant_id, *quantity).await?;
                    }
                    if *quantity == item.quantity {
                        q::move_items(conn, &[item.id], new_row.id).await?;
                        let moved = OrderItemRow { order_id: new_row.id, position, ..item.clone() };
                        q::update_item(conn, &moved).await?;
                    } else {
                        // Part of a line: discount and tax follow the units, to the cent.
                        let share = |amount: Decimal| (amount * Decimal::from(*quantity) / Decimal::from(item.quantity)).round_dp(MAX_SCALE);
                        let (moved_discount, moved_tax) = (share(item.discount), share(item.tax));
                        let remaining_quantity = item.quantity - quantity;
                        let (left_discount, left_tax) = (item.discount - moved_discount, item.tax - moved_tax);
                        let kept = OrderItemRow {
                            quantity: remaining_quantity,
                            discount: left_discount,
                            tax: left_tax,
                            total: line_total(remaining_quantity, item.unit_price, left_discount, left_tax),
                            ..item.clone()
                        };
                        q::update_item(conn, &kept).await?;
                        let moved = OrderItemRow {
                            id: Uuid::now_v7(),
                            order_id: new_row.id,
                            quantity: *quantity,
                            discount: moved_discount,
                            tax: moved_tax,
                            total: line_total(*quantity, item.unit_price, moved_discount, moved_tax),
                            position,
                            ..item.clone()
                        };
                        q::insert_items(conn, std::slice::from_ref(&moved)).await?;
                    }
                    position += 1;
                }
                shipments::replan(conn, &ctx, &[source.id, new_row.id]).await?;
                let source_row = retotal(conn, &source, source.shipping_total).await?;
                let new_row = retotal(conn, &new_row, Decimal::ZERO).await?;
                let moved: serde_json::Value = lines
                    .iter()
                    .map(|l| serde_json::json!({ "item_id": l.item_id, "quantity": l.quantity }))
                    .collect();
                let history = History {
                    action: "split",
                    from: None,
                    to: None,
                    reason: None,
                    details: serde_json::json!({ "new_order": new_row.number, "new_order_id": new_row.id, "lines": moved }),
                };
                write_history(conn, &ctx, source.id, history).await?;
                let history = History {
                    action: "split_from",
                    from: None,
                    to: Some(new_row.status),
                    reason: None,
                    details: serde_json::json!({ "source": source.number, "source_order_id": source.id }),
                };
                write_history(conn, &ctx, new_row.id, history).await?;
                let source_detail = detail(conn, source_row).await?;
                let new_detail = detail(conn, new_row).await?;
                let extra = serde_json::json!({ "new_order": serde_json::to_value(&new_detail).map_err(anyhow::Error::new)? });
                order_event(conn, EventType::OrderSplit, &source_detail, extra).await?;
                Ok((source_detail, new_detail))
            })
            .await
    }
}
