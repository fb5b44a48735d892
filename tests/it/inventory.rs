//! Inventory: the ledger always reconciles, allocation never oversells (under real
//! concurrency against PostgreSQL), lots go first-expiry-first, and orders reserve, release and
//! ship stock.

use std::sync::Arc;

use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use serde_json::json;
use stateset::domain::OrderAction;
use stateset::services::events::EventQuery;
use stateset::services::inventory::{
    AdjustInput, CountInput, CreatePurchaseOrderInput, CreateTransferInput, ItemSettingsInput,
    ReceiveInput, ReceiveLineInput, ReserveInput, VariantQuantity,
};
use stateset::services::orders::{CreateOrderInput, OrderLineInput};
use stateset::services::{Ctx, Services};
use uuid::Uuid;

use crate::support::{TestApp, first_page, product_input};

async fn variant(t: &TestApp, sku: &str) -> Uuid {
    t.services()
        .catalog
        .create_product(&t.ctx, product_input(sku, &[sku], "10"))
        .await
        .unwrap()
        .variants[0]
        .id
}

fn one() -> ReserveInput {
    ReserveInput {
        quantity: 1,
        partial: false,
        order_id: None,
        reference: None,
        expires_in_seconds: None,
    }
}

async fn assert_reconciles(t: &TestApp) {
    assert_eq!(
        t.services().inventory.unreconciled(&t.ctx).await.unwrap(),
        Vec::<Uuid>::new(),
        "ledger and balances disagree"
    );
}

