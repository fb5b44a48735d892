//! Fulfilment and shipments: an order stocked at two locations is planned into two
//! fulfilment orders, shipped in packages across two shipments (the order partially shipped,
//! then shipped), delivered with a signature (without one it is an exception), with the
//! ledger reconciling at every step; fulfilment orders are held, moved, split and merged;
//! the order's own ship and cancel actions go through the plan. Through REST and GraphQL.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Auth, TestApp, rest_error_fields};

fn address() -> Value {
    json!({"first_name": "Grace", "last_name": "Hopper", "line1": "2 Navy Way", "city": "Arlington",
        "region": "VA", "postal_code": "22202", "country": "US"})
}

/// Two warehouses (EAST first by priority), a mug stocked 2 at EAST and 5 at WEST, a lamp 5
/// at EAST.
struct Shop {
    east: Uuid,
    west: Uuid,
    mug: Uuid,
    lamp: Uuid,
}

async fn shop(t: &TestApp) -> Shop {
    let east = t.warehouse("EAST", 1).await;
    let west = t.warehouse("WEST", 2).await;
    let mug = t.variant("SHIP-MUG").await;
    let lamp = t.variant("SHIP-LAMP").await;
    t.receive_at(mug, east, 2).await;
    t.receive_at(mug, west, 5).await;
    t.receive_at(lamp, east, 5).await;
    Shop {
        east,
        west,
        mug,
        lamp,
    }
}

