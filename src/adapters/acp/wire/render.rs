//! ACP's response bodies, rendered from the service's typed views: the checkout session
//! (with its messages, totals, payment handler and policy links), the ACP `Order` sent to the
//! agent platform, and a delegated token. Money is in integer minor units, currencies in
//! lower case, times RFC 3339 to the second.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::VERSION;
use super::requests::Buyer;
use crate::config::AcpSettings;
use crate::domain::tracking::{CarrierKind, TrackingStatus};
use crate::domain::{OrderStatus, Shipment, ShipmentStatus, TrackingEvent};
use crate::services::acp::{
    AcpOrder, DelegatedToken, HANDLER_ID, PlatformEventKind, Session, SessionStatus,
};
use crate::services::payments::{minor_unit_scale, to_minor};

/// Money in minor units, in the currency's own scale.
fn minor(amount: Decimal, currency: &str) -> i64 {
    // Rounded to the currency's own minor unit first, so only an amount beyond i64 can fail.
    to_minor(amount.round_dp(minor_unit_scale(currency)), currency).unwrap_or(i64::MAX)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The payment handler offered in every session.
fn handler(settings: &AcpSettings) -> Value {
    let base = &settings.public_base_url;
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
            "merchant_id": settings.merchant_id,
            "accepted_brands": ["visa", "mastercard", "amex", "discover"],
            "delegate_payment_url": format!("{base}/agentic_commerce/delegate_payment"),
        },
    })
}

/// The store policies offered as links: only those configured, so none leads nowhere.
fn policy_links(settings: &AcpSettings) -> Vec<Value> {
    [
        ("terms_of_use", &settings.terms_url, "Terms of use"),
        ("privacy_policy", &settings.privacy_url, "Privacy policy"),
        ("return_policy", &settings.returns_url, "Returns"),
    ]
    .into_iter()
    .filter_map(|(kind, url, title)| {
        url.as_ref()
            .map(|url| json!({ "type": kind, "url": url, "title": title }))
    })
    .collect()
}

fn session_status(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotReadyForPayment => "not_ready_for_payment",
        SessionStatus::ReadyForPayment => "ready_for_payment",
        SessionStatus::Completed => "completed",
        SessionStatus::Canceled => "canceled",
    }
}

/// The full checkout session as ACP shows it.
pub fn session(settings: &AcpSettings, session: &Session) -> Value {
    let checkout = &session.checkout;
    let state = &session.details;
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
    for code in &session.rejected_codes {
        messages.push(json!({
            "type": "warning", "code": "discount_code_invalid",
            "param": "$.discounts.codes",
            "content_type": "plain",
            "content": format!("The discount code {code} cannot be used."),
        }));
    }
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
    let fulfillment_options: Vec<Value> = session
        .fulfillment_options
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
        totals.push(json!({ "type": "discount", "display_text": "Discount", "amount": discount }));
    }
    if checkout.shipping_method.is_some() {
        totals
            .push(json!({ "type": "fulfillment", "display_text": "Shipping", "amount": shipping }));
    }
    if checkout.shipping_address.is_some() {
        totals.push(json!({ "type": "tax", "display_text": "Tax", "amount": tax }));
    }
    totals.push(json!({ "type": "total", "display_text": "Total", "amount": total }));
    let mut body = json!({
        "id": checkout.id.to_string(),
        "protocol": { "version": VERSION },
        "capabilities": {
            "payment": { "handlers": [handler(settings)] },
            "interventions": { "supported": session.interventions, "required": [], "enforcement": "conditional" },
        },
        "status": session_status(session.status),
        "currency": currency,
        "line_items": line_items,
        "fulfillment_options": fulfillment_options,
        "totals": totals,
        "messages": messages,
        "links": policy_links(settings),
        "created_at": rfc3339(checkout.created_at),
        "updated_at": rfc3339(checkout.updated_at),
    });
    // The buyer given, or one made of the checkout's email.
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
            state.fulfillment_details.clone().map(|f| json!(f)),
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
            (!state.discount_codes.is_empty()).then(|| json!({ "codes": state.discount_codes })),
        ),
        (
            "order",
            session.order.as_ref().map(|placed| {
                json!({
                    "id": placed.order.id.to_string(),
                    "checkout_session_id": checkout.id.to_string(),
                    "order_number": placed.order.number,
                    "permalink_url": placed.permalink_url,
                })
            }),
        ),
    ];
    if let Some(object) = body.as_object_mut() {
        for (name, value) in fields {
            if let Some(value) = value {
                object.insert(name.to_owned(), value);
            }
        }
    }
    body
}

