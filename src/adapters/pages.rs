//! Server-rendered pages for buyers: the order status page an order's status link opens
//! (`GET /orders/{id}?token=...`). Plain escaped HTML, no scripts, never cached, and the
//! token never leaves in a `Referer`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::{Money, OrderDetail, OrderStatus};
use crate::services::Error;

/// The query of a status link.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
}

/// `GET /orders/{id}`: the order's status for the holder of its link; 404 for anyone else.
pub async fn order_status(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let found = match Uuid::parse_str(id.trim()) {
        Ok(id) => {
            app.services
                .order_pages
                .page(id, query.token.as_deref())
                .await
        }
        Err(_) => Err(Error::not_found("order", id)),
    };
    let (status, body) = match found {
        Ok(detail) => (StatusCode::OK, render(&detail)),
        Err(Error::NotFound { .. }) => (
            StatusCode::NOT_FOUND,
            page("Not found", "<p>There is no order at this address.</p>"),
        ),
        Err(err) => {
            tracing::error!(error = %err, "order status page failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                page("Unavailable", "<p>Please try again in a moment.</p>"),
            )
        }
    };
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Referrer-Policy: no-referrer comes with every response (`http::security_headers`).
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn money(m: &Money) -> String {
    escape(&format!("{} {}", m.amount.round_dp(2), m.currency))
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}}\
         td,th{{padding:.2em .6em;text-align:left}}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// Where the goods are, in words a buyer reads.
fn fulfilment(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending | OrderStatus::Processing | OrderStatus::OnHold => "Not shipped yet",
        OrderStatus::PartiallyShipped => "Partly shipped, the rest follows",
        OrderStatus::Shipped => "Shipped",
        OrderStatus::Delivered | OrderStatus::Completed | OrderStatus::Archived => "Delivered",
        OrderStatus::Cancelled => "Cancelled, nothing will be shipped",
    }
}

fn render(detail: &OrderDetail) -> String {
    let order = &detail.order;
    let shipped = matches!(
        order.status,
        OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Completed
            | OrderStatus::Archived
    );
    let mut body = format!(
        "<h1>Order {}</h1><p>Status: <strong>{}</strong></p><p>Shipment: {}</p>\
         <table><thead><tr><th>Item</th><th>Quantity</th><th>Shipped</th><th>Price</th>\
         <th>Line total</th></tr></thead><tbody>",
        escape(&order.number),
        escape(order.status.as_str()),
        fulfilment(order.status),
    );
    for item in &detail.items {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&item.name),
            item.quantity,
            if shipped { item.quantity } else { 0 },
            money(&item.unit_price),
            money(&item.total),
        ));
    }
    body.push_str("</tbody></table><table>");
    for (label, amount) in [
        ("Subtotal", &order.subtotal),
        ("Discount", &order.discount_total),
        ("Shipping", &order.shipping_total),
        ("Tax", &order.tax_total),
        ("Total", &order.total),
    ] {
        body.push_str(&format!(
            "<tr><th>{label}</th><td>{}</td></tr>",
            money(amount)
        ));
    }
    body.push_str("</table>");
    page(&format!("Order {}", order.number), &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            super::escape("<b>\"Tee\" & 'co'</b>"),
            "&lt;b&gt;&quot;Tee&quot; &amp; &#39;co&#39;&lt;/b&gt;"
        );
    }
}