/// Places 4 mugs and 1 lamp over REST for a new customer; returns the order.
async fn order(t: &TestApp, shop: &Shop, email: &str) -> Value {
    let customer = t.customer(email).await;
    let (status, order) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"customer_id": customer, "shipping_address": address(), "items": [
                {"variant_id": shop.mug, "quantity": 4}, {"variant_id": shop.lamp, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    order
}

async fn plans(t: &TestApp, order_id: &str) -> Vec<Value> {
    let (status, body) = t
        .json(
            Method::GET,
            &format!("/api/v1/orders/{order_id}/fulfillment-orders"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// `(on hand, reserved)` of a variant at a location.
async fn stock_at(t: &TestApp, variant: Uuid, location: Uuid) -> (i64, i64) {
    let (_, body) = t
        .json(
            Method::GET,
            &format!("/api/v1/inventory?location_id={location}&limit=100"),
            None,
        )
        .await;
    let item = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["variant_id"] == json!(variant))
        .cloned()
        .unwrap_or_else(|| panic!("no stock of {variant} at {location}: {body}"));
    (
        item["on_hand"].as_i64().unwrap(),
        item["reserved"].as_i64().unwrap(),
    )
}

async fn assert_reconciles(t: &TestApp) {
    assert_eq!(
        t.services().inventory.unreconciled(&t.ctx).await.unwrap(),
        Vec::<Uuid>::new(),
        "ledger and balances disagree"
    );
}

async fn order_status(t: &TestApp, order_id: &str) -> String {
    let (_, order) = t
        .json(Method::GET, &format!("/api/v1/orders/{order_id}"), None)
        .await;
    order["status"].as_str().unwrap().to_owned()
}

async fn post(t: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    t.json(Method::POST, path, Some(body)).await
}

fn line_of(plan: &Value, variant: Uuid) -> Value {
    plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["variant_id"] == json!(variant))
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_from_two_locations_ships_in_two_shipments_and_is_delivered_with_a_signature() {
    let t = TestApp::new().await;
    let shop = shop(&t).await;
    let order = order(&t, &shop, "grace@example.com").await;
    let order_id = order["id"].as_str().unwrap();

    // Planned where the reservations are: 2 mugs and the lamp at EAST, 2 mugs at WEST.
    let plans = plans(&t, order_id).await;
    assert_eq!(plans.len(), 2, "{plans:?}");
    let east = plans
        .iter()
        .find(|p| p["location_id"] == json!(shop.east))
        .unwrap()
        .clone();
    let west = plans
        .iter()
        .find(|p| p["location_id"] == json!(shop.west))
        .unwrap()
        .clone();
    assert_eq!(east["status"], "open");
    assert_eq!(line_of(&east, shop.mug)["quantity"], 2);
    assert_eq!(line_of(&east, shop.lamp)["quantity"], 1);
    assert_eq!(line_of(&west, shop.mug)["quantity"], 2);
    assert_eq!(line_of(&west, shop.mug)["sku"], "SHIP-MUG");

    // A shipment never takes more than remains on its line.
    let east_mug = line_of(&east, shop.mug)["id"].clone();
    let (status, err) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": east["id"],
        "lines": [{"fulfillment_order_line_id": east_mug, "quantity": 3}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(rest_error_fields(&err), ["lines[0].quantity"]);

    // First shipment: one mug from EAST in two boxes; it ships, the order is partly shipped.
    let (status, first) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": east["id"],
        "lines": [{"fulfillment_order_line_id": east_mug, "quantity": 1}],
        "carrier": "ups", "service": "ground",
        "packages": [{"weight_grams": 400, "length_mm": 200, "width_mm": 150, "height_mm": 100},
                     {"weight_grams": 350, "length_mm": 200, "width_mm": 150, "height_mm": 100}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "pending");
    assert!(first["number"].as_str().unwrap().starts_with("SHP-"));
    assert_eq!(first["packages"].as_array().unwrap().len(), 2);
    assert_eq!(first["ship_to"]["city"], "Arlington");
    let first_id = first["id"].as_str().unwrap();
    for step in ["pick", "pack"] {
        let (status, body) = post(
            &t,
            &format!("/api/v1/shipments/{first_id}/{step}"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    assert_eq!(stock_at(&t, shop.mug, shop.east).await, (2, 2));
    let (status, shipped) =
        post(&t, &format!("/api/v1/shipments/{first_id}/ship"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["status"], "shipped");
    assert_eq!(
        stock_at(&t, shop.mug, shop.east).await,
        (1, 1),
        "the shipped mug left stock"
    );
    assert_eq!(order_status(&t, order_id).await, "partially_shipped");
    assert_reconciles(&t).await;
    // Shipped is final for the warehouse: no cancelling, no second ship.
    let (status, err) = post(
        &t,
        &format!("/api/v1/shipments/{first_id}/cancel"),
        json!({"reason": "oops"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "INVALID_STATE");

    // A shipment cancelled before it ships gives its units back to the plan.
    let (_, spare) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": east["id"]}),
    )
    .await;
    assert_eq!(spare["lines"].as_array().unwrap().len(), 2, "{spare}");
    let (status, cancelled) = post(
        &t,
        &format!("/api/v1/shipments/{}/cancel", spare["id"].as_str().unwrap()),
        json!({"reason": "box damaged"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["cancel_reason"], "box damaged");
    let east_now = plans_of(&t, order_id, shop.east).await;
    assert_eq!(line_of(&east_now, shop.mug)["remaining_quantity"], 1);
    assert_eq!(line_of(&east_now, shop.mug)["shipped_quantity"], 1);

    // The rest of EAST (a mug and the lamp, one box, signature required), then all of WEST.
    let (_, rest_east) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": east["id"],
        "signature": "signature", "carrier": "usps",
        "packages": [{"weight_grams": 900, "length_mm": 300, "width_mm": 200, "height_mm": 200}]}),
    )
    .await;
    let rest_east_id = rest_east["id"].as_str().unwrap().to_owned();
    post(
        &t,
        &format!("/api/v1/shipments/{rest_east_id}/ship"),
        json!({}),
    )
    .await;
    assert_eq!(plans_of(&t, order_id, shop.east).await["status"], "closed");
    assert_eq!(order_status(&t, order_id).await, "partially_shipped");
    let (_, from_west) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": west["id"]}),
    )
    .await;
    let west_id = from_west["id"].as_str().unwrap().to_owned();
    let (status, body) = post(&t, &format!("/api/v1/shipments/{west_id}/ship"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(order_status(&t, order_id).await, "shipped");
    assert_eq!(stock_at(&t, shop.mug, shop.east).await, (0, 0));
    assert_eq!(stock_at(&t, shop.mug, shop.west).await, (3, 0));
    assert_eq!(stock_at(&t, shop.lamp, shop.east).await, (4, 0));
    assert_reconciles(&t).await;

    // Delivered without the signature it needs: an exception, not a delivery.
    let (status, exception) = post(
        &t,
        &format!("/api/v1/shipments/{rest_east_id}/deliver"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{exception}");
    assert_eq!(exception["status"], "exception");
    assert_eq!(order_status(&t, order_id).await, "shipped");
    let (_, delivered) = post(
        &t,
        &format!("/api/v1/shipments/{rest_east_id}/deliver"),
        json!({"signed_by": "G. Hopper"}),
    )
    .await;
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["signed_by"], "G. Hopper");
    for id in [first_id, west_id.as_str()] {
        let (status, body) = post(&t, &format!("/api/v1/shipments/{id}/deliver"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(order_status(&t, order_id).await, "delivered");

    // The order's history tells the story; the events were written.
    let (_, history) = t
        .json(
            Method::GET,
            &format!("/api/v1/orders/{order_id}/history"),
            None,
        )
        .await;
    let moves: Vec<(String, String)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["to_status"].is_string())
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["to_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("created", "pending"),
        ("process", "processing"),
        ("ship", "partially_shipped"),
        ("ship", "shipped"),
        ("deliver", "delivered"),
    ];
    assert_eq!(moves, expected.map(|(a, s)| (a.to_owned(), s.to_owned())));
    for (kind, count) in [
        ("fulfillment_order.created", 2),
        ("shipment.created", 4),
        ("shipment.shipped", 3),
        ("shipment.cancelled", 1),
        ("shipment.exception", 1),
        ("shipment.delivered", 3),
        ("order.shipped", 1),
        ("order.delivered", 1),
    ] {
        let events = t.events_of(&[kind]).await;
        assert_eq!(events.len(), count, "{kind}");
    }
    let shipped_events = t.events_of(&["shipment.shipped"]).await;
    assert_eq!(shipped_events[0].data["order_id"], json!(order_id));

    // Listed by order and by status.
    let (_, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/shipments?order_id={order_id}&status=delivered"),
            None,
        )
        .await;
    assert_eq!(list["total_count"], 3, "{list}");
}

async fn plans_of(t: &TestApp, order_id: &str, location: Uuid) -> Value {
    plans(t, order_id)
        .await
        .into_iter()
        .find(|p| p["location_id"] == json!(location) && p["status"] != "cancelled")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfillment_orders_are_held_moved_split_and_merged() {
    let t = TestApp::new().await;
    let shop = shop(&t).await;
    let order = order(&t, &shop, "ops@example.com").await;
    let order_id = order["id"].as_str().unwrap();
    let west = plans_of(&t, order_id, shop.west).await;
    let west_id = west["id"].as_str().unwrap().to_owned();

    // Held: its shipments do not ship until it is released.
    let (_, shipment) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": west_id}),
    )
    .await;
    let (status, held) = post(
        &t,
        &format!("/api/v1/fulfillment-orders/{west_id}/hold"),
        json!({"reason": "incorrect_address", "note": "unit number missing"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["status"], "on_hold");
    assert_eq!(held["hold_reason"], "incorrect_address");
    let (status, err) = post(
        &t,
        &format!(
            "/api/v1/shipments/{}/ship",
            shipment["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(
        err["error"]["details"],
        json!({"from": "on_hold", "action": "ship"})
    );
    let (status, err) = post(
        &t,
        &format!("/api/v1/fulfillment-orders/{west_id}/hold"),
        json!({"reason": "bogus"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (_, released) = post(
        &t,
        &format!("/api/v1/fulfillment-orders/{west_id}/release"),
        json!({}),
    )
    .await;
    assert_eq!(released["status"], "in_progress");
    post(
        &t,
        &format!(
            "/api/v1/shipments/{}/cancel",
            shipment["id"].as_str().unwrap()
        ),
        json!({"reason": "re-route"}),
    )
    .await;

    // Moved to EAST, which has no mugs left: refused, nothing changed.
    let (status, err) = post(
        &t,
        &format!("/api/v1/fulfillment-orders/{west_id}/move"),
        json!({"location_id": shop.east}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "INSUFFICIENT_STOCK");
    assert_eq!(stock_at(&t, shop.mug, shop.west).await, (5, 2));
    // A third warehouse with mugs takes it: the reservations move with it.
    let north = t.warehouse("NORTH", 3).await;
    t.receive_at(shop.mug, north, 10).await;
    let (status, moved) = post(
        &t,
        &format!("/api/v1/fulfillment-orders/{west_id}/move"),
        json!({"location_id": north}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["location_id"], json!(north));
    assert_eq!(stock_at(&t, shop.mug, shop.west).await, (5, 0));
    assert_eq!(stock_at(&t, shop.mug, north).await, (10, 2));
    assert_reconciles(&t).await;

    // Split one mug off, then merge it back.
    let mug_line = line_of(&moved, shop.mug)["id"].clone();
    let (status, split) = post(
        &t,
        &format!("/api/v1/fulfillment-orders/{west_id}/split"),
        json!({"lines": [{"fulfillment_order_line_id": mug_line, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{split}");
    assert_eq!(
        line_of(&split["fulfillment_order"], shop.mug)["quantity"],
        1
    );
    assert_eq!(
        line_of(&split["new_fulfillment_order"], shop.mug)["quantity"],
        1
    );
    assert_eq!(split["new_fulfillment_order"]["location_id"], json!(north));
    let (status, err) = post(
        &t,
        &format!("/api/v1/fulfillment-orders/{west_id}/split"),
        json!({"lines": [{"fulfillment_order_line_id": mug_line, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(rest_error_fields(&err), ["lines"], "the last unit stays");
    let new_id = split["new_fulfillment_order"]["id"].clone();
    let (status, merged) = post(
        &t,
        "/api/v1/fulfillment-orders/merge",
        json!({"fulfillment_order_ids": [west_id, new_id]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let units: i64 = merged["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(units, 2);
    let (_, gone) = t
        .json(
            Method::GET,
            &format!("/api/v1/fulfillment-orders/{}", new_id.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(gone["status"], "cancelled");
    assert_eq!(gone["merged_into"], json!(west_id));
    let (status, err) = post(
        &t,
        "/api/v1/fulfillment-orders/merge",
        json!({"fulfillment_order_ids": [west_id, plans_of(&t, order_id, shop.east).await["id"]]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(rest_error_fields(&err), ["fulfillment_order_ids[1]"]);
    for kind in [
        "fulfillment_order.held",
        "fulfillment_order.released",
        "fulfillment_order.moved",
        "fulfillment_order.split",
        "fulfillment_order.merged",
    ] {
        assert_eq!(t.events_of(&[kind]).await.len(), 1, "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_own_ship_and_cancel_go_through_the_plan() {
    let t = TestApp::new().await;
    let shop = shop(&t).await;

    // Shipping the order by its status sends everything left, in shipments.
    let order = order(&t, &shop, "legacy@example.com").await;
    let order_id = order["id"].as_str().unwrap();
    let (_, first) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": plans_of(&t, order_id, shop.west).await["id"]}),
    )
    .await;
    post(
        &t,
        &format!("/api/v1/shipments/{}/ship", first["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let (status, err) = post(
        &t,
        &format!("/api/v1/orders/{order_id}/cancel"),
        json!({"reason": "too late"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a partly shipped order is not cancelled: {err}"
    );
    let (status, hold) = post(
        &t,
        &format!("/api/v1/orders/{order_id}/hold"),
        json!({"reason": "check"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hold}");
    let (status, err) = post(
        &t,
        &format!("/api/v1/orders/{order_id}/cancel"),
        json!({"reason": "held, still too late"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    post(&t, &format!("/api/v1/orders/{order_id}/release"), json!({})).await;
    let (status, shipped) = t
        .json(
            Method::PUT,
            &format!("/api/v1/orders/{order_id}/status"),
            Some(json!({"status": "shipped"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["status"], "shipped");
    for plan in plans(&t, order_id).await {
        assert_eq!(plan["status"], "closed", "{plan}");
    }
    let (_, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/shipments?order_id={order_id}"),
            None,
        )
        .await;
    assert_eq!(list["total_count"], 2);
    assert_eq!(stock_at(&t, shop.mug, shop.east).await, (0, 0));
    assert_eq!(stock_at(&t, shop.lamp, shop.east).await, (4, 0));
    let (status, delivered) = t
        .json(
            Method::PUT,
            &format!("/api/v1/orders/{order_id}/status"),
            Some(json!({"status": "delivered"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    let (_, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/shipments?order_id={order_id}&status=delivered"),
            None,
        )
        .await;
    assert_eq!(list["total_count"], 2);

    // Cancelling an order ends its plan and the shipments that have not left.
    t.receive_at(shop.mug, shop.west, 4).await;
    let order = self::order(&t, &shop, "cancel@example.com").await;
    let order_id = order["id"].as_str().unwrap();
    let (_, pending) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": plans(&t, order_id).await[0]["id"]}),
    )
    .await;
    let (status, body) = post(
        &t,
        &format!("/api/v1/orders/{order_id}/cancel"),
        json!({"reason": "changed mind"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, pending) = t
        .json(
            Method::GET,
            &format!("/api/v1/shipments/{}", pending["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(pending["status"], "cancelled");
    for plan in plans(&t, order_id).await {
        assert_eq!(plan["status"], "cancelled", "{plan}");
    }
    assert_eq!(
        stock_at(&t, shop.mug, shop.west).await,
        (7, 0),
        "the reservations were released"
    );
    assert_reconciles(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_and_splitting_orders_replans_them() {
    let t = TestApp::new().await;
    let shop = shop(&t).await;
    let order = order(&t, &shop, "split@example.com").await;
    let order_id = order["id"].as_str().unwrap();
    let lamp_item = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sku"] == "SHIP-LAMP")
        .unwrap()["id"]
        .clone();
    let (status, split) = post(
        &t,
        &format!("/api/v1/orders/{order_id}/split"),
        json!({"items": [{"item_id": lamp_item}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{split}");
    let new_id = split["new_order"]["id"].as_str().unwrap();
    let new_plans = plans(&t, new_id).await;
    assert_eq!(new_plans.len(), 1);
    assert_eq!(new_plans[0]["location_id"], json!(shop.east));
    assert_eq!(line_of(&new_plans[0], shop.lamp)["quantity"], 1);
    let live: Vec<Value> = plans(&t, order_id)
        .await
        .into_iter()
        .filter(|p| p["status"] != "cancelled")
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|p| {
        p["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["sku"] == "SHIP-MUG")
    }));

    // With a shipment under way, an order is neither split nor merged.
    post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": new_plans[0]["id"]}),
    )
    .await;
    let (status, err) = post(
        &t,
        "/api/v1/orders/merge",
        json!({"order_ids": [order_id, new_id]}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "CONFLICT");
    assert_eq!(plans(&t, new_id).await.len(), 1, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_shows_an_orders_plan_and_shipments_and_customers_see_only_their_own() {
    let t = TestApp::new().await;
    let shop = shop(&t).await;
    let order = order(&t, &shop, "gql@example.com").await;
    let order_id = order["id"].as_str().unwrap();

    let plan_query = "query($id: UUID!) { order(id: $id) { status fulfillmentOrders { id locationId status
        lines { id sku quantity remainingQuantity } } shipments { number status packages { weightGrams } } } }";
    let body = t.graphql(plan_query, json!({"id": order_id})).await;
    let plans = body["data"]["order"]["fulfillmentOrders"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(plans.len(), 2, "{body}");
    let east = plans
        .iter()
        .find(|p| p["locationId"] == json!(shop.east))
        .unwrap();

    let create = "mutation($input: CreateShipmentInput!) { createShipment(input: $input) { id status lines { sku quantity } } }";
    let body = t
        .graphql(
            create,
            json!({"input": {"fulfillmentOrderId": east["id"],
            "packages": [{"weightGrams": 500, "lengthMm": 100, "widthMm": 100, "heightMm": 100}]}}),
        )
        .await;
    let shipment_id = body["data"]["createShipment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let body = t
        .graphql(
            "mutation($id: UUID!) { shipShipment(id: $id) { status } }",
            json!({"id": shipment_id}),
        )
        .await;
    assert_eq!(body["data"]["shipShipment"]["status"], "SHIPPED", "{body}");
    let body = t
        .graphql(
            "mutation($id: UUID!) { shipShipment(id: $id) { status } }",
            json!({"id": shipment_id}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INVALID_STATE",
        "{body}"
    );

    let body = t.graphql(plan_query, json!({"id": order_id})).await;
    let order_view = &body["data"]["order"];
    assert_eq!(order_view["status"], "PARTIALLY_SHIPPED", "{body}");
    assert_eq!(order_view["shipments"][0]["status"], "SHIPPED");
    assert_eq!(
        order_view["shipments"][0]["packages"][0]["weightGrams"],
        500
    );

    // The customer reads their own order's shipments; another customer does not. (Signing
    // up links the login to the customer record with the same email.)
    let signup = |email: &'static str| {
        let t = &t;
        async move {
            let (status, body) = t
                .json_as(
                    &Auth::Anonymous,
                    Method::POST,
                    "/api/v1/auth/register",
                    Some(json!({"email": email, "password": "long enough pw"})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let owner = signup("gql@example.com").await;
    let stranger = signup("stranger@example.com").await;
    let mine = t
        .graphql_as(
            &Auth::Bearer(owner.clone()),
            "query($id: UUID!) { shipment(id: $id) { status } }",
            json!({"id": shipment_id}),
        )
        .await;
    let theirs = t
        .graphql_as(
            &Auth::Bearer(stranger),
            "query($id: UUID!) { shipment(id: $id) { status } }",
            json!({"id": shipment_id}),
        )
        .await;
    assert_eq!(
        theirs["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{theirs}"
    );
    assert_eq!(mine["data"]["shipment"]["status"], "SHIPPED", "{mine}");
    let (status, _) = t
        .json_as(
            &Auth::Bearer(owner),
            Method::POST,
            &format!("/api/v1/shipments/{shipment_id}/cancel"),
            Some(json!({"reason": "mine"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lines_of_one_variant_ship_each_reserved_unit_exactly_once() {
    let t = TestApp::new().await;
    let shop = shop(&t).await;
    t.receive_at(shop.lamp, shop.east, 5).await;
    let customer = t.customer("twice@example.com").await;
    let (status, order) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"customer_id": customer, "shipping_address": address(), "items": [
                {"variant_id": shop.lamp, "quantity": 2}, {"variant_id": shop.lamp, "quantity": 3}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_str().unwrap();
    assert_eq!(stock_at(&t, shop.lamp, shop.east).await, (10, 5));
    let plan = plans_of(&t, order_id, shop.east).await;
    assert_eq!(plan["lines"].as_array().unwrap().len(), 2);
    let (_, shipment) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": plan["id"]}),
    )
    .await;
    let (status, body) = post(
        &t,
        &format!(
            "/api/v1/shipments/{}/ship",
            shipment["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stock_at(&t, shop.lamp, shop.east).await,
        (5, 0),
        "five left stock, none twice"
    );
    assert_reconciles(&t).await;
    assert_eq!(order_status(&t, order_id).await, "shipped");
}
