//! Invoices: made when an order completes (lines, taxes and parties copied, numbered
//! `INV-<year>-000001`), consecutive numbers under concurrency, partial payments up to the
//! amount due, the void rules, overdue filters and reminders, the PDF, and the GraphQL path.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Datelike as _, Utc};
use serde_json::{Value, json};
use stateset::domain::OrderAction;
use stateset::services::auth::CUSTOMER_ROLE;
use stateset::services::invoices::CreateInvoiceInput;
use uuid::Uuid;

use crate::support::{Auth, TestApp};

/// Runs one SQL statement on the test's database.
async fn sql(t: &TestApp, statement: &str) {
    use diesel_async::RunQueryDsl as _;
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap();
}

fn year() -> i32 {
    Utc::now().year()
}

/// An order of Ada Lovelace (billing address in London): 2 × INV-A-<name> at 10.00 with 1.00 off and
/// 1.90 tax, 1 × INV-B-<name> at 5.00 with 0.50 tax, 4.00 shipping. Total 30.40.
async fn order(t: &TestApp, email: &str) -> Uuid {
    let tag = email.split('@').next().unwrap().to_uppercase();
    let a = t.variant(&format!("INV-A-{tag}")).await;
    let b = t.variant(&format!("INV-B-{tag}")).await;
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

/// Walks an order through to completed.
async fn complete(t: &TestApp, id: Uuid) {
    for action in [
        OrderAction::Process,
        OrderAction::Ship,
        OrderAction::Deliver,
        OrderAction::Complete,
    ] {
        t.services()
            .orders
            .transition(&t.ctx, id, action, None)
            .await
            .unwrap();
    }
}

async fn create(t: &TestApp, order: Uuid, issue: bool) -> Value {
    let (status, invoice) = t
        .json(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"order_id": order, "issue": issue})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    invoice
}

