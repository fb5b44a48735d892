//! The gRPC door for billing: every method of `InvoiceService` and `WebhookService` called over
//! a real channel, with the numbers, statuses and documents they answer, bad input as
//! `INVALID_ARGUMENT` naming the field, and `idempotency-key` retries answered once.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::Datelike as _;
use serde_json::json;
use stateset::adapters::grpc::pb;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::support::grpc_calls::{bad_fields, keyed, replayed};
use crate::support::receiver::{Receiver, verify_like_the_docs};
use crate::support::{BearerInterceptor, TestApp, product_input};

type Authed = InterceptedService<Channel, BearerInterceptor>;
type Invoices = pb::invoice_service_client::InvoiceServiceClient<Authed>;
type Webhooks = pb::webhook_service_client::WebhookServiceClient<Authed>;

/// A time as PostgreSQL keeps it, in whole microseconds: a creation answers with the clock's
/// nanoseconds, later reads with what was stored.
fn as_stored(time: &mut Option<prost_types::Timestamp>) {
    if let Some(time) = time {
        time.nanos -= time.nanos % 1000;
    }
}

fn amount(money: &Option<pb::Money>) -> (&str, &str) {
    let money = money.as_ref().unwrap();
    (money.amount.as_str(), money.currency.as_str())
}

