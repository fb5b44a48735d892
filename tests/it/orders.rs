//! Orders and customers: the lifecycle, holds, cancellation, merge and split through the
//! service and every door, illegal transitions, and numbering under concurrency.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::json;
use stateset::adapters::grpc::pb;
use stateset::domain::{OrderAction, OrderFilter, OrderSort, OrderStatus};
use stateset::services::auth::CUSTOMER_ROLE;
use stateset::services::customers::{CreateCustomerInput, CustomerAddressInput};
use stateset::services::events::EventQuery;
use stateset::services::orders::{CreateOrderInput, OrderLineInput, OrderRef, SplitLineInput};
use stateset::services::page::PageRequest;
use uuid::Uuid;

use crate::support::{Auth, TestApp, first_page};

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn address(line1: &str) -> stateset::domain::Address {
    serde_json::from_value(
        json!({"line1": line1, "city": "Portland", "country": "us", "postal_code": "97201"}),
    )
    .unwrap()
}

/// A seeded catalog and one customer with a default address; returns (customer id, variant ids).
async fn setup(t: &TestApp) -> (Uuid, Vec<Uuid>) {
    t.seed_demo().await;
    let customers = &t.services().customers;
    let customer = customers
        .create_customer(
            &t.ctx,
            CreateCustomerInput {
                email: "ada@example.com".into(),
                first_name: Some("Ada".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let input = CustomerAddressInput {
        address: address("1 Main St"),
        default_shipping: None,
        default_billing: None,
    };
    customers
        .add_address(&t.ctx, customer.id, input)
        .await
        .unwrap();
    let page = PageRequest {
        size: Some(20),
        after: None,
        size_field: "first",
        cursor_field: "after",
        with_total: true,
    };
    let products = t
        .services()
        .catalog
        .list_products(&t.ctx, Default::default(), Default::default(), page)
        .await
        .unwrap();
    let ids: Vec<Uuid> = products.items.iter().map(|(_, p)| p.id).collect();
    let variants = t
        .services()
        .catalog
        .variants_by_product(&t.ctx, &ids)
        .await
        .unwrap();
    let mut all: Vec<_> = variants.into_values().flatten().collect();
    all.sort_by(|a, b| a.sku.cmp(&b.sku));
    (customer.id, all.into_iter().map(|v| v.id).collect())
}

fn line(variant: Uuid, quantity: i32) -> OrderLineInput {
    OrderLineInput {
        variant_id: variant,
        quantity,
        unit_price: None,
        discount: None,
        tax: None,
    }
}

fn order_input(customer: Uuid, lines: Vec<OrderLineInput>) -> CreateOrderInput {
    CreateOrderInput {
        customer_id: Some(customer),
        items: lines,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_priced_numbered_and_keeps_its_address() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let orders = &t.services().orders;
    let input = CreateOrderInput {
        shipping_total: Some(dec("5")),
        tags: vec!["vip".into(), "vip".into(), "gift".into()],
        attributes: Some(json!({"channel": "web"})),
        notes: Some("leave at the door".into()),
        ..order_input(
            customer,
            vec![
                OrderLineInput {
                    unit_price: Some(dec("10")),
                    discount: Some(dec("2")),
                    tax: Some(dec("1.5")),
                    ..line(variants[0], 2)
                },
                line(variants[1], 1),
            ],
        )
    };
    let created = orders.create_order(&t.ctx, input).await.unwrap();
    let order = &created.order;
    assert!(
        order.number.starts_with("ORD-") && order.number.len() == 10,
        "{}",
        order.number
    );
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.currency, "USD");
    assert_eq!(order.tags, ["vip", "gift"]);
    assert_eq!(created.items.len(), 2);
    assert_eq!(created.items[0].total.amount, dec("19.50"));
    let second_price = created.items[1].unit_price.amount;
    assert_eq!(order.subtotal.amount, dec("20") + second_price);
    assert_eq!(
        order.total.amount,
        dec("20") + second_price - dec("2") + dec("5") + dec("1.5")
    );
    assert_eq!(
        order.shipping_address.as_ref().unwrap().line1,
        "1 Main St",
        "the default address is copied in"
    );

    // Editing the address book later does not rewrite the order.
    let customer_now = t
        .services()
        .customers
        .get_customer(&t.ctx, customer)
        .await
        .unwrap();
    let address_id = customer_now.addresses[0].id;
    let changed = CustomerAddressInput {
        address: address("99 Other Rd"),
        default_shipping: None,
        default_billing: None,
    };
    t.services()
        .customers
        .update_address(&t.ctx, customer, address_id, changed)
        .await
        .unwrap();
    let again = orders
        .get_order(&t.ctx, OrderRef::Number(order.number.clone()))
        .await
        .unwrap();
    assert_eq!(again.shipping_address.unwrap().line1, "1 Main St");

    // Bad lines are named one by one; nothing is stored.
    let bad = order_input(
        customer,
        vec![
            line(Uuid::now_v7(), 1),
            line(variants[0], 0),
            OrderLineInput {
                discount: Some(dec("1000000")),
                ..line(variants[0], 1)
            },
        ],
    );
    let err = orders.create_order(&t.ctx, bad).await.unwrap_err();
    let fields: Vec<String> = match err {
        stateset::services::Error::Validation(f) => f.into_iter().map(|f| f.field).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(fields, ["items[1].quantity"], "shape errors come first");
    let bad = order_input(
        customer,
        vec![
            line(Uuid::now_v7(), 1),
            OrderLineInput {
                discount: Some(dec("1000000")),
                ..line(variants[0], 1)
            },
        ],
    );
    let err = orders.create_order(&t.ctx, bad).await.unwrap_err();
    assert_eq!(err.details()["fields"][0]["field"], "items[0].variant_id");
    assert_eq!(err.details()["fields"][1]["field"], "items[1].discount");
    let err = orders
        .create_order(
            &t.ctx,
            order_input(Uuid::now_v7(), vec![line(variants[0], 1)]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.details()["fields"][0]["field"], "customer_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_holds_and_illegal_transitions() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let orders = &t.services().orders;
    let id = orders
        .create_order(&t.ctx, order_input(customer, vec![line(variants[0], 1)]))
        .await
        .unwrap()
        .order
        .id;
    let step = |action, reason: Option<&str>| {
        orders.transition(&t.ctx, id, action, reason.map(str::to_owned))
    };

    assert_eq!(
        step(OrderAction::Process, None).await.unwrap().order.status,
        OrderStatus::Processing
    );
    let held = step(OrderAction::Hold, Some("address check"))
        .await
        .unwrap()
        .order;
    assert_eq!(
        (held.status, held.hold_reason.as_deref()),
        (OrderStatus::OnHold, Some("address check"))
    );
    let err = step(OrderAction::Ship, None).await.unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE");
    assert_eq!(err.details(), json!({"from": "on_hold", "action": "ship"}));
    let released = step(OrderAction::Release, None).await.unwrap().order;
    assert_eq!(
        (released.status, released.hold_reason),
        (OrderStatus::Processing, None),
        "release returns to where it was"
    );
    assert_eq!(
        step(OrderAction::Hold, None).await.unwrap_err().code(),
        "VALIDATION",
        "a hold needs a reason"
    );
    step(OrderAction::Ship, None).await.unwrap();
    let err = step(OrderAction::Cancel, Some("too late"))
        .await
        .unwrap_err();
    assert_eq!(
        err.details(),
        json!({"from": "shipped", "action": "cancel"}),
        "no cancelling after shipment"
    );
    assert_eq!(
        orders
            .update_order_status(&t.ctx, id, OrderStatus::Pending, None)
            .await
            .unwrap_err()
            .code(),
        "INVALID_STATE"
    );
    orders
        .update_order_status(&t.ctx, id, OrderStatus::Delivered, None)
        .await
        .unwrap();
    step(OrderAction::Complete, None).await.unwrap();
    assert_eq!(
        step(OrderAction::Archive, None).await.unwrap().order.status,
        OrderStatus::Archived
    );
    assert_eq!(
        step(OrderAction::Process, None).await.unwrap_err().code(),
        "INVALID_STATE"
    );

    let history = orders
        .order_history(&t.ctx, id, first_page(100))
        .await
        .unwrap()
        .items;
    let history: Vec<_> = history.into_iter().map(|(_, h)| h).collect();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "created", "process", "hold", "release", "ship", "deliver", "complete", "archive"
        ]
    );
    assert_eq!(history[2].reason.as_deref(), Some("address check"));
    assert!(history.iter().all(|h| h.actor == "system"));

    let events = t
        .services()
        .events
        .list(
            &t.ctx,
            EventQuery {
                entity_id: Some(id),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    // Stock events about the order (its reservations) interleave; these are the order's own.
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.event_type.as_str())
        .filter(|t| t.starts_with("order."))
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "order.status_changed")
            .count(),
        7
    );
    assert_eq!(types.first(), Some(&"order.created"));
    assert_eq!(types.last(), Some(&"order.archived"));
    let change = events
        .iter()
        .find(|e| e.event_type == "order.status_changed")
        .unwrap();
    assert_eq!(
        (change.data["from"].as_str(), change.data["to"].as_str()),
        (Some("pending"), Some("processing"))
    );

    // Cancelling before shipment, with a reason, writes order.cancelled.
    let other = orders
        .create_order(&t.ctx, order_input(customer, vec![line(variants[0], 1)]))
        .await
        .unwrap()
        .order
        .id;
    let cancelled = orders
        .transition(
            &t.ctx,
            other,
            OrderAction::Cancel,
            Some("customer asked".into()),
        )
        .await
        .unwrap()
        .order;
    assert_eq!(
        (cancelled.status, cancelled.cancel_reason.as_deref()),
        (OrderStatus::Cancelled, Some("customer asked"))
    );
    let events = t
        .services()
        .events
        .list(
            &t.ctx,
            EventQuery {
                entity_id: Some(other),
                types: vec!["order.cancelled".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_and_split_move_lines_and_recompute_totals() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let orders = &t.services().orders;
    let make = |lines| {
        orders.create_order(
            &t.ctx,
            CreateOrderInput {
                shipping_total: Some(dec("5")),
                ..order_input(customer, lines)
            },
        )
    };
    let a = make(vec![line(variants[0], 1)]).await.unwrap();
    let b = make(vec![line(variants[1], 2)]).await.unwrap();
    let c = make(vec![line(variants[2], 3)]).await.unwrap();
    let expected_total = a.order.total.amount + b.order.total.amount + c.order.total.amount;

    let merged = orders
        .merge_orders(&t.ctx, vec![a.order.id, b.order.id, c.order.id])
        .await
        .unwrap();
    assert_eq!(merged.order.id, a.order.id);
    assert_eq!(merged.items.len(), 3);
    assert_eq!(
        merged.order.total.amount, expected_total,
        "lines and shipping add up"
    );
    for source in [&b, &c] {
        let now = orders
            .get_order_detail(&t.ctx, OrderRef::Id(source.order.id))
            .await
            .unwrap();
        assert_eq!(now.order.status, OrderStatus::Cancelled);
        assert_eq!(
            now.order.cancel_reason,
            Some(format!("merged into {}", a.order.number))
        );
        assert!(now.items.is_empty());
        assert_eq!(now.order.total.amount, Decimal::ZERO);
    }
    let history: Vec<_> = orders
        .order_history(&t.ctx, a.order.id, first_page(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert_eq!(history.last().unwrap().action, "merged");
    assert_eq!(
        history.last().unwrap().details["merged"],
        json!([b.order.number, c.order.number])
    );

    // Only open orders of one customer merge.
    let err = orders
        .merge_orders(&t.ctx, vec![a.order.id, b.order.id])
        .await
        .unwrap_err();
    assert_eq!(
        err.details(),
        json!({"from": "cancelled", "action": "merge"})
    );
    let stranger = t
        .services()
        .customers
        .create_customer(
            &t.ctx,
            CreateCustomerInput {
                email: "eve@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let theirs = orders
        .create_order(&t.ctx, order_input(stranger.id, vec![line(variants[0], 1)]))
        .await
        .unwrap();
    let err = orders
        .merge_orders(&t.ctx, vec![a.order.id, theirs.order.id])
        .await
        .unwrap_err();
    assert_eq!(err.details()["fields"][0]["field"], "order_ids[1]");
    assert_eq!(
        orders
            .merge_orders(&t.ctx, vec![a.order.id])
            .await
            .unwrap_err()
            .code(),
        "VALIDATION"
    );

    // Split: two of the three units of one line, and another whole line.
    let three = merged.items.iter().find(|i| i.quantity == 3).unwrap();
    let two = merged.items.iter().find(|i| i.quantity == 2).unwrap();
    let (kept, moved) = orders
        .split_order(
            &t.ctx,
            a.order.id,
            vec![
                SplitLineInput {
                    item_id: three.id,
                    quantity: Some(2),
                },
                SplitLineInput {
                    item_id: two.id,
                    quantity: None,
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(kept.items.len(), 2);
    assert_eq!(
        kept.items
            .iter()
            .find(|i| i.sku == three.sku)
            .unwrap()
            .quantity,
        1
    );
    assert_eq!(moved.items.len(), 2);
    assert_ne!(moved.order.number, kept.order.number);
    assert_eq!(moved.order.customer_id, customer);
    assert_eq!(moved.order.shipping_total.amount, Decimal::ZERO);
    assert_eq!(
        kept.order.total.amount + moved.order.total.amount,
        expected_total,
        "nothing is lost or doubled"
    );
    assert_eq!(
        orders
            .order_history(&t.ctx, moved.order.id, first_page(100))
            .await
            .unwrap()
            .items
            .last()
            .unwrap()
            .1
            .action,
        "split_from"
    );
    let events = t
        .services()
        .events
        .list(
            &t.ctx,
            EventQuery {
                types: vec!["order.merged".into(), "order.split".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1].data["new_order"]["id"],
        moved.order.id.to_string()
    );

    // A split must leave something behind, and only moves lines of the order.
    let everything: Vec<SplitLineInput> = kept
        .items
        .iter()
        .map(|i| SplitLineInput {
            item_id: i.id,
            quantity: None,
        })
        .collect();
    assert_eq!(
        orders
            .split_order(&t.ctx, a.order.id, everything)
            .await
            .unwrap_err()
            .details()["fields"][0]["field"],
        "items"
    );
    let foreign = vec![SplitLineInput {
        item_id: moved.items[0].id,
        quantity: None,
    }];
    assert_eq!(
        orders
            .split_order(&t.ctx, a.order.id, foreign)
            .await
            .unwrap_err()
            .details()["fields"][0]["field"],
        "items[0].item_id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_never_share_an_order_number() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let services = t.services().clone();
            let ctx = t.ctx.clone();
            let input = order_input(customer, vec![line(variants[0], 1)]);
            tokio::spawn(async move {
                services
                    .orders
                    .create_order(&ctx, input)
                    .await
                    .map(|d| d.order.number)
            })
        })
        .collect();
    let mut numbers = HashSet::new();
    for task in tasks {
        assert!(
            numbers.insert(task.await.unwrap().unwrap()),
            "duplicate number"
        );
    }
    assert_eq!(numbers.len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_sort_and_page_and_customers_see_only_their_own() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let orders = &t.services().orders;
    let shopper = Auth::Bearer(t.user_token("shopper@example.com", CUSTOMER_ROLE).await);
    let mine = t
        .services()
        .customers
        .list_customers(
            &t.ctx,
            stateset::services::customers::CustomerQuery {
                query: Some("shopper".into()),
                tag: None,
            },
            PageRequest {
                size: None,
                after: None,
                size_field: "first",
                cursor_field: "after",
                with_total: true,
            },
        )
        .await
        .unwrap();
    let shopper_customer = mine.items[0].1.id;
    for i in 0..5 {
        let tags = if i % 2 == 0 {
            vec!["even".to_owned()]
        } else {
            vec![]
        };
        orders
            .create_order(
                &t.ctx,
                CreateOrderInput {
                    tags,
                    ..order_input(customer, vec![line(variants[0], i + 1)])
                },
            )
            .await
            .unwrap();
    }
    let theirs = orders
        .create_order(
            &t.ctx,
            order_input(shopper_customer, vec![line(variants[1], 1)]),
        )
        .await
        .unwrap();

    let page = |size, after| PageRequest {
        size: Some(size),
        after,
        size_field: "first",
        cursor_field: "after",
        with_total: true,
    };
    let by_tag = OrderFilter {
        tag: Some("even".into()),
        ..Default::default()
    };
    assert_eq!(
        orders
            .list_orders(&t.ctx, by_tag, OrderSort::default(), page(10, None))
            .await
            .unwrap()
            .total_count,
        3
    );
    let first = orders
        .list_orders(
            &t.ctx,
            OrderFilter::default(),
            OrderSort::TotalDesc,
            page(4, None),
        )
        .await
        .unwrap();
    let second = orders
        .list_orders(
            &t.ctx,
            OrderFilter::default(),
            OrderSort::TotalDesc,
            page(4, first.next_cursor()),
        )
        .await
        .unwrap();
    let totals: Vec<Decimal> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|(_, o)| o.total.amount)
        .collect();
    assert_eq!(totals.len(), 6);
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    let by_number = OrderFilter {
        query: Some(theirs.order.number.clone()),
        ..Default::default()
    };
    assert_eq!(
        orders
            .list_orders(&t.ctx, by_number, OrderSort::default(), page(10, None))
            .await
            .unwrap()
            .total_count,
        1
    );
    let future = OrderFilter {
        from: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        ..Default::default()
    };
    assert_eq!(
        orders
            .list_orders(&t.ctx, future, OrderSort::default(), page(10, None))
            .await
            .unwrap()
            .total_count,
        0
    );

    // The shopper sees exactly their own order and customer record, on REST and GraphQL.
    let (status, list) = t
        .json_as(&shopper, Method::GET, "/api/v1/orders", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total_count"], 1);
    assert_eq!(list["items"][0]["id"], theirs.order.id.to_string());
    let others = t
        .services()
        .orders
        .list_orders(
            &t.ctx,
            OrderFilter::default(),
            OrderSort::default(),
            page(10, None),
        )
        .await
        .unwrap();
    let someone_elses = others
        .items
        .iter()
        .find(|(_, o)| o.customer_id == customer)
        .map(|(_, o)| o.id)
        .unwrap();
    let (status, _) = t
        .json_as(
            &shopper,
            Method::GET,
            &format!("/api/v1/orders/{someone_elses}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, customers) = t
        .json_as(&shopper, Method::GET, "/api/v1/customers", None)
        .await;
    assert_eq!(customers["total_count"], 1);
    let (status, _) = t
        .json_as(
            &shopper,
            Method::GET,
            &format!("/api/v1/customers/{customer}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A shopper orders through checkout only (see `trust.rs`), for nobody else either.
    let body =
        json!({"customer_id": customer, "items": [{"variant_id": variants[0], "quantity": 1}]});
    let (status, _) = t
        .json_as(&shopper, Method::POST, "/api/v1/orders", Some(body))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // ... and may not move it through the lifecycle.
    let (status, _) = t
        .json_as(
            &shopper,
            Method::POST,
            &format!("/api/v1/orders/{}/archive", theirs.order.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let graphql = t
        .graphql_as(
            &shopper,
            "{ orders { totalCount edges { node { number customer { email } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(graphql["data"]["orders"]["totalCount"], 1, "{graphql}");
    assert_eq!(
        graphql["data"]["orders"]["edges"][0]["node"]["customer"]["email"],
        "shopper@example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_have_address_books_wishlists_and_tags() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let (status, body) = t
        .json(
            Method::POST,
            &format!("/api/v1/customers/{customer}/addresses"),
            Some(json!({"line1": "2 Side St", "city": "Salem", "country": "US", "default_shipping": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let addresses = body["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2);
    let side = addresses
        .iter()
        .find(|a| a["line1"] == "2 Side St")
        .unwrap();
    assert_eq!(side["is_default_shipping"], true);
    assert_eq!(
        side["is_default_billing"], false,
        "billing stays with the first address"
    );
    assert_eq!(body["default_shipping_address_id"], side["id"]);

    let (status, bad) = t
        .json(
            Method::POST,
            &format!("/api/v1/customers/{customer}/addresses"),
            Some(json!({"line1": "", "city": "X", "country": "USA"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = bad["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["address.line1", "address.country"]);

    let (status, body) = t
        .json(
            Method::POST,
            &format!("/api/v1/customers/{customer}/wishlist"),
            Some(json!({"variant_id": variants[3]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["wishlist"][0]["variant_id"], variants[3].to_string());
    let (status, body) = t
        .json(
            Method::PUT,
            &format!("/api/v1/customers/{customer}"),
            Some(json!({"tags": ["wholesale"], "phone": "+1 555 0100"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["tags"], json!(["wholesale"]));
    let (_, found) = t
        .json(Method::GET, "/api/v1/customers?q=ADA&tag=wholesale", None)
        .await;
    assert_eq!(found["total_count"], 1);
    let (status, _) = t
        .json(
            Method::DELETE,
            &format!("/api/v1/customers/{customer}/wishlist/{}", variants[3]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Signing up links a login to the customer record with the same email.
    let (status, signed_up) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/auth/register",
            Some(json!({"email": "ada@example.com", "password": "long enough pw"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{signed_up}");
    let ada = Auth::Bearer(signed_up["access_token"].as_str().unwrap().to_owned());
    let mine = t
        .graphql_as(&ada, "{ myCustomer { id addresses { line1 } } }", json!({}))
        .await;
    assert_eq!(
        mine["data"]["myCustomer"]["id"],
        customer.to_string(),
        "{mine}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_door_runs_the_whole_lifecycle() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let create = |quantity: i32| json!({"customer_id": customer, "items": [{"variant_id": variants[0], "quantity": quantity}, {"variant_id": variants[1], "quantity": 2}], "shipping_total": "4.00"});
    let (status, order) = t
        .json(Method::POST, "/api/v1/orders", Some(create(3)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let number = order["number"].as_str().unwrap();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    assert_eq!(order["total"]["currency"], "USD");

    let (status, by_number) = t
        .json(Method::GET, &format!("/api/v1/orders/{number}"), None)
        .await;
    assert_eq!(
        (status, by_number["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    let (_, items) = t
        .json(Method::GET, &format!("/api/v1/orders/{id}/items"), None)
        .await;
    assert_eq!(items["items"].as_array().unwrap().len(), 2);
    let (status, body) = t
        .json(
            Method::PUT,
            &format!("/api/v1/orders/{id}/status"),
            Some(json!({"status": "processing"})),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("processing"))
    );
    let (status, body) = t
        .json(
            Method::POST,
            &format!("/api/v1/orders/{id}/hold"),
            Some(json!({"reason": "fraud review"})),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("on_hold"))
    );
    let (status, body) = t
        .json(
            Method::PUT,
            &format!("/api/v1/orders/{id}/status"),
            Some(json!({"status": "shipped"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "INVALID_STATE");
    assert_eq!(
        body["error"]["details"],
        json!({"from": "on_hold", "action": "ship"})
    );
    let (_, body) = t
        .json(Method::POST, &format!("/api/v1/orders/{id}/release"), None)
        .await;
    assert_eq!(body["status"], "processing");
    let (status, body) = t
        .json(
            Method::PUT,
            &format!("/api/v1/orders/{id}"),
            Some(json!({"tags": ["priority"], "notes": "gift wrap"})),
        )
        .await;
    assert_eq!(
        (status, body["tags"].clone()),
        (StatusCode::OK, json!(["priority"]))
    );
    let (_, tagged) = t
        .json(
            Method::GET,
            "/api/v1/orders?tag=priority&status=processing",
            None,
        )
        .await;
    assert_eq!(tagged["total_count"], 1);
    let (_, other) = t
        .json(Method::POST, "/api/v1/orders", Some(create(1)))
        .await;
    let (status, merged) = t
        .json(
            Method::POST,
            "/api/v1/orders/merge",
            Some(json!({"order_ids": [id, other["id"]]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["items"].as_array().unwrap().len(), 4);
    let first_item = merged["items"][0]["id"].clone();
    let (status, split) = t
        .json(
            Method::POST,
            &format!("/api/v1/orders/{id}/split"),
            Some(json!({"items": [{"item_id": first_item, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{split}");
    assert_eq!(split["new_order"]["items"][0]["quantity"], 1);
    let (status, body) = t
        .json(
            Method::POST,
            &format!("/api/v1/orders/{id}/cancel"),
            Some(json!({"reason": "changed mind"})),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, body) = t
        .json(Method::POST, &format!("/api/v1/orders/{id}/archive"), None)
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("archived"))
    );
    let (_, history) = t
        .json(Method::GET, &format!("/api/v1/orders/{id}/history"), None)
        .await;
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "price_override",
            "process",
            "hold",
            "release",
            "updated",
            "merged",
            "split",
            "cancel",
            "archive"
        ]
    );
    let (status, body) = t
        .json(
            Method::GET,
            "/api/v1/orders?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(
        (
            status,
            body["error"]["details"]["fields"][0]["field"].as_str()
        ),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("to"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_door_with_loaders() {
    let t = TestApp::new().await;
    let (customer, variants) = setup(&t).await;
    let created = t
        .graphql(
            "mutation($input: CreateOrderInput!) { createOrder(input: $input) { id number status total { amount } } }",
            json!({"input": {"customerId": customer, "items": [{"variantId": variants[0], "quantity": 2, "discount": "1"}]}}),
        )
        .await;
    let id = created["data"]["createOrder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let held = t
        .graphql(
            r#"mutation($id: UUID!) { holdOrder(id: $id, reason: "check") { status holdReason } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(held["data"]["holdOrder"]["status"], "ON_HOLD");
    let illegal = t
        .graphql(
            "mutation($id: UUID!) { archiveOrder(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(illegal["errors"][0]["extensions"]["code"], "INVALID_STATE");
    assert_eq!(illegal["errors"][0]["extensions"]["from"], "on_hold");
    let released = t
        .graphql(
            "mutation($id: UUID!) { releaseOrderHold(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(released["data"]["releaseOrderHold"]["status"], "PENDING");
    let moved = t
        .graphql(
            "mutation($id: UUID!) { updateOrderStatus(id: $id, status: PROCESSING) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(moved["data"]["updateOrderStatus"]["status"], "PROCESSING");
    for _ in 0..4 {
        t.services()
            .orders
            .create_order(
                &t.ctx,
                order_input(customer, vec![line(variants[1], 1), line(variants[2], 1)]),
            )
            .await
            .unwrap();
    }
    // Customers, lines and their variants load per page, not per order.
    let query = "query($n: Int!) { orders(first: $n) { totalCount edges { node { number customer { email } items { sku variant { sku price { amount } } } } } } }";
    let statements = |n: i64| {
        let t = &t;
        async move {
            // Executed as the system, so no authentication queries (with their caches)
            // blur the count.
            let mut request = async_graphql::Request::new(query)
                .variables(async_graphql::Variables::from_json(json!({ "n": n })));
            request.data = stateset::adapters::graphql::request_data(
                t.services(),
                stateset::services::Ctx::system(),
            );
            let before = t.app.db.statements_executed();
            let response = t.app.graphql.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            let list = response.data.into_json().unwrap();
            let list = json!({ "data": list });
            let edges = list["data"]["orders"]["edges"].as_array().unwrap().clone();
            assert_eq!(edges.len() as i64, n, "{list}");
            assert!(
                edges
                    .iter()
                    .all(|e| e["node"]["customer"]["email"] == "ada@example.com")
            );
            assert!(
                edges
                    .iter()
                    .all(|e| e["node"]["items"][0]["variant"]["sku"].is_string())
            );
            t.app.db.statements_executed() - before
        }
    };
    // The fewest of a few runs: under a loaded machine a loader batch can split in two, which
    // says nothing about N+1.
    let fewest = |n: i64| async move {
        let mut least = u64::MAX;
        for _ in 0..3 {
            least = least.min(statements(n).await);
        }
        least
    };
    assert_eq!(
        fewest(1).await,
        fewest(5).await,
        "statement count must not grow with the page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grpc_door_runs_the_lifecycle() {
    use crate::support::BearerInterceptor;
    use pb::customer_service_client::CustomerServiceClient;
    use pb::order_service_client::OrderServiceClient;
    let t = TestApp::new().await;
    let (_, variants) = setup(&t).await;
    let channel = t.serve_grpc().await;
    let auth = BearerInterceptor(Some(t.admin.clone()));
    let mut customers = CustomerServiceClient::with_interceptor(channel.clone(), auth.clone());
    let mut orders = OrderServiceClient::with_interceptor(channel, auth);
    let customer = customers
        .create_customer(pb::CreateCustomerRequest {
            email: "grace@example.com".into(),
            first_name: Some("Grace".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let with_address = customers
        .add_customer_address(pb::AddCustomerAddressRequest {
            customer_id: customer.id.clone(),
            address: Some(pb::Address {
                line1: "5 Dock Rd".into(),
                city: "Boston".into(),
                country: "US".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(with_address.addresses[0].is_default_shipping);
    let line = |variant: &Uuid, quantity| pb::OrderLine {
        variant_id: variant.to_string(),
        quantity,
        ..Default::default()
    };
    let create = |lines| pb::CreateOrderRequest {
        customer_id: Some(customer.id.clone()),
        items: lines,
        ..Default::default()
    };
    let order = orders
        .create_order(create(vec![line(&variants[0], 2)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(order.status, pb::OrderStatus::Pending as i32);
    assert_eq!(order.shipping_address.as_ref().unwrap().line1, "5 Dock Rd");
    let by_number = orders
        .get_order(pb::GetOrderRequest {
            lookup: Some(pb::get_order_request::Lookup::Number(order.number.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_number.id, order.id);
    let err = orders
        .update_order_status(pb::UpdateOrderStatusRequest {
            id: order.id.clone(),
            status: pb::OrderStatus::Delivered as i32,
            reason: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    let held = orders
        .hold_order(pb::OrderReasonRequest {
            id: order.id.clone(),
            reason: "stock".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.status, pb::OrderStatus::OnHold as i32);
    orders
        .release_order_hold(pb::OrderIdRequest {
            id: order.id.clone(),
        })
        .await
        .unwrap();
    let other = orders
        .create_order(create(vec![line(&variants[1], 1)]))
        .await
        .unwrap()
        .into_inner();
    let merged = orders
        .merge_orders(pb::MergeOrdersRequest {
            order_ids: vec![order.id.clone(), other.id],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.items.len(), 2);
    let split = orders
        .split_order(pb::SplitOrderRequest {
            id: order.id.clone(),
            items: vec![pb::SplitLine {
                item_id: merged.items[0].id.clone(),
                quantity: Some(1),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(split.new_order.unwrap().items[0].quantity, 1);
    let cancelled = orders
        .cancel_order(pb::OrderReasonRequest {
            id: order.id.clone(),
            reason: "duplicate".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, pb::OrderStatus::Cancelled as i32);
    orders
        .archive_order(pb::OrderIdRequest {
            id: order.id.clone(),
        })
        .await
        .unwrap();
    let list = orders
        .list_orders(pb::ListOrdersRequest {
            status: pb::OrderStatus::Archived as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.total_count, 1);
    let items = orders
        .list_order_items(pb::GetOrderRequest {
            lookup: Some(pb::get_order_request::Lookup::Id(order.id)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(items.items.len(), 2);
    let found = customers
        .list_customers(pb::ListCustomersRequest {
            query: Some("grace".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.total_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_events_are_listed_for_whoever_may_see_the_order() {
    let t = TestApp::new().await;
    let variant = t.variant("EVT-1").await;
    t.stock(variant, 5).await;
    let id = t.order_of(variant, "ev@example.com").await;
    let (status, _) = t
        .json(
            Method::POST,
            &format!("/api/v1/orders/{id}/hold"),
            Some(json!({"reason": "address check"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = t
        .json(Method::GET, &format!("/api/v1/orders/{id}/events"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let types: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"order.created"), "{types:?}");
    assert!(
        types.contains(&"order.status_changed"),
        "the hold: {types:?}"
    );
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["entity_id"] == json!(id.to_string())),
        "only the order's own events: {body}"
    );
    let first = body["items"][0]["sequence"].as_i64().unwrap();
    let (_, after) = t
        .json(
            Method::GET,
            &format!("/api/v1/orders/{id}/events?after={first}&limit=1"),
            None,
        )
        .await;
    assert_eq!(after["items"].as_array().unwrap().len(), 1, "{after}");
    assert!(after["items"][0]["sequence"].as_i64().unwrap() > first);

    // Another customer cannot see the order, so neither its events; nor can anyone see a
    // missing order's.
    let stranger = t.user_token("stranger@example.com", CUSTOMER_ROLE).await;
    let (status, _) = t
        .json_as(
            &Auth::Bearer(stranger),
            Method::GET,
            &format!("/api/v1/orders/{id}/events"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .json(
            Method::GET,
            &format!("/api/v1/orders/{}/events", Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_line_holds_at_most_the_line_cap_on_every_path_to_an_order() {
    let t = TestApp::new().await;
    let variant = t.variant("CAP-1").await;
    let customer = t.customer("cap@example.com").await;
    let too_many = stateset::domain::quantity::MAX_LINE_UNITS + 1;
    let input = CreateOrderInput {
        customer_id: Some(customer),
        items: vec![OrderLineInput {
            variant_id: variant,
            quantity: too_many,
            unit_price: None,
            discount: None,
            tax: None,
        }],
        ..Default::default()
    };
    let err = t
        .services()
        .orders
        .create_order(&t.ctx, input)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "VALIDATION");
    assert!(
        format!("{:?}", err.details()).contains("items[0].quantity"),
        "{err:?}"
    );

    let (status, body) = t
        .json_as(&Auth::Anonymous, Method::POST, "/api/v1/carts", None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, body) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            &format!("/api/v1/carts/{token}/items"),
            Some(json!({"variant_id": variant, "quantity": too_many})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        crate::support::rest_error_fields(&body),
        ["items[0].quantity"],
        "reported once"
    );
    assert!(
        body.to_string().contains("must be between 1 and 10000"),
        "the same cap as orders: {body}"
    );
}
