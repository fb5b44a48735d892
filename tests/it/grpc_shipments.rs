//! The gRPC door for fulfilment: an order placed over REST is planned, shipped and tracked to
//! delivery through `ShipmentService` alone (a table carrier with its rate table, rates, a
//! label bought by choice and printed, a carrier event, public tracking), with bad input as
//! `INVALID_ARGUMENT` naming the field and an `idempotency-key` retry answered once.

use axum::http::{Method, StatusCode};
use serde_json::json;
use stateset::adapters::grpc::pb;
use stateset::domain::Address;
use stateset::services::inventory::UpdateLocationInput;
use stateset::services::shipments::label::read_barcode;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::grpc_calls::{bad_fields, keyed, replayed};
use crate::support::{BearerInterceptor, TestApp};

type Authed = InterceptedService<Channel, BearerInterceptor>;
type Shipments = pb::shipment_service_client::ShipmentServiceClient<Authed>;
type Orders = pb::order_service_client::OrderServiceClient<Authed>;

fn shipments_as(channel: &Channel, token: Option<&str>) -> Shipments {
    pb::shipment_service_client::ShipmentServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(token.map(str::to_owned)),
    )
}

/// Two units of a stocked variant for a new customer, shipping to Arlington, placed over
/// REST; returns the order's id.
async fn order(t: &TestApp) -> String {
    let variant = t.variant("GRPC-SHIP-MUG").await;
    t.stock(variant, 5).await;
    let customer = t.customer("grace@example.com").await;
    let (status, order) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"customer_id": customer, "items": [{"variant_id": variant, "quantity": 2}],
                "shipping_address": {"first_name": "Grace", "last_name": "Hopper", "line1": "2 Navy Way",
                    "city": "Arlington", "region": "VA", "postal_code": "22202", "country": "US"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    order["id"].as_str().unwrap().to_owned()
}

fn service(code: &str, name: &str, days: i32, price: &str, guaranteed: bool) -> pb::ServiceRates {
    pb::ServiceRates {
        code: code.into(),
        name: name.into(),
        guaranteed,
        transit: vec![pb::ZoneTransit {
            zone: 5,
            business_days: days,
        }],
        bands: vec![pb::WeightBand {
            zone: 5,
            max_weight_grams: 10_000,
            price: price.into(),
        }],
        signature_surcharge: "3.00".into(),
        adult_signature_surcharge: "6.00".into(),
    }
}

/// One zone for the whole US; UPS Ground (4 days, 8.00) and Next Day Air (1 day, 30.00).
fn ups_table() -> pb::RateTable {
    pb::RateTable {
        currency: "USD".into(),
        dim_divisor: 5000,
        zones: vec![pb::ZoneRule {
            origin_country: "US".into(),
            origin_postal_prefix: None,
            destination_country: "US".into(),
            destination_postal_prefix: None,
            zone: 5,
        }],
        services: vec![
            service("ground", "UPS Ground", 4, "8.00", false),
            service("next_day_air", "UPS Next Day Air", 1, "30.00", true),
        ],
    }
}

fn money(m: &Option<pb::Money>) -> (&str, &str) {
    let m = m.as_ref().unwrap();
    (m.amount.as_str(), m.currency.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_rated_labelled_shipped_and_tracked_to_delivery_over_grpc() {
    let t = TestApp::new().await;
    let order_id = order(&t).await;
    let channel = t.serve_grpc().await;
    let mut shipments = shipments_as(&channel, Some(&t.admin));
    let mut orders: Orders = pb::order_service_client::OrderServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(Some(t.admin.clone())),
    );

    // One fulfilment order: both units at the one warehouse.
    let plans = shipments
        .list_order_fulfillment_orders(pb::ListOrderFulfillmentOrdersRequest {
            order_id: order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillment_orders;
    assert_eq!(plans.len(), 1, "{plans:?}");
    let plan = &plans[0];
    assert_eq!(plan.order_id, order_id);
    assert_eq!(plan.status, pb::FulfillmentOrderStatus::Open as i32);
    assert_eq!(
        plan.hold_reason,
        pb::FulfillmentHoldReason::Unspecified as i32
    );
    assert_eq!(plan.lines.len(), 1);
    assert_eq!(plan.lines[0].sku, "GRPC-SHIP-MUG");
    assert_eq!(
        (plan.lines[0].quantity, plan.lines[0].remaining_quantity),
        (2, 2)
    );
    let got = shipments
        .get_fulfillment_order(pb::GetFulfillmentOrderRequest {
            id: plan.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.id, plan.id);

    // A table carrier; its webhook secret is answered once, its table comes back whole.
    let create = pb::CreateCarrierRequest {
        code: "ups".into(),
        name: "UPS".into(),
        kind: pb::CarrierKind::Ups as i32,
        adapter: pb::CarrierAdapter::Table as i32,
        rate_table: Some(ups_table()),
        ..Default::default()
    };
    let created = shipments
        .create_carrier(create.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(created.webhook_secret.starts_with("cwhsec_"));
    let ups = created.carrier.unwrap();
    assert_eq!(ups.code, "ups");
    assert_eq!(ups.kind, pb::CarrierKind::Ups as i32);
    assert_eq!(ups.adapter, pb::CarrierAdapter::Table as i32);
    assert!(ups.enabled && !ups.has_api_key);
    assert_eq!(ups.timeout_ms, 5000);
    assert_eq!(ups.rate_table, Some(ups_table()));
    let read = shipments
        .get_carrier(pb::GetCarrierRequest { id: ups.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.rate_table, Some(ups_table()));
    // Never through the idempotency store: a retry is a second carrier with the same code.
    let again = shipments
        .create_carrier(keyed(create, "grpc-carrier-1"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    assert_eq!(bad_fields(&again), Vec::<String>::new());
    let listed = shipments
        .list_carriers(pb::ListCarriersRequest {})
        .await
        .unwrap()
        .into_inner()
        .carriers;
    assert_eq!(
        listed.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(),
        ["ups"]
    );

    // Changed: what is set changes, the rest (the table) stays; the key is never shown.
    let changed = shipments
        .update_carrier(pb::UpdateCarrierRequest {
            id: ups.id.clone(),
            name: Some("United Parcel Service".into()),
            api_key: Some("sk_ups_secret".into()),
            timeout_ms: Some(2000),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.name, "United Parcel Service");
    assert_eq!(changed.timeout_ms, 2000);
    assert!(changed.has_api_key);
    assert_eq!(changed.rate_table, Some(ups_table()));

    // Held (a typed reason and a note) and released again.
    let held = shipments
        .hold_fulfillment_order(pb::HoldFulfillmentOrderRequest {
            id: plan.id.clone(),
            reason: pb::FulfillmentHoldReason::IncorrectAddress as i32,
            note: Some("check the suite number".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.status, pb::FulfillmentOrderStatus::OnHold as i32);
    assert_eq!(
        held.hold_reason,
        pb::FulfillmentHoldReason::IncorrectAddress as i32
    );
    assert_eq!(held.hold_note.as_deref(), Some("check the suite number"));
    let released = shipments
        .release_fulfillment_order(pb::ReleaseFulfillmentOrderRequest {
            id: plan.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.status, pb::FulfillmentOrderStatus::Open as i32);
    assert_eq!(
        released.hold_reason,
        pb::FulfillmentHoldReason::Unspecified as i32
    );

    // The warehouse needs an address to ship from.
    let address = Address {
        first_name: None,
        last_name: None,
        company: Some("StateSet Fulfilment".into()),
        line1: "500 Dock Rd".into(),
        line2: None,
        city: "Reno".into(),
        region: Some("NV".into()),
        postal_code: Some("89502".into()),
        country: "US".into(),
        phone: None,
    };
    let location = plan.location_id.parse().unwrap();
    let input = UpdateLocationInput {
        address: Some(address),
        ..Default::default()
    };
    t.services()
        .inventory
        .update_location(&t.ctx, location, input)
        .await
        .unwrap();

    // A shipment of everything left, in one box; the retry with the same key answers the
    // same shipment and makes no second one.
    let create = pb::CreateShipmentRequest {
        fulfillment_order_id: plan.id.clone(),
        packages: vec![pb::ShipmentPackageInput {
            weight_grams: 400,
            length_mm: 250,
            width_mm: 200,
            height_mm: 50,
            tracking_number: None,
        }],
        ..Default::default()
    };
    let made = shipments
        .create_shipment(keyed(create.clone(), "grpc-shipment-1"))
        .await
        .unwrap();
    assert!(!replayed(&made));
    let made = made.into_inner();
    assert!(made.number.starts_with("SHP-"), "{}", made.number);
    assert_eq!(made.status, pb::ShipmentStatus::Pending as i32);
    assert_eq!(made.signature, pb::SignatureRequirement::None as i32);
    assert_eq!(made.order_id, order_id);
    assert_eq!(made.lines.len(), 1);
    assert_eq!(made.lines[0].quantity, 2);
    assert_eq!(made.packages.len(), 1);
    assert_eq!(made.packages[0].position, 1);
    assert_eq!(made.ship_to.as_ref().unwrap().city, "Arlington");
    let retried = shipments
        .create_shipment(keyed(create, "grpc-shipment-1"))
        .await
        .unwrap();
    assert!(replayed(&retried));
    assert_eq!(retried.into_inner(), made);
    let listed = shipments
        .list_shipments(pb::ListShipmentsRequest {
            order_id: Some(order_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_count, 1);
    assert_eq!(listed.shipments[0].id, made.id);
    assert!(listed.next_page_token.is_empty());

    // Rated by the table: 500 g billable (dimensional), so one band each; cheapest first.
    let rates = shipments
        .get_shipment_rates(pb::GetShipmentRatesRequest {
            id: made.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rates.shipment_id, made.id);
    let offered: Vec<(&str, &str, &str)> = rates
        .rates
        .iter()
        .map(|r| (r.carrier.as_str(), r.service.as_str(), money(&r.price).0))
        .collect();
    assert_eq!(
        offered,
        [("ups", "ground", "8.00"), ("ups", "next_day_air", "30.00")]
    );
    assert!(rates.failures.is_empty());
    assert_eq!(rates.promised_by, None, "nothing promised at checkout");
    let ground = &rates.rates[0];
    let day = chrono::NaiveDate::parse_from_str(&ground.estimated_delivery, "%Y-%m-%d").unwrap();
    assert!(day > chrono::Utc::now().date_naive());
    assert_eq!(rates.cheapest.as_ref().unwrap().service, "ground");
    assert_eq!(rates.fastest.as_ref().unwrap().service, "next_day_air");
    assert!(rates.fastest.as_ref().unwrap().guaranteed);

    // The cheapest label: the shipment takes UPS Ground, the box its tracking number.
    let labelled = shipments
        .buy_shipment_labels(pb::BuyShipmentLabelsRequest {
            id: made.id.clone(),
            choice: pb::RateChoice::Cheapest as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(labelled.carrier.as_deref(), Some("ups"));
    assert_eq!(labelled.service.as_deref(), Some("ground"));
    let package = &labelled.packages[0];
    let number = package.tracking_number.clone().unwrap();
    assert!(number.starts_with("1Z") && number.len() == 18, "{number}");
    assert_eq!(
        package.tracking_url.as_deref(),
        Some(format!("https://www.ups.com/track?tracknum={number}").as_str())
    );
    let label = package.label.as_ref().unwrap();
    assert_eq!(label.status, pb::ShippingLabelStatus::Purchased as i32);
    assert_eq!(label.tracking_number.as_deref(), Some(number.as_str()));
    assert_eq!(money(&label.price), ("8.00", "USD"));

    // The label as a PDF (package 0 means the first), its barcode the tracking number.
    let pdf = shipments
        .get_shipment_label(pb::GetShipmentLabelRequest {
            id: made.id.clone(),
            package: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pdf.package, 1);
    assert_eq!(pdf.content_type, "application/pdf");
    assert_eq!(pdf.filename, format!("{}-1.pdf", made.number));
    assert!(pdf.content.starts_with(b"%PDF-"));
    assert_eq!(read_barcode(&pdf.content).as_deref(), Ok(number.as_str()));
    let no_box = shipments
        .get_shipment_label(pb::GetShipmentLabelRequest {
            id: made.id.clone(),
            package: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(no_box.code(), Code::InvalidArgument, "{no_box:?}");
    assert_eq!(bad_fields(&no_box), ["package"]);

    // It ships: the order has shipped.
    let shipped = shipments
        .ship_shipment(pb::ShipShipmentRequest {
            id: made.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shipped.status, pb::ShipmentStatus::Shipped as i32);
    assert!(shipped.shipped_at.is_some());
    let order_status = |orders: &mut Orders| {
        let mut orders = orders.clone();
        let id = order_id.clone();
        async move {
            let lookup = Some(pb::get_order_request::Lookup::Id(id));
            orders
                .get_order(pb::GetOrderRequest { lookup })
                .await
                .unwrap()
                .into_inner()
                .status
        }
    };
    assert_eq!(
        order_status(&mut orders).await,
        pb::OrderStatus::Shipped as i32
    );

    // UPS says delivered ("D"): the shipment is delivered, and with it the order.
    let event = pb::TrackingEventInput {
        event_id: "ups-ev-1".into(),
        code: "D".into(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - 60,
            nanos: 0,
        }),
        location: Some("Arlington, VA".into()),
        description: Some("Delivered, front door".into()),
        signed_by: None,
    };
    let delivered = shipments
        .record_tracking_events(pb::RecordTrackingEventsRequest {
            id: made.id.clone(),
            events: vec![event],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(delivered.status, pb::ShipmentStatus::Delivered as i32);
    assert!(delivered.delivered_at.is_some());
    assert_eq!(
        order_status(&mut orders).await,
        pb::OrderStatus::Delivered as i32
    );
    let events = shipments
        .list_tracking_events(pb::ListTrackingEventsRequest {
            id: made.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, pb::TrackingStatus::Delivered as i32);
    assert_eq!(events[0].carrier_code, "D");
    assert_eq!(events[0].event_id, "ups-ev-1");

    // Anyone may track the number (any case, spaces too) and sees no shipment; staff see it.
    let typed = format!("{} {}", &number[..6], &number[6..]).to_lowercase();
    let mut anonymous = shipments_as(&channel, None);
    let public = anonymous
        .track_shipment(pb::TrackShipmentRequest {
            tracking_number: typed.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public.tracking_number, number);
    assert_eq!(public.carrier.as_deref(), Some("ups"));
    assert_eq!(public.status, pb::ShipmentStatus::Delivered as i32);
    assert_eq!(public.events.len(), 1);
    assert_eq!(
        public.events[0].status,
        pb::TrackingStatus::Delivered as i32
    );
    assert_eq!(public.events[0].location.as_deref(), Some("Arlington, VA"));
    assert!(public.shipment.is_none() && public.tracking_events.is_empty());
    let full = shipments
        .track_shipment(pb::TrackShipmentRequest {
            tracking_number: typed,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(full.shipment.unwrap().id, made.id);
    assert_eq!(full.tracking_events.len(), 1);
    let unknown = anonymous
        .track_shipment(pb::TrackShipmentRequest {
            tracking_number: "1Z0000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_enums_and_prices_are_invalid_argument_naming_the_field() {
    let t = TestApp::new().await;
    let mut shipments = shipments_as(&t.serve_grpc().await, Some(&t.admin));

    let err = shipments
        .get_shipment(pb::GetShipmentRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(err.metadata().get("x-error-code").unwrap(), "VALIDATION");
    assert_eq!(bad_fields(&err), ["id"]);

    let err = shipments
        .create_shipment(pb::CreateShipmentRequest {
            fulfillment_order_id: "not-a-uuid".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(bad_fields(&err), ["fulfillment_order_id"]);

    let err = shipments
        .split_fulfillment_order(pb::SplitFulfillmentOrderRequest {
            id: uuid::Uuid::now_v7().to_string(),
            lines: vec![
                pb::FulfillmentLineQuantity {
                    fulfillment_order_line_id: "x".into(),
                    quantity: 1,
                },
                pb::FulfillmentLineQuantity {
                    fulfillment_order_line_id: "y".into(),
                    quantity: 1,
                },
            ],
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        [
            "lines[0].fulfillment_order_line_id",
            "lines[1].fulfillment_order_line_id"
        ]
    );

    let err = shipments
        .hold_fulfillment_order(pb::HoldFulfillmentOrderRequest {
            id: uuid::Uuid::now_v7().to_string(),
            reason: pb::FulfillmentHoldReason::Unspecified as i32,
            note: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(bad_fields(&err), ["reason"]);

    let err = shipments
        .list_shipments(pb::ListShipmentsRequest {
            status: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["status"]);

    // Every unreadable price of a rate table at once, by its path in the message tree; then
    // what the service finds wrong with a readable one.
    let mut table = ups_table();
    table.services[0].bands[0].price = "eight".into();
    table.services[1].signature_surcharge = "3,00".into();
    let err = shipments
        .create_carrier(pb::CreateCarrierRequest {
            code: "ups".into(),
            name: "UPS".into(),
            adapter: pb::CarrierAdapter::Table as i32,
            rate_table: Some(table),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(
        bad_fields(&err),
        [
            "rate_table.services[0].bands[0].price",
            "rate_table.services[1].signature_surcharge"
        ]
    );
    let mut table = ups_table();
    table.services[0].code = "Ground!".into();
    let err = shipments
        .create_carrier(pb::CreateCarrierRequest {
            code: "ups".into(),
            name: "UPS".into(),
            adapter: pb::CarrierAdapter::Table as i32,
            rate_table: Some(table),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["rate_table.services[0].code"]);
    let err = shipments
        .create_carrier(pb::CreateCarrierRequest {
            code: "ups".into(),
            name: "UPS".into(),
            rate_table: Some(ups_table()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["adapter"]);

    // Unknown ids that parse are NOT_FOUND.
    let err = shipments
        .get_shipment(pb::GetShipmentRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}