/// ACP's order status for ours (the spec's list is open; these are its defined values).
fn order_status(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "confirmed",
        // ACP has no partial state; its quantities say what has been fulfilled.
        OrderStatus::Processing | OrderStatus::PartiallyShipped => "processing",
        OrderStatus::Shipped => "shipped",
        OrderStatus::Delivered | OrderStatus::Completed | OrderStatus::Archived => "completed",
        OrderStatus::OnHold => "manual_review",
        OrderStatus::Cancelled => "canceled",
    }
}

/// The full ACP `Order`, as the agent platform's order webhooks carry it.
pub fn order(acp_order: &AcpOrder) -> Value {
    let order = &acp_order.order;
    let currency = order.currency.to_ascii_lowercase();
    let money = |amount: Decimal| minor(amount, &currency);
    let total = |kind: &str, text: &str, amount: Decimal| json!({ "type": kind, "display_text": text, "amount": money(amount) });
    let shipped = matches!(
        order.status,
        OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Completed
            | OrderStatus::Archived
    );
    let canceled = order.status == OrderStatus::Cancelled;
    // Units that left in shipments, per line; an order shipped by hand before shipments
    // existed counts as fulfilled in full.
    let mut left: std::collections::HashMap<uuid::Uuid, i32> = std::collections::HashMap::new();
    for (shipment, _) in &acp_order.shipments {
        if shipment.status.has_left() {
            for line in &shipment.lines {
                *left.entry(line.order_item_id).or_default() += line.quantity;
            }
        }
    }
    let line_items: Vec<Value> = acp_order
        .items
        .iter()
        .map(|item| {
            let current = if canceled { 0 } else { item.quantity };
            let fulfilled = if acp_order.shipments.is_empty() {
                if shipped { current } else { 0 }
            } else {
                left.get(&item.id).copied().unwrap_or(0).min(current)
            };
            let status = if current == 0 {
                "removed"
            } else if fulfilled == current {
                "fulfilled"
            } else {
                "processing"
            };
            let unit_price = item.unit_price.amount;
            json!({
                "id": item.id.to_string(),
                "title": item.name,
                "quantity": { "ordered": item.quantity, "current": current, "fulfilled": fulfilled },
                "unit_price": money(unit_price),
                "subtotal": money(unit_price * Decimal::from(item.quantity)),
                "status": status,
            })
        })
        .collect();
    json!({
        "type": "order",
        "id": order.id.to_string(),
        "checkout_session_id": acp_order.checkout_session_id.to_string(),
        "order_number": order.number,
        "permalink_url": acp_order.permalink_url,
        "status": order_status(order.status),
        "line_items": line_items,
        "fulfillments": acp_order.shipments.iter().map(|(s, events)| fulfillment(s, events)).collect::<Vec<_>>(),
        "totals": [
            total("subtotal", "Subtotal", order.subtotal.amount),
            total("discount", "Discount", order.discount_total.amount),
            total("fulfillment", "Shipping", order.shipping_total.amount),
            total("tax", "Tax", order.tax_total.amount),
            total("total", "Total", order.total.amount),
        ],
    })
}

/// ACP's fulfilment status for a shipment's (the spec's list is open: where it has no word,
/// ours is sent).
fn fulfillment_status(status: ShipmentStatus) -> &'static str {
    match status {
        ShipmentStatus::Pending | ShipmentStatus::Picking => "pending",
        ShipmentStatus::Packed => "processing",
        ShipmentStatus::Shipped => "shipped",
        ShipmentStatus::InTransit => "in_transit",
        ShipmentStatus::OutForDelivery => "out_for_delivery",
        ShipmentStatus::Delivered => "delivered",
        ShipmentStatus::Exception => "exception",
        ShipmentStatus::ReturnedToSender => "failed",
        ShipmentStatus::Cancelled => "canceled",
    }
}