/// Runs `n` reservations of one unit of `variant` at once; returns (successes, insufficient).
async fn reserve_concurrently(
    services: &Services,
    ctx: &Ctx,
    variant: Uuid,
    n: usize,
) -> (usize, usize) {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (services, ctx, barrier) = (services.clone(), ctx.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                services
                    .inventory
                    .reserve_variant(&ctx, variant, one())
                    .await
            })
        })
        .collect();
    let (mut ok, mut short) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(err) if err.code() == "INSUFFICIENT_STOCK" => short += 1,
            Err(err) => panic!("unexpected error: {err:?}"),
        }
    }
    (ok, short)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_reservations_of_fifty_units_never_oversell() {
    let t = TestApp::with_config(|c| c.database_max_connections = 16).await;
    let warehouse = t.warehouse("WH", 1).await;
    let sku = variant(&t, "HOT-1").await;
    let item = t.receive_at(sku, warehouse, 50).await;
    let (ok, short) = reserve_concurrently(t.services(), &t.ctx, sku, 200).await;
    assert_eq!((ok, short), (50, 150));
    let item = t.services().inventory.get_item(&t.ctx, item).await.unwrap();
    assert_eq!((item.available, item.reserved, item.on_hand), (0, 50, 50));
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reservations_spread_over_locations_by_priority_even_during_a_transfer() {
    let t = TestApp::with_config(|c| c.database_max_connections = 16).await;
    let (first, second, third) = (
        t.warehouse("A", 1).await,
        t.warehouse("B", 2).await,
        t.warehouse("C", 3).await,
    );
    let sku = variant(&t, "SPREAD-1").await;
    t.receive_at(sku, first, 20).await;
    t.receive_at(sku, second, 20).await;
    t.receive_at(sku, third, 10).await;
    // A priority-ordered reservation takes from A first.
    let taken = t
        .services()
        .inventory
        .reserve_variant(
            &t.ctx,
            sku,
            ReserveInput {
                quantity: 25,
                ..one()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        taken
            .iter()
            .map(|r| (r.location_id, r.quantity))
            .collect::<Vec<_>>(),
        [(first, 20), (second, 5)]
    );
    for r in &taken {
        t.services().inventory.release(&t.ctx, r.id).await.unwrap();
    }

    let services = t.services().clone();
    let ctx = t.ctx.clone();
    let transfer = tokio::spawn(async move {
        let input = CreateTransferInput {
            from_location_id: third,
            to_location_id: first,
            lines: vec![VariantQuantity {
                variant_id: sku,
                quantity: 5,
            }],
        };
        let transfer = services
            .inventory
            .create_transfer(&ctx, input)
            .await
            .unwrap();
        services
            .inventory
            .receive_transfer(&ctx, transfer.id)
            .await
            .unwrap()
    });
    let (ok, short) = reserve_concurrently(t.services(), &t.ctx, sku, 200).await;
    let transfer = transfer.await.unwrap();
    assert_eq!(transfer.status, "received");
    assert_eq!(ok + short, 200);
    // Units in transit cannot be promised, so up to 5 reservations may have found nothing.
    assert!((45..=50).contains(&ok), "{ok} reservations succeeded");
    let atp = t
        .services()
        .inventory
        .available_to_promise(&t.ctx, sku)
        .await
        .unwrap();
    assert_eq!(atp.on_hand, 50);
    assert_eq!(atp.reserved as usize, ok);
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_locking_the_same_skus_in_opposite_order_do_not_deadlock() {
    let t = TestApp::with_config(|c| c.database_max_connections = 16).await;
    let warehouse = t.warehouse("WH", 1).await;
    let (a, b) = (variant(&t, "PAIR-A").await, variant(&t, "PAIR-B").await);
    t.receive_at(a, warehouse, 1000).await;
    t.receive_at(b, warehouse, 1000).await;
    let customer = t
        .services()
        .customers
        .create_customer(
            &t.ctx,
            stateset::services::customers::CreateCustomerInput {
                email: "c@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let line = |v, q| OrderLineInput {
        variant_id: v,
        quantity: q,
        unit_price: None,
        discount: None,
        tax: None,
    };
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (services, ctx) = (t.services().clone(), t.ctx.clone());
            let lines = if i % 2 == 0 {
                vec![line(a, 1), line(b, 1)]
            } else {
                vec![line(b, 1), line(a, 1)]
            };
            tokio::spawn(async move {
                services
                    .orders
                    .create_order(
                        &ctx,
                        CreateOrderInput {
                            customer_id: Some(customer),
                            items: lines,
                            ..Default::default()
                        },
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let atp = t
        .services()
        .inventory
        .available_to_promise(&t.ctx, a)
        .await
        .unwrap();
    assert_eq!(atp.reserved, 40);
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_reserve_release_and_ship_stock() {
    let t = TestApp::new().await;
    let warehouse = t.warehouse("WH", 1).await;
    let sku = variant(&t, "ORDERED-1").await;
    let untracked = variant(&t, "UNTRACKED-1").await;
    let item = t.receive_at(sku, warehouse, 5).await;
    let customer = t
        .services()
        .customers
        .create_customer(
            &t.ctx,
            stateset::services::customers::CreateCustomerInput {
                email: "c@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let order = |q| CreateOrderInput {
        customer_id: Some(customer),
        items: vec![
            OrderLineInput {
                variant_id: sku,
                quantity: q,
                unit_price: None,
                discount: None,
                tax: None,
            },
            OrderLineInput {
                variant_id: untracked,
                quantity: 100,
                unit_price: None,
                discount: None,
                tax: None,
            },
        ],
        ..Default::default()
    };
    let orders = &t.services().orders;
    let err = orders.create_order(&t.ctx, order(6)).await.unwrap_err();
    assert_eq!(err.code(), "INSUFFICIENT_STOCK");
    assert_eq!(
        err.details(),
        json!({"sku": "ORDERED-1", "requested": 6, "available": 5})
    );
    let page = stateset::services::page::PageRequest {
        size: None,
        after: None,
        size_field: "first",
        cursor_field: "after",
        with_total: true,
    };
    assert_eq!(
        orders
            .list_orders(&t.ctx, Default::default(), Default::default(), page)
            .await
            .unwrap()
            .total_count,
        0,
        "no order without stock"
    );

    let first = orders
        .create_order(&t.ctx, order(3))
        .await
        .unwrap()
        .order
        .id;
    let second = orders
        .create_order(&t.ctx, order(2))
        .await
        .unwrap()
        .order
        .id;
    let stock = t.services().inventory.get_item(&t.ctx, item).await.unwrap();
    assert_eq!((stock.on_hand, stock.reserved, stock.available), (5, 5, 0));
    orders
        .transition(
            &t.ctx,
            second,
            OrderAction::Cancel,
            Some("changed mind".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        t.services()
            .inventory
            .get_item(&t.ctx, item)
            .await
            .unwrap()
            .available,
        2,
        "cancelling releases"
    );
    orders
        .transition(&t.ctx, first, OrderAction::Process, None)
        .await
        .unwrap();
    orders
        .transition(&t.ctx, first, OrderAction::Ship, None)
        .await
        .unwrap();
    let stock = t.services().inventory.get_item(&t.ctx, item).await.unwrap();
    assert_eq!(
        (stock.on_hand, stock.reserved, stock.available),
        (2, 0, 2),
        "shipping takes the units out of stock"
    );
    let kinds: Vec<String> = t
        .services()
        .inventory
        .movements(&t.ctx, item, first_page(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|(_, m)| m.kind)
        .collect();
    assert_eq!(kinds, ["receive", "reserve", "reserve", "release", "ship"]);
    let events = t
        .services()
        .events
        .list(
            &t.ctx,
            EventQuery {
                types: vec!["inventory.*".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "inventory.received",
            "inventory.reserved",
            "inventory.reserved",
            "inventory.released",
            "inventory.shipped"
        ]
    );
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lots_are_allocated_first_expiry_first_and_never_expired() {
    let t = TestApp::new().await;
    let warehouse = t.warehouse("WH", 1).await;
    let sku = variant(&t, "MILK-1").await;
    let inventory = &t.services().inventory;
    let lot = |code: &str, days: i64, quantity| ReceiveInput {
        variant_id: sku,
        location_id: warehouse,
        quantity,
        lot_code: Some(code.into()),
        expires_at: Some(Utc::now() + Duration::days(days)),
        reason: None,
    };
    inventory.receive(&t.ctx, lot("LATE", 30, 5)).await.unwrap();
    inventory.receive(&t.ctx, lot("SOON", 3, 2)).await.unwrap();
    let item = inventory.receive(&t.ctx, lot("GONE", -1, 4)).await.unwrap();
    assert_eq!(item.available, 11);
    let lots = inventory.lots(&t.ctx, item.id).await.unwrap();
    let code_of = |id: Option<Uuid>| {
        lots.iter()
            .find(|l| Some(l.id) == id)
            .map(|l| l.lot_code.clone())
            .unwrap_or_default()
    };

    let first = inventory
        .reserve_variant(
            &t.ctx,
            sku,
            ReserveInput {
                quantity: 3,
                ..one()
            },
        )
        .await
        .unwrap();
    let taken: Vec<(String, i32)> = first
        .iter()
        .map(|r| (code_of(r.lot_id), r.quantity))
        .collect();
    assert_eq!(taken, [("SOON".to_owned(), 2), ("LATE".to_owned(), 1)]);
    let err = inventory
        .reserve_variant(
            &t.ctx,
            sku,
            ReserveInput {
                quantity: 5,
                ..one()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.details()["available"],
        4,
        "the expired lot is never allocated"
    );
    // Removing stock takes the expired lot first.
    let adjusted = inventory
        .adjust(
            &t.ctx,
            item.id,
            AdjustInput {
                delta: -4,
                reason: "expired".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(adjusted.on_hand, 7);
    let lots = inventory.lots(&t.ctx, item.id).await.unwrap();
    assert_eq!(
        lots.iter().find(|l| l.lot_code == "GONE").unwrap().on_hand,
        0
    );
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_fires_once_per_crossing_and_holds_expire() {
    let t = TestApp::new().await;
    let warehouse = t.warehouse("WH", 1).await;
    let sku = variant(&t, "LOW-1").await;
    let item = t.receive_at(sku, warehouse, 10).await;
    let inventory = &t.services().inventory;
    inventory
        .update_item_settings(
            &t.ctx,
            item,
            ItemSettingsInput {
                reorder_point: Some(5),
                reorder_quantity: Some(20),
                safety_stock: Some(1),
            },
        )
        .await
        .unwrap();
    for _ in 0..6 {
        inventory.reserve_variant(&t.ctx, sku, one()).await.unwrap();
    }
    let low = inventory.low_stock(&t.ctx, first_page(20)).await.unwrap();
    assert_eq!(low.items.len(), 1);
    assert!(low.items[0].1.low_stock);
    let count = |t: &TestApp| {
        let services = t.services().clone();
        let ctx = t.ctx.clone();
        async move {
            services
                .events
                .list(
                    &ctx,
                    EventQuery {
                        types: vec!["inventory.low_stock".into()],
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .events
                .len()
        }
    };
    assert_eq!(
        count(&t).await,
        1,
        "once, not once per reservation below the point"
    );
    t.receive_at(sku, warehouse, 10).await;
    assert!(
        inventory
            .low_stock(&t.ctx, first_page(20))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    inventory
        .adjust(
            &t.ctx,
            item,
            AdjustInput {
                delta: -9,
                reason: "damaged".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(count(&t).await, 2, "a new crossing fires again");
    let atp = inventory.available_to_promise(&t.ctx, sku).await.unwrap();
    assert_eq!(
        (atp.available, atp.committed, atp.available_to_promise),
        (5, 1, 4)
    );

    // A hold with an expiry gives its units back once it has run out.
    let held = inventory
        .reserve_variant(
            &t.ctx,
            sku,
            ReserveInput {
                quantity: 5,
                expires_in_seconds: Some(600),
                ..one()
            },
        )
        .await
        .unwrap();
    assert_eq!(inventory.get_item(&t.ctx, item).await.unwrap().available, 0);
    let mut conn = diesel_async::AsyncPgConnection::establish(&t.db.url)
        .await
        .unwrap();
    diesel::sql_query(
        "UPDATE inventory_reservations SET expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(held[0].id)
    .execute(&mut conn)
    .await
    .unwrap();
    inventory
        .reserve_variant(
            &t.ctx,
            sku,
            ReserveInput {
                quantity: 5,
                ..one()
            },
        )
        .await
        .unwrap();
    let reservations = inventory
        .reservations(&t.ctx, item, first_page(100))
        .await
        .unwrap();
    assert_eq!(
        reservations
            .items
            .iter()
            .find(|(_, r)| r.id == held[0].id)
            .unwrap()
            .1
            .status,
        "expired"
    );
    // Its units came back through a release, so the expiry is an `inventory.released` event
    // like any other release, naming the reservation and its quantity.
    let released = t.events_of(&["inventory.released"]).await;
    let expiry = released
        .iter()
        .find(|e| e.data["reservations"][0]["id"] == held[0].id.to_string())
        .expect("the expired hold wrote inventory.released");
    assert_eq!(expiry.data["reservations"][0]["quantity"], 5);
    assert_eq!(expiry.data["reservations"][0]["item_id"], item.to_string());
    assert_eq!(
        expiry.entity_id, item,
        "a hold without an order is about its item"
    );
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_purchase_orders_and_bad_input() {
    let t = TestApp::new().await;
    let warehouse = t.warehouse("WH", 1).await;
    let sku = variant(&t, "COUNT-1").await;
    let other = variant(&t, "COUNT-2").await;
    let item = t.receive_at(sku, warehouse, 10).await;
    let inventory = &t.services().inventory;

    let count = inventory.open_count(&t.ctx, warehouse).await.unwrap();
    assert_eq!(count.lines[0].expected, 10);
    inventory
        .record_count(
            &t.ctx,
            count.id,
            CountInput {
                variant_id: sku,
                counted: 8,
            },
        )
        .await
        .unwrap();
    let counted = inventory
        .record_count(
            &t.ctx,
            count.id,
            CountInput {
                variant_id: other,
                counted: 3,
            },
        )
        .await
        .unwrap();
    let variances: Vec<Option<i32>> = counted.lines.iter().map(|l| l.variance).collect();
    assert_eq!(variances, [Some(-2), Some(3)]);
    let posted = inventory.post_count(&t.ctx, count.id).await.unwrap();
    assert_eq!(posted.status, "posted");
    assert_eq!(inventory.get_item(&t.ctx, item).await.unwrap().on_hand, 8);
    assert_eq!(
        inventory
            .post_count(&t.ctx, count.id)
            .await
            .unwrap_err()
            .code(),
        "INVALID_STATE"
    );

    let po = inventory
        .create_purchase_order(
            &t.ctx,
            CreatePurchaseOrderInput {
                location_id: warehouse,
                supplier: "Acme".into(),
                expected_at: None,
                lines: vec![VariantQuantity {
                    variant_id: sku,
                    quantity: 12,
                }],
            },
        )
        .await
        .unwrap();
    assert!(po.number.starts_with("PO-"));
    assert_eq!(
        inventory
            .available_to_promise(&t.ctx, sku)
            .await
            .unwrap()
            .on_order,
        12
    );
    let line = po.lines[0].id;
    let part = ReceiveLineInput {
        line_id: line,
        quantity: 5,
        lot_code: Some("B1".into()),
        expires_at: None,
    };
    assert_eq!(
        inventory
            .receive_purchase_order(&t.ctx, po.id, vec![part])
            .await
            .unwrap()
            .status,
        "partially_received"
    );
    let too_many = ReceiveLineInput {
        line_id: line,
        quantity: 8,
        lot_code: None,
        expires_at: None,
    };
    assert_eq!(
        inventory
            .receive_purchase_order(&t.ctx, po.id, vec![too_many])
            .await
            .unwrap_err()
            .details()["fields"][0]["field"],
        "lines[0].quantity"
    );
    let rest = ReceiveLineInput {
        line_id: line,
        quantity: 7,
        lot_code: None,
        expires_at: None,
    };
    assert_eq!(
        inventory
            .receive_purchase_order(&t.ctx, po.id, vec![rest])
            .await
            .unwrap()
            .status,
        "received"
    );
    let atp = inventory.available_to_promise(&t.ctx, sku).await.unwrap();
    assert_eq!((atp.on_hand, atp.on_order), (20, 0));

    // Removing more than is free, or a zero adjustment, is a clear error; nothing changes.
    inventory
        .reserve_variant(
            &t.ctx,
            sku,
            ReserveInput {
                quantity: 15,
                ..one()
            },
        )
        .await
        .unwrap();
    let err = inventory
        .adjust(
            &t.ctx,
            item,
            AdjustInput {
                delta: -6,
                reason: "lost".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.details()["fields"][0]["field"], "delta");
    assert_eq!(
        inventory
            .adjust(
                &t.ctx,
                item,
                AdjustInput {
                    delta: 0,
                    reason: "".into()
                }
            )
            .await
            .unwrap_err()
            .details()["fields"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let extreme = inventory
        .adjust(
            &t.ctx,
            item,
            AdjustInput {
                delta: i32::MIN,
                reason: "x".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        extreme.details()["fields"][0]["field"],
        "delta",
        "no overflow on the most negative number"
    );
    assert_eq!(inventory.get_item(&t.ctx, item).await.unwrap().on_hand, 20);
    // Stocked variants cannot vanish from the catalog with their history.
    let product = t
        .services()
        .catalog
        .get_product(
            &t.ctx,
            stateset::services::catalog::ProductRef::Slug("count-1".into()),
        )
        .await
        .unwrap();
    let err = t
        .services()
        .catalog
        .delete_product(&t.ctx, product.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    assert!(err.to_string().contains("COUNT-1"));
    assert_eq!(
        t.services()
            .catalog
            .delete_variant(&t.ctx, sku)
            .await
            .unwrap_err()
            .code(),
        "CONFLICT"
    );
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_manages_stock_and_orders_reserve_through_them() {
    use axum::http::{Method, StatusCode};
    let t = TestApp::new().await;
    let sku = variant(&t, "DOOR-1").await;
    let customer = t
        .services()
        .customers
        .create_customer(
            &t.ctx,
            stateset::services::customers::CreateCustomerInput {
                email: "d@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;

    // REST: a location, a receipt, a reservation and its release, the ledger, low stock.
    let (status, location) = t
        .json(
            Method::POST,
            "/api/v1/locations",
            Some(json!({"code": "WH-1", "name": "Main", "kind": "warehouse", "priority": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{location}");
    let location = location["id"].as_str().unwrap().to_owned();
    let (status, item) = t
        .json(
            Method::POST,
            "/api/v1/inventory/receive",
            Some(json!({"variant_id": sku, "location_id": location, "quantity": 4})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    let item = item["id"].as_str().unwrap().to_owned();
    let (status, held) = t
        .json(
            Method::POST,
            &format!("/api/v1/inventory/{item}/reserve"),
            Some(json!({"quantity": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let (status, short) = t
        .json(
            Method::POST,
            &format!("/api/v1/inventory/{item}/reserve"),
            Some(json!({"quantity": 3})),
        )
        .await;
    assert_eq!(
        (status, short["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("INSUFFICIENT_STOCK"))
    );
    assert_eq!(short["error"]["details"]["available"], 1);
    let reservation = held["items"][0]["id"].as_str().unwrap();
    let (status, _) = t
        .json(
            Method::POST,
            &format!("/api/v1/inventory/{location}/release"),
            Some(json!({"reservation_id": reservation})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a reservation is released only through its own item"
    );
    assert_eq!(
        t.services()
            .inventory
            .get_item(&t.ctx, item.parse().unwrap())
            .await
            .unwrap()
            .reserved,
        3,
        "and stays held"
    );
    let (status, released) = t
        .json(
            Method::POST,
            &format!("/api/v1/inventory/{item}/release"),
            Some(json!({"reservation_id": reservation})),
        )
        .await;
    assert_eq!(
        (status, released["status"].as_str()),
        (StatusCode::OK, Some("released"))
    );
    let (_, listed) = t
        .json(Method::GET, "/api/v1/inventory?sku=DOOR-1", None)
        .await;
    assert_eq!(listed["items"][0]["available"], 4);
    let (status, _) = t
        .json(
            Method::PUT,
            &format!("/api/v1/inventory/{item}"),
            Some(json!({"reorder_point": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, movements) = t
        .json(
            Method::GET,
            &format!("/api/v1/inventory/{item}/movements"),
            None,
        )
        .await;
    assert_eq!(movements["items"].as_array().unwrap().len(), 3);

    // An order placed over REST reserves; its cancellation over GraphQL releases.
    let (status, order) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"customer_id": customer, "items": [{"variant_id": sku, "quantity": 3}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let (_, low) = t
        .json(Method::GET, "/api/v1/inventory/low-stock", None)
        .await;
    assert_eq!(
        low["items"][0]["id"],
        item.as_str(),
        "1 available is below the reorder point of 2"
    );
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"customer_id": customer, "items": [{"variant_id": sku, "quantity": 2}]})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("INSUFFICIENT_STOCK"))
    );
    let cancelled = t
        .graphql(
            r#"mutation($id: UUID!) { cancelOrder(id: $id, reason: "test") { status } }"#,
            json!({"id": order["id"]}),
        )
        .await;
    assert_eq!(cancelled["data"]["cancelOrder"]["status"], "CANCELLED");
    let stock = t
        .graphql(
            r#"query($v: UUID!) { availableToPromise(variantId: $v) { available availableToPromise } product(slug: "door-1") { variants { available inventory { onHand } } } }"#,
            json!({"v": sku}),
        )
        .await;
    assert_eq!(
        stock["data"]["availableToPromise"]["available"], 4,
        "{stock}"
    );
    assert_eq!(stock["data"]["product"]["variants"][0]["available"], 4);
    assert_eq!(
        stock["data"]["product"]["variants"][0]["inventory"][0]["onHand"],
        4
    );

    // gRPC: reserve across locations, release, and an order over gRPC reserves too.
    let channel = t.serve_grpc().await;
    let auth = crate::support::BearerInterceptor(Some(t.admin.clone()));
    let mut inventory = stateset::adapters::grpc::pb::inventory_service_client::InventoryServiceClient::with_interceptor(channel.clone(), auth.clone());
    use stateset::adapters::grpc::pb;
    let reserved = inventory
        .reserve_inventory(pb::ReserveInventoryRequest {
            target: Some(pb::reserve_inventory_request::Target::VariantId(
                sku.to_string(),
            )),
            quantity: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reserved.reservations[0].quantity, 2);
    let err = inventory
        .reserve_inventory(pb::ReserveInventoryRequest {
            target: Some(pb::reserve_inventory_request::Target::VariantId(
                sku.to_string(),
            )),
            quantity: 5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    inventory
        .release_reservation(pb::ReleaseReservationRequest {
            id: reserved.reservations[0].id.clone(),
        })
        .await
        .unwrap();
    let mut orders = pb::order_service_client::OrderServiceClient::with_interceptor(channel, auth);
    orders
        .create_order(pb::CreateOrderRequest {
            customer_id: Some(customer.to_string()),
            items: vec![pb::OrderLine {
                variant_id: sku.to_string(),
                quantity: 4,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let atp = inventory
        .get_available_to_promise(pb::AvailableToPromiseRequest {
            variant_id: sku.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((atp.available, atp.reserved), (0, 4));
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_movements_and_reservations_page_through_every_door() {
    use axum::http::{Method, StatusCode};
    let t = TestApp::new().await;
    let warehouse = t.warehouse("WH", 1).await;
    let inventory = &t.services().inventory;
    let mut low = Vec::new();
    for n in 0..3 {
        let sku = variant(&t, &format!("PAGE-{n}")).await;
        let item = t.receive_at(sku, warehouse, 10).await;
        let settings = ItemSettingsInput {
            reorder_point: Some(100),
            ..Default::default()
        };
        inventory
            .update_item_settings(&t.ctx, item, settings)
            .await
            .unwrap();
        low.push(item);
    }
    low.sort();
    let ids = |items: &[serde_json::Value]| -> Vec<Uuid> {
        items
            .iter()
            .map(|i| i["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };

    // More low-stock items than a page: every one is reached, in id order, on every door.
    let (items, pages) = t.rest_pages("/api/v1/inventory/low-stock", 2, 3).await;
    assert_eq!((ids(&items), pages), (low.clone(), 2));
    let (nodes, pages) = t
        .graphql_pages(
            "query($after: String) { lowStock(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }",
            json!({}),
            "lowStock",
            3,
        )
        .await;
    assert_eq!((ids(&nodes), pages), (low.clone(), 2));
    use stateset::adapters::grpc::pb;
    let auth = crate::support::BearerInterceptor(Some(t.admin.clone()));
    let mut grpc = pb::inventory_service_client::InventoryServiceClient::with_interceptor(
        t.serve_grpc().await,
        auth,
    );
    let (mut seen, mut token) = (Vec::new(), String::new());
    loop {
        let page = grpc
            .list_inventory(pb::ListInventoryRequest {
                page_size: 2,
                page_token: token,
                below_reorder_point: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_count, 3);
        seen.extend(page.items.iter().map(|i| i.id.parse::<Uuid>().unwrap()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, low);
    let (status, body) = t
        .json(Method::GET, "/api/v1/inventory/low-stock?limit=101", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(crate::support::rest_error_fields(&body), ["limit"]);
    let bad = t
        .graphql("{ lowStock(first: 0) { totalCount } }", json!({}))
        .await;
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "VALIDATION",
        "{bad}"
    );

    // An item's ledger and reservations page too, oldest first.
    let item = low[0];
    let mut made = Vec::new();
    for _ in 0..4 {
        made.extend(
            inventory
                .reserve_item(&t.ctx, item, one())
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id),
        );
    }
    let path = format!("/api/v1/inventory/{item}/movements");
    let (movements, pages) = t.rest_pages(&path, 2, 5).await;
    let kinds: Vec<&str> = movements
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        (kinds, pages),
        (
            vec!["receive", "reserve", "reserve", "reserve", "reserve"],
            3
        )
    );
    let (nodes, pages) = t
        .graphql_pages(
            "query($item: UUID!, $after: String) { inventoryMovements(itemId: $item, first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }",
            json!({"item": item}),
            "inventoryMovements",
            5,
        )
        .await;
    assert_eq!((ids(&nodes), pages), (ids(&movements), 3));
    let path = format!("/api/v1/inventory/{item}/reservations");
    let (reservations, pages) = t.rest_pages(&path, 3, 4).await;
    assert_eq!((ids(&reservations), pages), (made, 2));
    let (status, body) = t
        .json(Method::GET, &format!("{path}?cursor=not-a-cursor"), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(crate::support::rest_error_fields(&body), ["cursor"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_does_not_exist_is_a_validation_error_naming_order_id_on_every_door() {
    use axum::http::{Method, StatusCode};
    use stateset::adapters::grpc::pb;
    let t = TestApp::new().await;
    let sku = variant(&t, "FK-1").await;
    let warehouse = t.warehouse("WH-FK", 1).await;
    let item = t.receive_at(sku, warehouse, 5).await;
    let nobody = Uuid::now_v7();

    let (status, body) = t
        .json(
            Method::POST,
            &format!("/api/v1/inventory/{item}/reserve"),
            Some(json!({"quantity": 1, "order_id": nobody})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION", "{body}");
    assert_eq!(
        crate::support::rest_error_fields(&body),
        ["order_id"],
        "{body}"
    );

    let answer = t
        .graphql(
            "mutation($v: UUID!, $o: UUID!) { reserveInventory(variantId: $v, input: {quantity: 1, orderId: $o}) { id } }",
            json!({"v": sku, "o": nobody}),
        )
        .await;
    let error = &answer["errors"][0];
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{answer}");
    assert!(error.to_string().contains("order_id"), "{answer}");

    let channel = t.serve_grpc().await;
    let auth = crate::support::BearerInterceptor(Some(t.admin.clone()));
    let mut inventory =
        pb::inventory_service_client::InventoryServiceClient::with_interceptor(channel, auth);
    let err = inventory
        .reserve_inventory(pb::ReserveInventoryRequest {
            target: Some(pb::reserve_inventory_request::Target::VariantId(
                sku.to_string(),
            )),
            quantity: 1,
            order_id: Some(nobody.to_string()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(
        String::from_utf8_lossy(err.details()).contains("order_id"),
        "{err:?}"
    );

    // Nothing was held by any of the refused attempts.
    let (_, atp) = t
        .json(Method::GET, &format!("/api/v1/inventory/atp/{sku}"), None)
        .await;
    assert_eq!(atp["available"], 5, "{atp}");
}
