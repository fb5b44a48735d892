//! The gRPC door for stock: the methods `InventoryService` gained to match REST (low stock,
//! item settings, lots, movements, reservations, cycle counts, locations and purchase orders)
//! called over a real channel, with the balances they leave behind; bad ids as
//! `INVALID_ARGUMENT` naming the field; and `idempotency-key` retries of the writes run once.

use stateset::adapters::grpc::pb;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::grpc_calls::{bad_fields, keyed, replayed};
use crate::support::{BearerInterceptor, TestApp};

type Inventory = pb::inventory_service_client::InventoryServiceClient<
    InterceptedService<Channel, BearerInterceptor>,
>;

fn inventory(channel: Channel, token: &str) -> Inventory {
    pb::inventory_service_client::InventoryServiceClient::with_interceptor(
        channel,
        BearerInterceptor(Some(token.to_owned())),
    )
}

/// A whole-second time, so it reads back as it was sent.
fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// A new warehouse made over gRPC.
async fn warehouse(client: &mut Inventory, code: &str) -> pb::Location {
    client
        .create_location(pb::CreateLocationRequest {
            code: code.into(),
            name: format!("Warehouse {code}"),
            kind: pb::LocationKind::Warehouse as i32,
            priority: Some(10),
            address: None,
        })
        .await
        .unwrap()
        .into_inner()
}