/// ACP's fulfilment event type for a tracking status.
fn fulfillment_event_type(status: TrackingStatus) -> &'static str {
    match status {
        TrackingStatus::LabelCreated => "processing",
        TrackingStatus::Accepted => "shipped",
        TrackingStatus::InTransit => "in_transit",
        TrackingStatus::OutForDelivery => "out_for_delivery",
        TrackingStatus::AttemptedDelivery => "failed_attempt",
        TrackingStatus::Exception => "exception",
        TrackingStatus::ReturnedToSender => "returned_to_sender",
        TrackingStatus::Delivered => "delivered",
    }
}

/// One shipment as an ACP `Fulfillment`: its lines, carrier and tracking, and its events in
/// the order they happened. Absent facts are left out (the schema allows no nulls).
fn fulfillment(shipment: &Shipment, events: &[TrackingEvent]) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(shipment.id.to_string()));
    out.insert("type".into(), json!("shipping"));
    out.insert("status".into(), json!(fulfillment_status(shipment.status)));
    let lines: Vec<Value> = shipment
        .lines
        .iter()
        .map(|l| json!({ "id": l.order_item_id.to_string(), "quantity": l.quantity }))
        .collect();
    out.insert("line_items".into(), json!(lines));
    if let Some(code) = &shipment.carrier {
        let name =
            CarrierKind::parse(code).map_or_else(|| code.clone(), |k| k.display_name().to_owned());
        out.insert("carrier".into(), json!(name));
    }
    if let Some(package) = shipment
        .packages
        .iter()
        .find(|p| p.tracking_number.is_some())
    {
        out.insert("tracking_number".into(), json!(package.tracking_number));
        if let Some(url) = &package.tracking_url {
            out.insert("tracking_url".into(), json!(url));
        }
    }
    let mut log: Vec<(DateTime<Utc>, Value)> = Vec::new();
    if let Some(at) = shipment.shipped_at {
        log.push((at, json!({ "id": format!("{}-shipped", shipment.id), "type": "shipped", "occurred_at": rfc3339(at) })));
    }
    for event in events {
        let mut e = serde_json::Map::new();
        e.insert("id".into(), json!(event.id.to_string()));
        e.insert("type".into(), json!(fulfillment_event_type(event.status)));
        e.insert("occurred_at".into(), json!(rfc3339(event.occurred_at)));
        if let Some(description) = &event.description {
            e.insert("description".into(), json!(description));
        }
        if let Some(location) = &event.location {
            e.insert("location".into(), json!(location));
        }
        log.push((event.occurred_at, Value::Object(e)));
    }
    if let Some(at) = shipment.delivered_at
        && !events.iter().any(|e| e.status == TrackingStatus::Delivered)
    {
        log.push((at, json!({ "id": format!("{}-delivered", shipment.id), "type": "delivered", "occurred_at": rfc3339(at) })));
    }
    log.sort_by_key(|(at, _)| *at);
    out.insert(
        "events".into(),
        Value::Array(log.into_iter().map(|(_, e)| e).collect()),
    );
    Value::Object(out)
}

/// The webhook event type (and payload `type`) of an owed platform event.
pub fn platform_event_type(kind: PlatformEventKind) -> &'static str {
    match kind {
        PlatformEventKind::OrderCreated => "order_create",
        PlatformEventKind::OrderUpdated => "order_update",
    }
}

/// A vaulted token: its id, when it was made, and the request's metadata with every value
/// as a string, plus our `merchant_id`.
pub fn delegated_token(token: &DelegatedToken, metadata: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(given) = metadata.as_object() {
        for (key, value) in given {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(key.clone(), Value::String(text));
        }
    }
    out.insert(
        "merchant_id".into(),
        Value::String(token.merchant_id.clone()),
    );
    json!({
        "id": token.id,
        "created": rfc3339(token.created_at),
        "metadata": out,
    })
}