/// An order of Ada Lovelace (billing address in London): 2 × A at 10.00 with 1.00 off and 1.90
/// tax, 1 × B at 5.00 with 0.50 tax, 4.00 shipping. Total 30.40.
async fn order(t: &TestApp, tag: &str) -> Uuid {
    let a = t.variant(&format!("GB-A-{tag}")).await;
    let b = t.variant(&format!("GB-B-{tag}")).await;
    let email = format!("{}@example.com", tag.to_lowercase());
    let (status, customer) = t
        .json(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"email": email, "first_name": "Ada", "last_name": "Lovelace"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let (status, order) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({
                "customer_id": customer["id"],
                "items": [
                    {"variant_id": a, "quantity": 2, "unit_price": "10", "discount": "1", "tax": "1.9"},
                    {"variant_id": b, "quantity": 1, "unit_price": "5", "tax": "0.5"},
                ],
                "shipping_total": "4",
                "billing_address": {"first_name": "Ada", "last_name": "Lovelace", "line1": "12 St James's Square",
                    "city": "London", "postal_code": "SW1Y 4LB", "country": "GB"},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["total"]["amount"], "30.40");
    order["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_service_makes_issues_pays_prints_lists_and_voids_invoices() {
    let t = TestApp::new().await;
    let first_order = order(&t, "ADA").await;
    let second_order = order(&t, "GRACE").await;
    let mut invoices: Invoices = pb::invoice_service_client::InvoiceServiceClient::with_interceptor(
        t.serve_grpc().await,
        BearerInterceptor(Some(t.admin.clone())),
    );
    let year = chrono::Utc::now().year();

    // A draft, made once: the retry with the same key answers the same invoice again.
    let create = pb::CreateInvoiceRequest {
        order_id: first_order.to_string(),
        issue: false,
    };
    let made = invoices
        .create_invoice(keyed(create.clone(), "grpc-invoice-1"))
        .await
        .unwrap();
    assert!(!replayed(&made));
    let draft = made.into_inner();
    assert_eq!(draft.number, format!("INV-{year}-000001"));
    assert_eq!(draft.status, pb::InvoiceStatus::Draft as i32);
    assert_eq!(draft.order_id, first_order.to_string());
    assert!(draft.order_number.starts_with("ORD-"));
    assert_eq!(draft.currency, "USD");
    assert_eq!(draft.lines.len(), 2);
    let line = &draft.lines[0];
    assert_eq!(line.quantity, 2);
    assert_eq!(amount(&line.unit_price), ("10.00", "USD"));
    assert_eq!(amount(&line.discount).0, "1.00");
    assert_eq!(amount(&line.tax).0, "1.90");
    assert_eq!(amount(&line.total).0, "20.90");
    assert_eq!(amount(&draft.subtotal).0, "25.00");
    assert_eq!(amount(&draft.discount_total).0, "1.00");
    assert_eq!(amount(&draft.tax_total).0, "2.40");
    assert_eq!(amount(&draft.shipping_total).0, "4.00");
    assert_eq!(amount(&draft.total), ("30.40", "USD"));
    assert_eq!(amount(&draft.amount_due).0, "30.40");
    assert!(draft.issued_at.is_none() && draft.due_at.is_none());
    let buyer = draft.buyer.as_ref().unwrap();
    assert_eq!(buyer.name, "Ada Lovelace");
    assert_eq!(buyer.email, "ada@example.com");
    assert_eq!(buyer.address.as_ref().unwrap().city, "London");
    assert!(!draft.seller.as_ref().unwrap().name.is_empty());
    let again = invoices
        .create_invoice(keyed(create.clone(), "grpc-invoice-1"))
        .await
        .unwrap();
    assert!(replayed(&again));
    assert_eq!(again.into_inner(), draft);
    // Without the key it is a second request, and the order has its invoice.
    let conflict = invoices.create_invoice(create).await.unwrap_err();
    assert_eq!(conflict.code(), Code::AlreadyExists, "{conflict:?}");
    assert_eq!(conflict.metadata().get("x-error-code").unwrap(), "CONFLICT");

    let got = invoices
        .get_invoice(pb::GetInvoiceRequest {
            id: draft.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut stored = draft.clone();
    as_stored(&mut stored.created_at);
    as_stored(&mut stored.updated_at);
    assert_eq!(got, stored);

    // Issued: open, due later, nothing paid yet.
    let open = invoices
        .issue_invoice(pb::IssueInvoiceRequest {
            id: draft.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.status, pb::InvoiceStatus::Open as i32);
    let (issued, due) = (open.issued_at.unwrap(), open.due_at.unwrap());
    assert!(due.seconds > issued.seconds, "{issued:?} {due:?}");
    assert!(!open.overdue);
    assert_eq!(amount(&open.amount_paid).0, "0.00");
    let twice = invoices
        .issue_invoice(pb::IssueInvoiceRequest {
            id: draft.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(
        twice.metadata().get("x-error-code").unwrap(),
        "INVALID_STATE"
    );

    // A payment recorded once, though sent twice with one key.
    let pay = pb::RecordInvoicePaymentRequest {
        id: draft.id.clone(),
        amount: "10.40".into(),
        reference: Some("BACS 1234".into()),
        method: Some("bank_transfer".into()),
    };
    let part = invoices
        .record_invoice_payment(keyed(pay.clone(), "grpc-invoice-pay-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(part.status, pb::InvoiceStatus::Open as i32);
    assert_eq!(amount(&part.amount_paid), ("10.40", "USD"));
    assert_eq!(amount(&part.amount_due).0, "20.00");
    assert_eq!(part.payments.len(), 1);
    assert_eq!(part.payments[0].method, "bank_transfer");
    assert_eq!(part.payments[0].reference.as_deref(), Some("BACS 1234"));
    assert_eq!(amount(&part.payments[0].amount).0, "10.40");
    assert!(part.payments[0].payment_id.is_none());
    assert!(part.payments[0].recorded_by.starts_with("user:"));
    let retry = invoices
        .record_invoice_payment(keyed(pay.clone(), "grpc-invoice-pay-1"))
        .await
        .unwrap();
    assert!(replayed(&retry));
    assert_eq!(retry.into_inner(), part);
    let reread = invoices
        .get_invoice(pb::GetInvoiceRequest {
            id: draft.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reread.payments.len(), 1, "the retry recorded nothing more");
    assert_eq!(amount(&reread.amount_due).0, "20.00");
    // The same key with another request is refused.
    let reused = invoices
        .record_invoice_payment(keyed(
            pb::RecordInvoicePaymentRequest {
                amount: "1.00".into(),
                ..pay.clone()
            },
            "grpc-invoice-pay-1",
        ))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);

    // Bad amounts name the field: not a number, missing, more than is due.
    for (bad, why) in [
        ("ten", "not a number"),
        ("", "missing"),
        ("20.01", "above due"),
    ] {
        let err = invoices
            .record_invoice_payment(pb::RecordInvoicePaymentRequest {
                id: draft.id.clone(),
                amount: bad.into(),
                reference: None,
                method: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{why}: {err:?}");
        assert_eq!(bad_fields(&err), ["amount"], "{why}");
        assert_eq!(err.get_details_error_info().unwrap().reason, "VALIDATION");
    }

    // The rest settles it.
    let paid = invoices
        .record_invoice_payment(pb::RecordInvoicePaymentRequest {
            id: draft.id.clone(),
            amount: "20".into(),
            reference: None,
            method: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paid.status, pb::InvoiceStatus::Paid as i32);
    assert_eq!(amount(&paid.amount_due).0, "0.00");
    assert_eq!(amount(&paid.amount_paid).0, "30.40");
    assert!(paid.paid_at.is_some());
    assert_eq!(paid.payments.len(), 2);
    assert_eq!(paid.payments[1].method, "manual");
    let not_void = invoices
        .void_invoice(pb::VoidInvoiceRequest {
            id: draft.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_void.code(), Code::FailedPrecondition);

    // The printed invoice is a PDF of this invoice.
    let pdf = invoices
        .get_invoice_pdf(pb::GetInvoicePdfRequest {
            id: draft.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pdf.invoice_id, draft.id);
    assert_eq!(pdf.number, draft.number);
    assert_eq!(pdf.content_type, "application/pdf");
    assert_eq!(pdf.filename, format!("INV-{year}-000001.pdf"));
    assert!(pdf.content.starts_with(b"%PDF"), "a PDF document");
    let text = String::from_utf8_lossy(&pdf.content);
    assert!(text.contains(&draft.number), "the number is printed");
    assert!(text.contains("30.40"), "the total is printed");

    // The second order's invoice, issued at once, then voided: it keeps its number.
    let other = invoices
        .create_invoice(pb::CreateInvoiceRequest {
            order_id: second_order.to_string(),
            issue: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.number, format!("INV-{year}-000002"));
    assert_eq!(other.status, pb::InvoiceStatus::Open as i32);
    let voided = invoices
        .void_invoice(pb::VoidInvoiceRequest {
            id: other.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(voided.status, pb::InvoiceStatus::Void as i32);
    assert_eq!(voided.number, other.number);
    assert!(voided.voided_at.is_some());

    // Lists: newest first, paged, filtered.
    let first = invoices
        .list_invoices(pb::ListInvoicesRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.total_count, 2);
    assert_eq!(first.invoices.len(), 1);
    assert_eq!(first.invoices[0].id, other.id, "newest first");
    assert!(!first.next_page_token.is_empty());
    let last = invoices
        .list_invoices(pb::ListInvoicesRequest {
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last.invoices.len(), 1);
    assert_eq!(last.invoices[0].id, draft.id);
    assert!(last.next_page_token.is_empty(), "empty on the last page");
    let void_only = invoices
        .list_invoices(pb::ListInvoicesRequest {
            status: pb::InvoiceStatus::Void as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(void_only.total_count, 1);
    assert_eq!(void_only.invoices[0].id, other.id);
    let of_order = invoices
        .list_invoices(pb::ListInvoicesRequest {
            order_id: Some(first_order.to_string()),
            overdue: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_order.total_count, 1);
    assert_eq!(of_order.invoices[0].id, draft.id);
    assert!(of_order.next_page_token.is_empty());
    let overdue = invoices
        .list_invoices(pb::ListInvoicesRequest {
            overdue: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(overdue.total_count, 0);

    // Bad input names the field.
    let err = invoices
        .get_invoice(pb::GetInvoiceRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["id"]);
    let err = invoices
        .list_invoices(pb::ListInvoicesRequest {
            page_size: 500,
            customer_id: Some("not-a-uuid".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["customer_id"]);
    let err = invoices
        .list_invoices(pb::ListInvoicesRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size"]);
    let err = invoices
        .list_invoices(pb::ListInvoicesRequest {
            status: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["status"]);
    let missing = invoices
        .get_invoice(pb::GetInvoiceRequest {
            id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let err = invoices
        .create_invoice(pb::CreateInvoiceRequest {
            order_id: Uuid::now_v7().to_string(),
            issue: false,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["order_id"], "no such order");
}

/// A test app that may deliver to loopback receivers and retries at once.
async fn app_delivering_locally() -> TestApp {
    TestApp::with_config(|config| {
        config.webhooks.allow_private_networks = true;
        config.webhooks.retry_initial = Duration::ZERO;
        config.webhooks.timeout = Duration::from_secs(5);
    })
    .await
}

fn webhooks_client(t: &TestApp, channel: Channel) -> Webhooks {
    pb::webhook_service_client::WebhookServiceClient::with_interceptor(
        channel,
        BearerInterceptor(Some(t.admin.clone())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_service_manages_pings_pages_and_resends() {
    let t = app_delivering_locally().await;
    // The first request is answered 500, every later one 200.
    let receiver = Receiver::start(&[500]).await;
    let mut hooks = webhooks_client(&t, t.serve_grpc().await);

    let bad = hooks
        .create_webhook(pb::CreateWebhookRequest {
            url: "ftp://x".into(),
            event_types: vec![],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let mut fields = bad_fields(&bad);
    fields.sort();
    assert_eq!(fields, ["event_types", "url"]);

    let create = pb::CreateWebhookRequest {
        url: receiver.url(),
        event_types: vec!["product.*".into()],
        description: Some("catalog feed".into()),
        active: None,
    };
    let created = hooks
        .create_webhook(keyed(create.clone(), "grpc-webhook-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(created.secret.starts_with("whsec_"));
    let mut hook = created.webhook.clone().unwrap();
    assert_eq!(hook.url, receiver.url());
    assert_eq!(hook.event_types, ["product.*"]);
    assert_eq!(hook.description.as_deref(), Some("catalog feed"));
    assert!(hook.active, "active unless told otherwise");
    assert_eq!(hook.consecutive_failures, 0);
    // Retried with its key: the same webhook (and secret), not a second one.
    let again = hooks
        .create_webhook(keyed(create, "grpc-webhook-1"))
        .await
        .unwrap();
    assert!(replayed(&again));
    assert_eq!(again.into_inner(), created);

    as_stored(&mut hook.created_at);
    as_stored(&mut hook.updated_at);
    let listed = hooks
        .list_webhooks(pb::ListWebhooksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.webhooks, [hook.clone()]);
    let got = hooks
        .get_webhook(pb::GetWebhookRequest {
            id: hook.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, hook);

    // A ping the receiver answers 500: tried once, failed, in the log.
    let failed = hooks
        .ping_webhook(pb::PingWebhookRequest {
            id: hook.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(failed.event_type, "webhook.ping");
    assert_eq!(failed.webhook_id, hook.id);
    assert_eq!(failed.status, pb::WebhookDeliveryStatus::Failed as i32);
    assert_eq!(failed.attempt_count, 1);
    assert_eq!(failed.last_status_code, Some(500));
    assert!(failed.event_sequence.is_none(), "pings are not in the log");
    assert_eq!(failed.attempts.len(), 1);
    assert_eq!(failed.attempts[0].status_code, Some(500));
    let payload = failed.payload.as_ref().unwrap();
    assert!(matches!(
        payload.fields["event"].kind,
        Some(prost_types::value::Kind::StringValue(ref e)) if e == "webhook.ping"
    ));
    // Resent: pending again and due, then delivered by the worker.
    let queued = hooks
        .resend_webhook_delivery(pb::ResendWebhookDeliveryRequest {
            id: failed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queued.status, pb::WebhookDeliveryStatus::Pending as i32);
    assert!(queued.next_attempt_at.is_some());
    assert!(queued.completed_at.is_none());
    assert_eq!(t.relay_and_deliver().await, 1);
    let delivered = hooks
        .get_webhook_delivery(pb::GetWebhookDeliveryRequest {
            id: failed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        delivered.status,
        pb::WebhookDeliveryStatus::Succeeded as i32
    );
    assert_eq!(delivered.attempt_count, 2);
    assert_eq!(delivered.last_status_code, Some(200));
    assert_eq!(
        delivered
            .attempts
            .iter()
            .map(|a| a.status_code)
            .collect::<Vec<_>>(),
        [Some(500), Some(200)]
    );
    assert!(delivered.completed_at.is_some());

    // A ping answered 200, signed with the webhook's secret.
    let ping = hooks
        .ping_webhook(pb::PingWebhookRequest {
            id: hook.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ping.status, pb::WebhookDeliveryStatus::Succeeded as i32);
    assert_eq!(ping.last_status_code, Some(200));
    let received = receiver.wait_for(3).await;
    let last = received.last().unwrap();
    assert_eq!(last.header("x-stateset-event"), "webhook.ping");
    assert_eq!(last.header("x-stateset-event-id"), ping.event_id);
    assert!(verify_like_the_docs(
        &created.secret,
        &last.header("x-stateset-signature"),
        &last.body
    ));

    // An event the webhook subscribes to: a third delivery, from the log.
    t.services()
        .catalog
        .create_product(&t.ctx, product_input("Hooked", &["GB-HOOK-1"], "5"))
        .await
        .unwrap();
    assert_eq!(t.relay_and_deliver().await, 1);

    // Pages of the log, newest first; the last page has no token, even when it is full.
    let list = |page_size: i32, page_token: String, status: pb::WebhookDeliveryStatus| {
        pb::ListWebhookDeliveriesRequest {
            webhook_id: hook.id.clone(),
            page_size,
            page_token,
            status: status as i32,
        }
    };
    use pb::WebhookDeliveryStatus as S;
    let first = hooks
        .list_webhook_deliveries(list(2, String::new(), S::Unspecified))
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = first
        .deliveries
        .iter()
        .map(|d| d.event_type.as_str())
        .collect();
    assert_eq!(types, ["product.created", "webhook.ping"]);
    assert!(first.deliveries[0].event_sequence.is_some());
    assert!(!first.next_page_token.is_empty());
    let rest = hooks
        .list_webhook_deliveries(list(2, first.next_page_token, S::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.deliveries.len(), 1);
    assert_eq!(
        rest.deliveries[0].id, failed.id,
        "the oldest, the resent ping"
    );
    assert!(rest.next_page_token.is_empty());
    let whole = hooks
        .list_webhook_deliveries(list(3, String::new(), S::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(whole.deliveries.len(), 3);
    assert!(whole.next_page_token.is_empty(), "a full last page");
    let succeeded = hooks
        .list_webhook_deliveries(list(0, String::new(), S::Succeeded))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(succeeded.deliveries.len(), 3);
    let none_failed = hooks
        .list_webhook_deliveries(list(0, String::new(), S::Failed))
        .await
        .unwrap()
        .into_inner();
    assert!(none_failed.deliveries.is_empty());
    for (bad, field) in [
        (list(101, String::new(), S::Unspecified), "page_size"),
        (list(0, "garbage".into(), S::Unspecified), "page_token"),
        (
            pb::ListWebhookDeliveriesRequest {
                webhook_id: "nope".into(),
                ..Default::default()
            },
            "webhook_id",
        ),
    ] {
        let err = hooks.list_webhook_deliveries(bad).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert_eq!(bad_fields(&err), [field]);
    }

    // Only the fields that are set change.
    let updated = hooks
        .update_webhook(pb::UpdateWebhookRequest {
            id: hook.id.clone(),
            event_types: Some(pb::WebhookEventTypeList {
                event_types: vec!["order.*".into(), "invoice.paid".into()],
            }),
            description: Some(String::new()),
            active: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.url, hook.url, "unset: unchanged");
    assert_eq!(updated.event_types, ["order.*", "invoice.paid"]);
    assert_eq!(updated.description, None, "an empty string clears it");
    assert!(!updated.active);
    let err = hooks
        .update_webhook(pb::UpdateWebhookRequest {
            id: hook.id.clone(),
            event_types: Some(pb::WebhookEventTypeList {
                event_types: vec![],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["event_types"]);
    let inactive = hooks
        .resend_webhook_delivery(pb::ResendWebhookDeliveryRequest {
            id: ping.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(inactive.code(), Code::FailedPrecondition);

    // A new secret, once per key; later deliveries are signed with it.
    let rotate = pb::RotateWebhookSecretRequest {
        id: hook.id.clone(),
    };
    let rotated = hooks
        .rotate_webhook_secret(keyed(rotate.clone(), "grpc-rotate-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(rotated.secret.starts_with("whsec_"));
    assert_ne!(rotated.secret, created.secret);
    let replay = hooks
        .rotate_webhook_secret(keyed(rotate, "grpc-rotate-1"))
        .await
        .unwrap();
    assert!(replayed(&replay));
    assert_eq!(replay.into_inner().secret, rotated.secret);
    hooks
        .ping_webhook(pb::PingWebhookRequest {
            id: hook.id.clone(),
        })
        .await
        .unwrap();
    // Two pings, the resend and the product event came before it.
    let received = receiver.wait_for(5).await;
    let rotated_ping = &received[4];
    assert_eq!(rotated_ping.header("x-stateset-event"), "webhook.ping");
    let signature = rotated_ping.header("x-stateset-signature");
    assert!(verify_like_the_docs(
        &rotated.secret,
        &signature,
        &rotated_ping.body
    ));
    assert!(!verify_like_the_docs(
        &created.secret,
        &signature,
        &rotated_ping.body
    ));

    // Deleted with its log; answered with the webhook as it was.
    let deleted = hooks
        .delete_webhook(pb::DeleteWebhookRequest {
            id: hook.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.id, hook.id);
    assert_eq!(deleted.event_types, ["order.*", "invoice.paid"]);
    for err in [
        hooks
            .get_webhook(pb::GetWebhookRequest {
                id: hook.id.clone(),
            })
            .await
            .unwrap_err(),
        hooks
            .get_webhook_delivery(pb::GetWebhookDeliveryRequest {
                id: ping.id.clone(),
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::NotFound);
    }
    let listed = hooks
        .list_webhooks(pb::ListWebhooksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(listed.webhooks.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_100_webhooks_keep_the_unpaged_list_bounded() {
    let t = app_delivering_locally().await;
    let mut hooks = webhooks_client(&t, t.serve_grpc().await);
    let create = |n: usize| pb::CreateWebhookRequest {
        url: format!("http://127.0.0.1:9/hooks/{n}"),
        event_types: vec!["*".into()],
        ..Default::default()
    };
    for n in 0..100 {
        hooks.create_webhook(create(n)).await.unwrap();
    }
    let refused = hooks.create_webhook(create(100)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        refused.metadata().get("x-error-code").unwrap(),
        "INVALID_STATE"
    );
    assert_eq!(
        refused.message(),
        "cannot create a webhook while 100 webhooks exist (the most allowed)"
    );
    let listed = hooks
        .list_webhooks(pb::ListWebhooksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.webhooks.len(), 100);
    // Deleting one makes room again.
    hooks
        .delete_webhook(pb::DeleteWebhookRequest {
            id: listed.webhooks[0].id.clone(),
        })
        .await
        .unwrap();
    hooks.create_webhook(create(100)).await.unwrap();
}