async fn act(
    t: &TestApp,
    invoice: &Value,
    action: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let path = format!(
        "/api/v1/invoices/{}/{action}",
        invoice["id"].as_str().unwrap()
    );
    t.json(Method::POST, &path, body).await
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_an_order_issues_an_open_invoice_with_its_lines_and_taxes() {
    let t = TestApp::with_config(|c| {
        c.invoices.seller_name = "Acme Trading Ltd".into();
        c.invoices.seller_tax_id = Some("GB123456789".into());
        c.invoices.due_days = 14;
    })
    .await;
    let id = order(&t, "ada@example.com").await;
    let (_, none) = t
        .json(
            Method::GET,
            &format!("/api/v1/invoices?order_id={id}"),
            None,
        )
        .await;
    assert_eq!(none["total_count"], 0, "no invoice before completion");
    complete(&t, id).await;

    let (status, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/invoices?order_id={id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total_count"], 1);
    let invoice = &list["items"][0];
    assert_eq!(invoice["number"], format!("INV-{}-000001", year()));
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["currency"], "USD");
    let lines: Vec<Value> = invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            json!([
                l["sku"],
                l["quantity"],
                l["unit_price"]["amount"],
                l["discount"]["amount"],
                l["tax"]["amount"],
                l["total"]["amount"]
            ])
        })
        .collect();
    assert_eq!(
        lines,
        [
            json!(["INV-A-ADA", 2, "10.00", "1.00", "1.90", "20.90"]),
            json!(["INV-B-ADA", 1, "5.00", "0.00", "0.50", "5.50"]),
        ]
    );
    for (field, amount) in [
        ("subtotal", "25.00"),
        ("discount_total", "1.00"),
        ("tax_total", "2.40"),
        ("shipping_total", "4.00"),
        ("total", "30.40"),
        ("amount_paid", "0.00"),
        ("amount_due", "30.40"),
    ] {
        assert_eq!(invoice[field]["amount"], amount, "{field}");
    }
    assert_eq!(
        invoice["seller"],
        json!({"name": "Acme Trading Ltd", "address": "1 Commerce Way\nSan Francisco, CA 94105\nUS",
            "tax_id": "GB123456789"})
    );
    assert_eq!(invoice["buyer"]["name"], "Ada Lovelace");
    assert_eq!(invoice["buyer"]["email"], "ada@example.com");
    assert_eq!(invoice["buyer"]["address"]["city"], "London");
    assert_eq!(
        time(&invoice["due_at"]) - time(&invoice["issued_at"]),
        chrono::Duration::days(14)
    );
    assert_eq!(invoice["overdue"], false);

    let created = t.events_of(&["invoice.created"]).await;
    let issued = t.events_of(&["invoice.issued"]).await;
    assert_eq!((created.len(), issued.len()), (1, 1));
    assert_eq!(issued[0].data["number"], invoice["number"]);

    // One invoice that is not void per order, whichever door asks.
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"order_id": id})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["field"], "order_id");
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"order_id": "not-a-uuid"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(crate::support::rest_error_fields(&body), ["order_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invoices_get_distinct_consecutive_numbers() {
    let t = TestApp::new().await;
    let variant = t.variant("INV-CONC").await;
    let mut orders = Vec::new();
    for i in 0..8 {
        orders.push(t.order_of(variant, &format!("c{i}@example.com")).await);
    }
    let tasks: Vec<_> = orders
        .iter()
        .map(|&order_id| {
            let (invoices, ctx) = (t.services().invoices.clone(), t.ctx.clone());
            tokio::spawn(async move {
                invoices
                    .create_invoice(
                        &ctx,
                        CreateInvoiceInput {
                            order_id,
                            issue: Some(true),
                        },
                    )
                    .await
            })
        })
        .collect();
    let mut numbers: Vec<String> = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().unwrap().number);
    }
    numbers.sort();
    let expected: Vec<String> = (1..=8).map(|n| format!("INV-{}-{n:06}", year())).collect();
    assert_eq!(numbers, expected);

    // A second request for an order already invoiced waits for the first and is refused,
    // without using up a number.
    let again = t
        .services()
        .invoices
        .create_invoice(
            &t.ctx,
            CreateInvoiceInput {
                order_id: orders[0],
                issue: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), "CONFLICT");
    let another = t.order_of(variant, "c9@example.com").await;
    let next = create(&t, another, false).await;
    assert_eq!(next["number"], format!("INV-{}-000009", year()));
    assert_eq!(next["status"], "draft");
    assert_eq!(next["issued_at"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_count_until_the_invoice_is_paid_and_never_exceed_what_is_due() {
    let t = TestApp::new().await;
    let id = order(&t, "payer@example.com").await;
    // The order's card payment: 12.00 captured, 2.00 of it refunded.
    sql(
        &t,
        &format!(
            "INSERT INTO payments (id, order_id, provider, provider_reference, status, amount, captured_amount, \
             refunded_amount, currency) VALUES ('{}', '{id}', 'test', 'ch_1', 'partially_refunded', 12, 12, 2, 'USD')",
            Uuid::now_v7()
        ),
    )
    .await;
    let draft = create(&t, id, false).await;
    assert_eq!(draft["status"], "draft");
    let (status, body) = act(&t, &draft, "payments", Some(json!({"amount": "1.00"}))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("INVALID_STATE")),
        "a draft takes no payments: {body}"
    );

    let (status, open) = act(&t, &draft, "issue", None).await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open["status"], "open");
    assert_eq!(
        open["amount_paid"]["amount"], "10.00",
        "captured − refunded"
    );
    assert_eq!(open["amount_due"]["amount"], "20.40");
    assert_eq!(open["payments"][0]["method"], "order_payment");
    let (status, body) = act(&t, &open, "issue", None).await;
    assert_eq!(
        (status, body["error"]["details"].clone()),
        (
            StatusCode::CONFLICT,
            json!({"from": "open", "action": "issue"})
        )
    );

    for (bad, status) in [
        (json!({"amount": "20.41"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"amount": "0"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"amount": "-5"}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"amount": "1.00001"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"amount": "ten"}), StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = act(&t, &open, "payments", Some(bad.clone())).await;
        assert_eq!(got, status, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION");
        assert_eq!(
            crate::support::rest_error_fields(&body),
            ["amount"],
            "{bad}: {body}"
        );
    }

    let (status, part) = act(
        &t,
        &open,
        "payments",
        Some(json!({"amount": "5.40", "reference": "BANK-778", "method": "bank_transfer"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{part}");
    assert_eq!(
        (
            part["status"].as_str(),
            part["amount_paid"]["amount"].as_str(),
            part["amount_due"]["amount"].as_str()
        ),
        (Some("open"), Some("15.40"), Some("15.00"))
    );
    assert_eq!(part["payments"][1]["reference"], "BANK-778");
    let (status, paid) = act(&t, &open, "payments", Some(json!({"amount": "15"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amount_due"]["amount"], "0.00");
    assert!(paid["paid_at"].is_string());
    assert_eq!(paid["payments"][2]["method"], "manual");

    assert_eq!(t.events_of(&["invoice.payment_recorded"]).await.len(), 2);
    let paid_events = t.events_of(&["invoice.paid"]).await;
    assert_eq!(paid_events.len(), 1);
    assert_eq!(paid_events[0].data["status"], "paid");
    for action in ["payments", "void"] {
        let (status, body) = act(&t, &open, action, Some(json!({"amount": "1"}))).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("INVALID_STATE")),
            "{action} on a paid invoice: {body}"
        );
    }

    // An order paid in full before completion gets an invoice that is paid on issue.
    let full = order(&t, "full@example.com").await;
    sql(
        &t,
        &format!(
            "INSERT INTO payments (id, order_id, provider, provider_reference, status, amount, captured_amount, \
             currency) VALUES ('{}', '{full}', 'test', 'ch_2', 'captured', 30.40, 30.40, 'USD')",
            Uuid::now_v7()
        ),
    )
    .await;
    complete(&t, full).await;
    let (_, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/invoices?order_id={full}"),
            None,
        )
        .await;
    assert_eq!(list["items"][0]["status"], "paid");
    assert_eq!(list["items"][0]["amount_due"]["amount"], "0.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn void_invoices_keep_their_number_and_free_the_order() {
    let t = TestApp::new().await;
    let id = order(&t, "void@example.com").await;
    let draft = create(&t, id, false).await;
    let (status, void) = act(&t, &draft, "void", None).await;
    assert_eq!(status, StatusCode::OK, "{void}");
    assert_eq!(void["status"], "void");
    assert_eq!(void["number"], draft["number"]);
    assert!(void["voided_at"].is_string());
    for action in ["void", "issue"] {
        let (status, body) = act(&t, &draft, action, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {body}");
        assert_eq!(
            body["error"]["details"],
            json!({"from": "void", "action": action})
        );
    }
    assert_eq!(t.events_of(&["invoice.voided"]).await.len(), 1);

    // The order may be invoiced again; completing it then makes no second invoice.
    let open = create(&t, id, true).await;
    assert_eq!(open["number"], format!("INV-{}-000002", year()));
    complete(&t, id).await;
    let (_, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/invoices?order_id={id}"),
            None,
        )
        .await;
    assert_eq!(list["total_count"], 2);
    let (status, voided_open) = act(&t, &open, "void", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(voided_open["status"], "void");

    // Unknown invoices are 404; a cancelled order cannot be invoiced.
    let (status, _) = t
        .json(
            Method::POST,
            &format!("/api/v1/invoices/{}/void", Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let cancelled = order(&t, "cancel@example.com").await;
    t.services()
        .orders
        .transition(
            &t.ctx,
            cancelled,
            OrderAction::Cancel,
            Some("changed mind".into()),
        )
        .await
        .unwrap();
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"order_id": cancelled})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("INVALID_STATE"))
    );
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"order_id": Uuid::now_v7()})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::support::rest_error_fields(&body), ["order_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_invoices_are_filtered_and_reminded_once_per_interval() {
    let t = TestApp::new().await;
    let late = create(&t, order(&t, "late@example.com").await, true).await;
    let on_time = create(&t, order(&t, "ontime@example.com").await, true).await;
    let draft = create(&t, order(&t, "draft@example.com").await, false).await;
    let late_id = late["id"].as_str().unwrap();
    sql(
        &t,
        &format!("UPDATE invoices SET due_at = now() - interval '1 day' WHERE id = '{late_id}'"),
    )
    .await;

    let ids = |list: &Value| -> Vec<String> {
        let mut ids: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let (_, overdue) = t
        .json(Method::GET, "/api/v1/invoices?overdue=true", None)
        .await;
    assert_eq!(ids(&overdue), [late_id.to_owned()]);
    assert_eq!(overdue["items"][0]["overdue"], true);
    let (_, others) = t
        .json(Method::GET, "/api/v1/invoices?overdue=false", None)
        .await;
    let mut expected = vec![
        on_time["id"].as_str().unwrap().to_owned(),
        draft["id"].as_str().unwrap().to_owned(),
    ];
    expected.sort();
    assert_eq!(ids(&others), expected);

    // The job reminds once, then not again within the interval; two instances running it at
    // once still remind once.
    let invoices = &t.services().invoices;
    assert_eq!(invoices.send_overdue_reminders(&t.ctx).await.unwrap(), 1);
    assert_eq!(invoices.send_overdue_reminders(&t.ctx).await.unwrap(), 0);
    let reminders = t.events_of(&["invoice.overdue"]).await;
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].entity_id.to_string(), late_id);
    assert_eq!(reminders[0].data["reminder"], 1);
    sql(
        &t,
        &format!(
            "UPDATE invoices SET last_reminded_at = now() - interval '73 hours' WHERE id = '{late_id}'"
        ),
    )
    .await;
    let (a, b) = tokio::join!(
        invoices.send_overdue_reminders(&t.ctx),
        invoices.send_overdue_reminders(&t.ctx)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(t.events_of(&["invoice.overdue"]).await.len(), 2);
    let (_, again) = t
        .json(Method::GET, &format!("/api/v1/invoices/{late_id}"), None)
        .await;
    assert_eq!(again["reminders_sent"], 2);
    assert!(again["last_reminded_at"].is_string());

    // Paid invoices are not overdue, whatever their due date.
    let due = again["amount_due"]["amount"].as_str().unwrap().to_owned();
    let (status, _) = act(&t, &late, "payments", Some(json!({"amount": due}))).await;
    assert_eq!(status, StatusCode::CREATED);
    sql(
        &t,
        &format!("UPDATE invoices SET last_reminded_at = NULL WHERE id = '{late_id}'"),
    )
    .await;
    assert_eq!(invoices.send_overdue_reminders(&t.ctx).await.unwrap(), 0);
    let (_, overdue) = t
        .json(Method::GET, "/api/v1/invoices?overdue=true", None)
        .await;
    assert_eq!(overdue["total_count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_page_and_show_customers_only_their_own() {
    let t = TestApp::new().await;
    let customer = Auth::Bearer(t.user_token("buyer@example.com", CUSTOMER_ROLE).await);
    let (_, own) = t
        .json_as(&customer, Method::GET, "/api/v1/customers", None)
        .await;
    let own_customer = own["items"][0]["id"].as_str().unwrap().to_owned();
    let variant = t.variant("INV-LIST").await;
    // Placed by staff for the customer (customers order through checkout).
    let (status, mine) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"customer_id": own_customer, "items": [{"variant_id": variant, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    let mine = create(&t, mine["id"].as_str().unwrap().parse().unwrap(), true).await;
    let mut others = Vec::new();
    for i in 0..3 {
        let order = t.order_of(variant, &format!("other{i}@example.com")).await;
        others.push(create(&t, order, i == 0).await);
    }

    let (_, drafts) = t
        .json(Method::GET, "/api/v1/invoices?status=draft", None)
        .await;
    assert_eq!(drafts["total_count"], 2);
    let (_, by_customer) = t
        .json(
            Method::GET,
            &format!("/api/v1/invoices?customer_id={own_customer}"),
            None,
        )
        .await;
    assert_eq!(by_customer["total_count"], 1);
    assert_eq!(by_customer["items"][0]["id"], mine["id"]);

    // Pages of 3 then 1, newest first, without overlap.
    let (_, first) = t.json(Method::GET, "/api/v1/invoices?limit=3", None).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    assert_eq!(first["total_count"], 4);
    assert_eq!(first["items"][0]["id"], others[2]["id"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = t
        .json(
            Method::GET,
            &format!("/api/v1/invoices?limit=3&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["id"], mine["id"]);
    assert_eq!(second["next_cursor"], Value::Null);
    for (query, field) in [
        ("status=late", "status"),
        ("overdue=maybe", "overdue"),
        ("limit=0", "limit"),
        ("cursor=nonsense", "cursor"),
    ] {
        let (status, body) = t
            .json(Method::GET, &format!("/api/v1/invoices?{query}"), None)
            .await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {status}"
        );
        assert_eq!(crate::support::rest_error_fields(&body), [field], "{query}");
    }

    // A customer sees their own invoice and nobody else's, and changes none.
    let (status, list) = t
        .json_as(&customer, Method::GET, "/api/v1/invoices", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total_count"], 1);
    assert_eq!(list["items"][0]["id"], mine["id"]);
    let get = |id: &Value| format!("/api/v1/invoices/{}", id.as_str().unwrap());
    let (status, _) = t
        .json_as(&customer, Method::GET, &get(&mine["id"]), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t
        .json_as(&customer, Method::GET, &get(&others[0]["id"]), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .json_as(
            &customer,
            Method::GET,
            &format!("{}/pdf", get(&others[0]["id"])),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .json_as(
            &customer,
            Method::POST,
            &format!("{}/void", get(&mine["id"])),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The event log shows the customer the events of their own invoice only.
    let (_, events) = t
        .json_as(&customer, Method::GET, "/api/v1/events", None)
        .await;
    let invoice_events: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("invoice."))
        .collect();
    assert_eq!(invoice_events.len(), 2, "created and issued: {events}");
    assert!(invoice_events.iter().all(|e| e["entity_id"] == mine["id"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pdf_is_a_readable_invoice() {
    let t = TestApp::new().await;
    let id = order(&t, "pdf@example.com").await;
    complete(&t, id).await;
    let (_, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/invoices?order_id={id}"),
            None,
        )
        .await;
    let invoice = &list["items"][0];
    let number = invoice["number"].as_str().unwrap();
    let request = crate::support::with_auth(
        Request::builder().uri(format!(
            "/api/v1/invoices/{}/pdf",
            invoice["id"].as_str().unwrap()
        )),
        &Auth::Bearer(t.admin.clone()),
    )
    .body(Body::empty())
    .unwrap();
    let (status, headers, bytes) = t.request(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("{number}.pdf"))
    );
    assert!(bytes.starts_with(b"%PDF-"));
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    for text in [
        number,
        "INV-A-PDF",
        "Invoice",
        "Amount due",
        "USD 30.40",
        "Ada Lovelace",
    ] {
        assert!(contains(text), "the PDF shows {text}");
    }
    // With poppler's pdftotext at hand, check what a reader extracts too (optional).
    let path = std::env::temp_dir().join(format!("{}.pdf", Uuid::now_v7()));
    std::fs::write(&path, &bytes).unwrap();
    if let Ok(out) = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        && out.status.success()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(number) && text.contains("London"), "{text}");
    }
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_over_graphql() {
    let t = TestApp::new().await;
    let id = order(&t, "gql@example.com").await;
    let created = t
        .graphql(
            r#"mutation($order: UUID!) { createInvoice(orderId: $order, issue: true) {
                id number status amountDue { amount currency } lines { sku quantity tax { amount } }
                seller { name } buyer { name address { city } } overdue } }"#,
            json!({"order": id}),
        )
        .await;
    let invoice = &created["data"]["createInvoice"];
    assert_eq!(invoice["status"], "OPEN", "{created}");
    assert_eq!(
        invoice["amountDue"],
        json!({"amount": "30.40", "currency": "USD"})
    );
    assert_eq!(invoice["lines"][0]["tax"]["amount"], "1.90");
    assert_eq!(invoice["buyer"]["address"]["city"], "London");
    let invoice_id = invoice["id"].clone();

    let again = t
        .graphql(
            r#"mutation($order: UUID!) { createInvoice(orderId: $order) { id } }"#,
            json!({"order": id}),
        )
        .await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT");

    let paid = t
        .graphql(
            r#"mutation($id: UUID!) { recordInvoicePayment(id: $id, input: {amount: "30.40", reference: "R-1"}) {
                status amountPaid { amount } payments { reference } } }"#,
            json!({"id": invoice_id}),
        )
        .await;
    assert_eq!(
        paid["data"]["recordInvoicePayment"]["status"], "PAID",
        "{paid}"
    );
    let too_much = t
        .graphql(
            r#"mutation($id: UUID!) { recordInvoicePayment(id: $id, input: {amount: "1"}) { status } }"#,
            json!({"id": invoice_id}),
        )
        .await;
    assert_eq!(too_much["errors"][0]["extensions"]["code"], "INVALID_STATE");
    let void = t
        .graphql(
            r#"mutation($id: UUID!) { voidInvoice(id: $id) { status } }"#,
            json!({"id": invoice_id}),
        )
        .await;
    assert_eq!(void["errors"][0]["extensions"]["code"], "INVALID_STATE");

    let other = t
        .graphql(
            r#"mutation($order: UUID!) { createInvoice(orderId: $order) { id status } }"#,
            json!({"order": order(&t, "gql2@example.com").await}),
        )
        .await;
    let other_id = other["data"]["createInvoice"]["id"].clone();
    assert_eq!(other["data"]["createInvoice"]["status"], "DRAFT");
    let issued = t
        .graphql(
            r#"mutation($id: UUID!) { issueInvoice(id: $id) { status dueAt } }"#,
            json!({"id": other_id}),
        )
        .await;
    assert_eq!(issued["data"]["issueInvoice"]["status"], "OPEN", "{issued}");
    let over = t
        .graphql(
            r#"mutation($id: UUID!) { recordInvoicePayment(id: $id, input: {amount: "99"}) { status } }"#,
            json!({"id": other_id}),
        )
        .await;
    assert_eq!(
        over["errors"][0]["extensions"]["code"], "VALIDATION",
        "{over}"
    );

    let listed = t
        .graphql(
            r#"{ paid: invoices(filter: {status: PAID}) { totalCount edges { node { number } } }
                 current: invoices(filter: {overdue: false}, first: 1) { totalCount pageInfo { hasNextPage } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(listed["data"]["paid"]["totalCount"], 1, "{listed}");
    assert_eq!(
        listed["data"]["paid"]["edges"][0]["node"]["number"],
        invoice["number"]
    );
    assert_eq!(listed["data"]["current"]["totalCount"], 2);
    assert_eq!(listed["data"]["current"]["pageInfo"]["hasNextPage"], true);
    let one = t
        .graphql(
            r#"query($id: UUID!, $order: UUID!) { invoice(id: $id) { number status }
                order(id: $order) { invoices { number status } } }"#,
            json!({"id": invoice_id, "order": id}),
        )
        .await;
    assert_eq!(one["data"]["invoice"]["status"], "PAID", "{one}");
    assert_eq!(
        one["data"]["order"]["invoices"],
        json!([{"number": invoice["number"], "status": "PAID"}])
    );
    let voided = t
        .graphql(
            r#"mutation($id: UUID!) { voidInvoice(id: $id) { status voidedAt } }"#,
            json!({"id": other_id}),
        )
        .await;
    assert_eq!(voided["data"]["voidInvoice"]["status"], "VOID", "{voided}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_captured_after_issue_are_applied_to_the_open_invoice() {
    let t = TestApp::new().await;
    let id = order(&t, "later@example.com").await;
    let invoice = create(&t, id, true).await;
    assert_eq!(invoice["status"], "open");
    let token = crate::checkout::token(&t, "4242424242424242").await;
    let (status, authorized) = t
        .json(
            Method::POST,
            "/api/v1/payments",
            Some(json!({"order_id": id, "payment_token": token, "capture": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{authorized}");
    let path = format!("/api/v1/invoices/{}", invoice["id"].as_str().unwrap());
    let (_, unchanged) = t.json(Method::GET, &path, None).await;
    assert_eq!(
        unchanged["amount_paid"]["amount"], "0.00",
        "an authorization is not money in"
    );

    let capture = format!(
        "/api/v1/payments/{}/capture",
        authorized["id"].as_str().unwrap()
    );
    let (status, _) = t
        .json(Method::POST, &capture, Some(json!({"amount": "10.00"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, part) = t.json(Method::GET, &path, None).await;
    assert_eq!(part["status"], "open");
    assert_eq!(part["amount_paid"]["amount"], "10.00");
    assert_eq!(part["amount_due"]["amount"], "20.40");

    let token = crate::checkout::token(&t, "4242424242424242").await;
    let (status, rest) = t
        .json(
            Method::POST,
            "/api/v1/payments",
            Some(json!({"order_id": id, "payment_token": token})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rest}");
    assert_eq!(
        rest["amount"]["amount"], "20.40",
        "the released rest of the order"
    );
    let (_, paid) = t.json(Method::GET, &path, None).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amount_paid"]["amount"], "30.40");
    assert_eq!(paid["payments"].as_array().unwrap().len(), 2, "{paid}");
    t.relay_and_deliver().await;
    assert_eq!(t.events_of(&["invoice.paid"]).await.len(), 1);
}