/// The one stock record of `sku`.
async fn record_of(client: &mut Inventory, sku: &str) -> pb::InventoryItem {
    let mut items = client
        .list_inventory(pb::ListInventoryRequest {
            sku: Some(sku.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(items.len(), 1, "one record of {sku}");
    items.remove(0)
}

async fn on_hand_and_reserved(client: &mut Inventory, id: &str) -> (i32, i32) {
    let item = client
        .get_inventory_item(pb::InventoryItemRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner();
    (item.on_hand, item.reserved)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_and_a_posted_cycle_count_correct_stock_over_grpc() {
    let t = TestApp::new().await;
    let mut client = inventory(t.serve_grpc().await, &t.admin);

    // A location, made once: the retry with the same key answers the same location again.
    let create = pb::CreateLocationRequest {
        code: "WH-GRPC".into(),
        name: "gRPC warehouse".into(),
        kind: pb::LocationKind::Warehouse as i32,
        priority: Some(5),
        address: None,
    };
    let made = client
        .create_location(keyed(create.clone(), "grpc-location-1"))
        .await
        .unwrap();
    assert!(!replayed(&made));
    let location = made.into_inner();
    assert_eq!(location.code, "WH-GRPC");
    assert_eq!(location.name, "gRPC warehouse");
    assert_eq!(location.kind, pb::LocationKind::Warehouse as i32);
    assert_eq!(location.priority, 5);
    assert!(location.active);
    let again = client
        .create_location(keyed(create.clone(), "grpc-location-1"))
        .await
        .unwrap();
    assert!(replayed(&again));
    assert_eq!(again.into_inner(), location);
    // Without the key it is a second attempt, and the code is taken.
    let taken = client.create_location(create).await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let no_kind = client
        .create_location(pb::CreateLocationRequest {
            code: "WH-NOKIND".into(),
            name: "No kind".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_kind.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&no_kind), ["kind"]);

    // Changed: the fields sent change, the others stay.
    let updated = client
        .update_location(pb::UpdateLocationRequest {
            id: location.id.clone(),
            name: Some("East".into()),
            kind: pb::LocationKind::Store as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name, "East");
    assert_eq!(updated.kind, pb::LocationKind::Store as i32);
    assert_eq!((updated.code.as_str(), updated.priority), ("WH-GRPC", 5));
    assert!(updated.active);
    let listed = client
        .list_locations(pb::ListLocationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .locations;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, location.id);
    assert_eq!(listed[0].name, "East");

    // Ten units arrive there.
    let variant = t.variant("GI-COUNT").await;
    let received = client
        .receive_inventory(pb::ReceiveInventoryRequest {
            variant_id: variant.to_string(),
            location_id: location.id.clone(),
            quantity: 10,
            reason: Some("first delivery".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (received.on_hand, received.location_id.as_str()),
        (10, location.id.as_str())
    );

    // A count finds 7: opened (expecting 10), recorded, read back and posted.
    let opened = client
        .open_count(keyed(
            pb::OpenCountRequest {
                location_id: location.id.clone(),
            },
            "grpc-count-open",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.status, "open");
    assert_eq!(opened.location_id, location.id);
    assert!(opened.posted_at.is_none());
    assert_eq!(opened.lines.len(), 1);
    let line = &opened.lines[0];
    assert_eq!(line.item_id, received.id);
    assert_eq!(line.variant_id, variant.to_string());
    assert_eq!(line.sku, "GI-COUNT");
    assert_eq!(
        (line.expected, line.counted, line.variance),
        (10, None, None)
    );
    let recorded = client
        .record_count(pb::RecordCountRequest {
            count_id: opened.id.clone(),
            variant_id: variant.to_string(),
            counted: 7,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (recorded.lines[0].counted, recorded.lines[0].variance),
        (Some(7), Some(-3))
    );
    let fetched = client
        .get_count(pb::GetCountRequest {
            id: opened.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.lines, recorded.lines);
    let post = pb::PostCountRequest {
        id: opened.id.clone(),
    };
    let posted = client
        .post_count(keyed(post.clone(), "grpc-count-post"))
        .await
        .unwrap();
    assert!(!replayed(&posted));
    let posted = posted.into_inner();
    assert_eq!(posted.status, "posted");
    assert!(posted.posted_at.is_some());
    // A retried post is answered again, not refused as already posted nor applied twice.
    let again = client
        .post_count(keyed(post.clone(), "grpc-count-post"))
        .await
        .unwrap();
    assert!(replayed(&again));
    assert_eq!(again.into_inner(), posted);
    let twice = client.post_count(post).await.unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let late = client
        .record_count(pb::RecordCountRequest {
            count_id: opened.id.clone(),
            variant_id: variant.to_string(),
            counted: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);

    // The record holds 7, and its ledger shows the receipt and the correction.
    assert_eq!(
        on_hand_and_reserved(&mut client, &received.id).await,
        (7, 0)
    );
    let first = client
        .list_movements(pb::ListMovementsRequest {
            item_id: received.id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.total_count, 2);
    assert_eq!(first.movements.len(), 1);
    let receipt = &first.movements[0];
    assert_eq!(receipt.kind, "receive");
    assert_eq!((receipt.on_hand_delta, receipt.reserved_delta), (10, 0));
    assert_eq!(receipt.reason.as_deref(), Some("first delivery"));
    assert_eq!(receipt.item_id, received.id);
    assert!(!receipt.actor.is_empty());
    assert!(!first.next_page_token.is_empty());
    let second = client
        .list_movements(pb::ListMovementsRequest {
            item_id: received.id.clone(),
            page_size: 1,
            page_token: first.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.movements.len(), 1);
    assert!(second.next_page_token.is_empty(), "the last page");
    let correction = &second.movements[0];
    assert_eq!(correction.kind, "count_correction");
    assert_eq!(correction.on_hand_delta, -3);
    assert_eq!(correction.reference_type.as_deref(), Some("cycle_count"));
    assert_eq!(correction.reference_id.as_deref(), Some(opened.id.as_str()));

    // Ids that are not UUIDs are refused, naming the field.
    let bad = client
        .open_count(pb::OpenCountRequest {
            location_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["location_id"]);
    let bad = client
        .record_count(pb::RecordCountRequest {
            count_id: "nope".into(),
            variant_id: variant.to_string(),
            counted: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["count_id"]);
    let bad = client
        .record_count(pb::RecordCountRequest {
            count_id: opened.id.clone(),
            variant_id: "nope".into(),
            counted: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["variant_id"]);
    let bad = client
        .get_count(pb::GetCountRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["id"]);
    let bad = client
        .post_count(pb::PostCountRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["id"]);
    let bad = client
        .list_movements(pb::ListMovementsRequest {
            item_id: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["item_id"]);
    let bad = client
        .update_location(pb::UpdateLocationRequest {
            id: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["id"]);
    let unknown = client
        .get_count(pb::GetCountRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_orders_lots_and_low_stock_over_grpc() {
    let t = TestApp::new().await;
    let mut client = inventory(t.serve_grpc().await, &t.admin);
    let location = warehouse(&mut client, "WH-PO").await;
    let variant = t.variant("GI-PO").await;

    // Twenty units ordered: on order at the location, nothing on hand yet.
    let created = client
        .create_purchase_order(keyed(
            pb::CreatePurchaseOrderRequest {
                location_id: location.id.clone(),
                supplier: "Acme Wool".into(),
                expected_at: at(1_900_000_000),
                lines: vec![pb::PurchaseOrderLineInput {
                    variant_id: variant.to_string(),
                    quantity: 20,
                }],
            },
            "grpc-po-1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(created.number.starts_with("PO-"), "{}", created.number);
    assert_eq!(created.status, "open");
    assert_eq!(created.supplier, "Acme Wool");
    assert_eq!(created.location_id, location.id);
    assert_eq!(created.expected_at, at(1_900_000_000));
    assert_eq!(created.lines.len(), 1);
    let line = created.lines[0].clone();
    assert_eq!(line.variant_id, variant.to_string());
    assert_eq!((line.quantity_ordered, line.quantity_received), (20, 0));
    let record = record_of(&mut client, "GI-PO").await;
    assert_eq!((record.on_hand, record.on_order), (0, 20));
    let fetched = client
        .get_purchase_order(pb::GetPurchaseOrderRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (fetched.number.as_str(), fetched.status.as_str()),
        (created.number.as_str(), "open")
    );
    assert_eq!(fetched.lines, created.lines);

    // Twelve arrive into a lot; the retry with the same key receives them once.
    let receipt = pb::ReceivePurchaseOrderRequest {
        id: created.id.clone(),
        lines: vec![pb::PurchaseOrderReceipt {
            line_id: line.id.clone(),
            quantity: 12,
            lot_code: Some("LOT-A".into()),
            expires_at: at(1_950_000_000),
        }],
    };
    let first = client
        .receive_purchase_order(keyed(receipt.clone(), "grpc-po-receive-1"))
        .await
        .unwrap();
    assert!(!replayed(&first));
    let partial = first.into_inner();
    assert_eq!(partial.status, "partially_received");
    assert_eq!(partial.lines[0].quantity_received, 12);
    let again = client
        .receive_purchase_order(keyed(receipt, "grpc-po-receive-1"))
        .await
        .unwrap();
    assert!(replayed(&again));
    assert_eq!(again.into_inner(), partial);
    let record = record_of(&mut client, "GI-PO").await;
    assert_eq!((record.on_hand, record.on_order), (12, 8));

    // The lot holds them, with its expiry.
    let lots = client
        .list_lots(pb::ListLotsRequest {
            item_id: record.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .lots;
    assert_eq!(lots.len(), 1);
    assert_eq!(lots[0].lot_code, "LOT-A");
    assert_eq!(lots[0].item_id, record.id);
    assert_eq!((lots[0].on_hand, lots[0].reserved), (12, 0));
    assert_eq!(lots[0].expires_at, at(1_950_000_000));
    assert!(lots[0].received_at.is_some());

    // The rest arrive without a lot, and the order is done.
    let done = client
        .receive_purchase_order(pb::ReceivePurchaseOrderRequest {
            id: created.id.clone(),
            lines: vec![pb::PurchaseOrderReceipt {
                line_id: line.id.clone(),
                quantity: 8,
                ..Default::default()
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status, "received");
    assert_eq!(done.lines[0].quantity_received, 20);
    let record = record_of(&mut client, "GI-PO").await;
    assert_eq!((record.on_hand, record.on_order), (20, 0));
    let closed = client
        .receive_purchase_order(pb::ReceivePurchaseOrderRequest {
            id: created.id.clone(),
            lines: vec![pb::PurchaseOrderReceipt {
                line_id: line.id.clone(),
                quantity: 1,
                ..Default::default()
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);

    // A reorder point above the 20 available makes it low stock; another record with plenty
    // and no reorder point is not listed.
    let plenty = t.variant("GI-PLENTY").await;
    t.stock(plenty, 50).await;
    let settings = pb::UpdateInventoryItemRequest {
        id: record.id.clone(),
        reorder_point: Some(25),
        safety_stock: Some(2),
        ..Default::default()
    };
    let updated = client
        .update_inventory_item(keyed(settings.clone(), "grpc-settings-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.reorder_point, Some(25));
    assert_eq!(updated.safety_stock, 2);
    assert_eq!(updated.reorder_quantity, None, "unset stays unset");
    assert!(updated.low_stock);
    let low = client
        .list_low_stock(pb::ListLowStockRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(low.total_count, 1);
    assert_eq!(low.items.len(), 1);
    assert_eq!(low.items[0].id, record.id);
    assert_eq!(low.items[0].sku, "GI-PO");
    assert!(low.next_page_token.is_empty());
    let unchanged = client
        .update_inventory_item(pb::UpdateInventoryItemRequest {
            id: record.id.clone(),
            reorder_quantity: Some(40),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            unchanged.reorder_point,
            unchanged.reorder_quantity,
            unchanged.safety_stock
        ),
        (Some(25), Some(40), 2)
    );

    // Bad input names its field.
    let bad = client
        .update_inventory_item(pb::UpdateInventoryItemRequest {
            id: record.id.clone(),
            reorder_point: Some(-1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["reorder_point"]);
    let bad = client
        .update_inventory_item(pb::UpdateInventoryItemRequest {
            id: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["id"]);
    let bad = client
        .create_purchase_order(pb::CreatePurchaseOrderRequest {
            location_id: location.id.clone(),
            supplier: "Acme".into(),
            lines: vec![pb::PurchaseOrderLineInput {
                variant_id: "nope".into(),
                quantity: 1,
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["lines[0].variant_id"]);
    let bad = client
        .receive_purchase_order(pb::ReceivePurchaseOrderRequest {
            id: created.id.clone(),
            lines: vec![pb::PurchaseOrderReceipt {
                line_id: "nope".into(),
                quantity: 1,
                ..Default::default()
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["lines[0].line_id"]);
    let bad = client
        .get_purchase_order(pb::GetPurchaseOrderRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["id"]);
    let bad = client
        .list_lots(pb::ListLotsRequest {
            item_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["item_id"]);
    let bad = client
        .list_low_stock(pb::ListLowStockRequest {
            page_token: "not a token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["page_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_reserve_holds_once_and_reservations_are_listed_over_grpc() {
    let t = TestApp::new().await;
    let mut client = inventory(t.serve_grpc().await, &t.admin);
    let variant = t.variant("GI-HOLD").await;
    t.stock(variant, 10).await;
    let record = record_of(&mut client, "GI-HOLD").await;

    // Three held for a cart; the retry with the same key holds nothing more.
    let reserve = pb::ReserveInventoryRequest {
        target: Some(pb::reserve_inventory_request::Target::ItemId(
            record.id.clone(),
        )),
        quantity: 3,
        reference: Some("cart-1".into()),
        ..Default::default()
    };
    let first = client
        .reserve_inventory(keyed(reserve.clone(), "grpc-reserve-1"))
        .await
        .unwrap();
    assert!(!replayed(&first));
    let made = first.into_inner().reservations;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].quantity, 3);
    assert_eq!(made[0].status, "active");
    assert_eq!(made[0].reference.as_deref(), Some("cart-1"));
    assert!(made[0].created_at.is_some());
    let retry = client
        .reserve_inventory(keyed(reserve.clone(), "grpc-reserve-1"))
        .await
        .unwrap();
    assert!(replayed(&retry));
    assert_eq!(retry.into_inner().reservations, made);
    assert_eq!(on_hand_and_reserved(&mut client, &record.id).await, (10, 3));
    // The same key with another request is refused, and holds nothing.
    let other = client
        .reserve_inventory(keyed(
            pb::ReserveInventoryRequest {
                quantity: 4,
                ..reserve.clone()
            },
            "grpc-reserve-1",
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::InvalidArgument);
    assert_eq!(on_hand_and_reserved(&mut client, &record.id).await, (10, 3));

    // A second hold, by variant, without a key.
    let second = client
        .reserve_inventory(pb::ReserveInventoryRequest {
            target: Some(pb::reserve_inventory_request::Target::VariantId(
                variant.to_string(),
            )),
            quantity: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reservations;
    assert_eq!(on_hand_and_reserved(&mut client, &record.id).await, (10, 5));

    // Both are listed, a page at a time, in the order they were made.
    let page = client
        .list_reservations(pb::ListReservationsRequest {
            item_id: record.id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.total_count, 2);
    assert_eq!(page.reservations.len(), 1);
    assert_eq!(page.reservations[0].id, made[0].id);
    assert_eq!(page.reservations[0].item_id, record.id);
    assert_eq!(page.reservations[0].variant_id, variant.to_string());
    assert_eq!(page.reservations[0].reference.as_deref(), Some("cart-1"));
    let rest = client
        .list_reservations(pb::ListReservationsRequest {
            item_id: record.id.clone(),
            page_size: 1,
            page_token: page.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.reservations.len(), 1);
    assert_eq!(rest.reservations[0].id, second[0].id);
    assert_eq!(rest.reservations[0].quantity, 2);
    assert!(rest.next_page_token.is_empty());

    // The first is released once, however often the call is retried.
    let release = pb::ReleaseReservationRequest {
        id: made[0].id.clone(),
    };
    let released = client
        .release_reservation(keyed(release.clone(), "grpc-release-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.status, "released");
    let again = client
        .release_reservation(keyed(release, "grpc-release-1"))
        .await
        .unwrap();
    assert!(replayed(&again), "answered again, not refused as released");
    assert_eq!(on_hand_and_reserved(&mut client, &record.id).await, (10, 2));
    let listed = client
        .list_reservations(pb::ListReservationsRequest {
            item_id: record.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reservations;
    let statuses: Vec<&str> = listed.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["released", "active"]);

    // An adjustment retried with its key is applied once.
    let adjust = pb::AdjustInventoryRequest {
        item_id: record.id.clone(),
        delta: 5,
        reason: "found".into(),
    };
    client
        .adjust_inventory(keyed(adjust.clone(), "grpc-adjust-1"))
        .await
        .unwrap();
    let again = client
        .adjust_inventory(keyed(adjust, "grpc-adjust-1"))
        .await
        .unwrap();
    assert!(replayed(&again));
    assert_eq!(again.into_inner().on_hand, 15);
    assert_eq!(on_hand_and_reserved(&mut client, &record.id).await, (15, 2));

    // Bad ids name their field; an unknown record is NOT_FOUND.
    let bad = client
        .list_reservations(pb::ListReservationsRequest {
            item_id: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["item_id"]);
    let unknown = client
        .list_reservations(pb::ListReservationsRequest {
            item_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
