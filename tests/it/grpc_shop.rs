//! The shop over gRPC: PricingService sets the rules, CartService fills a guest cart,
//! CheckoutService turns it into a paid order, every method over a real channel.

use stateset::adapters::grpc::pb;
use stateset::services::auth::CUSTOMER_ROLE;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::grpc_calls::bad_fields;
use crate::support::{BearerInterceptor, TestApp};

type Authed = InterceptedService<Channel, BearerInterceptor>;

fn pricing(
    channel: &Channel,
    token: Option<&str>,
) -> pb::pricing_service_client::PricingServiceClient<Authed> {
    pb::pricing_service_client::PricingServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(token.map(str::to_owned)),
    )
}

fn carts(
    channel: &Channel,
    token: Option<&str>,
) -> pb::cart_service_client::CartServiceClient<Authed> {
    pb::cart_service_client::CartServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(token.map(str::to_owned)),
    )
}

fn checkouts(
    channel: &Channel,
    token: Option<&str>,
) -> pb::checkout_service_client::CheckoutServiceClient<Authed> {
    pb::checkout_service_client::CheckoutServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(token.map(str::to_owned)),
    )
}

fn amount(m: &Option<pb::Money>) -> &str {
    &m.as_ref().expect("money").amount
}

fn line(variant: uuid::Uuid, quantity: i32) -> pb::CartLineInput {
    pb::CartLineInput {
        variant_id: variant.to_string(),
        quantity,
    }
}

fn california() -> pb::Address {
    pb::Address {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        line1: "1 Main St".into(),
        city: "San Jose".into(),
        region: Some("CA".into()),
        postal_code: Some("95113".into()),
        country: "US".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pricing_service_creates_lists_and_deletes_the_rules() {
    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let mut admin = pricing(&channel, Some(&t.admin));

    let method = admin
        .create_shipping_method(pb::CreateShippingMethodRequest {
            name: "By weight".into(),
            carrier: "UPS".into(),
            service: "Ground".into(),
            countries: vec!["us".into()],
            kind: pb::RateKind::Weight as i32,
            bands: vec![
                pb::RateBand {
                    up_to: "1000".into(),
                    rate: "4.5".into(),
                },
                pb::RateBand {
                    up_to: "5000".into(),
                    rate: "9".into(),
                },
            ],
            free_over: Some("100".into()),
            currency: "usd".into(),
            min_days: 1,
            max_days: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(method.kind, pb::RateKind::Weight as i32);
    assert_eq!(method.countries, ["US"]);
    assert_eq!(method.currency, "USD");
    assert_eq!(method.bands[1].up_to, "5000");
    assert_eq!(method.free_over.as_deref(), Some("100"));
    assert!(method.active, "active unless told otherwise");

    let rate = admin
        .create_tax_rate(pb::CreateTaxRateRequest {
            name: "CA".into(),
            country: "US".into(),
            region: Some("CA".into()),
            rate: "7.25".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rate.rate, "7.25");
    assert!(rate.applies_to_shipping && !rate.prices_include_tax);
    let again = admin
        .create_tax_rate(pb::CreateTaxRateRequest {
            name: "CA again".into(),
            country: "US".into(),
            region: Some("CA".into()),
            rate: "8".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    let starts = prost_types::Timestamp {
        seconds: 1_900_000_000,
        nanos: 0,
    };
    let code = admin
        .create_discount_code(pb::CreateDiscountCodeRequest {
            code: "spring-10".into(),
            kind: pb::DiscountKind::Percentage as i32,
            value: Some("10".into()),
            starts_at: Some(starts),
            usage_limit: Some(50),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code.code, "SPRING-10");
    assert_eq!(code.kind, pb::DiscountKind::Percentage as i32);
    assert_eq!(code.starts_at.unwrap().seconds, 1_900_000_000);
    assert_eq!(code.usage_limit, Some(50));
    assert_eq!(code.times_used, 0);

    let methods = admin
        .list_shipping_methods(pb::ListShippingMethodsRequest {})
        .await
        .unwrap()
        .into_inner()
        .shipping_methods;
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].id, method.id);
    let rates = admin
        .list_tax_rates(pb::ListTaxRatesRequest {})
        .await
        .unwrap()
        .into_inner()
        .tax_rates;
    assert_eq!(rates.len(), 1);
    let codes = admin
        .list_discount_codes(pb::ListDiscountCodesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .discount_codes;
    assert_eq!(codes.len(), 1);

    // Bad input is named by field: an unset kind, a band that is not a number.
    let refused = admin
        .create_shipping_method(pb::CreateShippingMethodRequest {
            name: "Broken".into(),
            carrier: "UPS".into(),
            service: "Ground".into(),
            currency: "USD".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&refused), ["kind"]);
    let refused = admin
        .create_shipping_method(pb::CreateShippingMethodRequest {
            name: "Broken".into(),
            carrier: "UPS".into(),
            service: "Ground".into(),
            kind: pb::RateKind::Value as i32,
            bands: vec![pb::RateBand {
                up_to: "lots".into(),
                rate: "1".into(),
            }],
            currency: "USD".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["bands[0].up_to"]);
    let refused = admin
        .create_discount_code(pb::CreateDiscountCodeRequest {
            code: "WEIRD".into(),
            kind: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["kind"]);
    assert!(refused.message().contains("discount kind"), "{refused:?}");

    // Customers may not change the rules.
    let customer = t.user_token("pat@example.com", CUSTOMER_ROLE).await;
    let denied = pricing(&channel, Some(&customer))
        .delete_tax_rate(pb::DeleteTaxRateRequest {
            id: rate.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    admin
        .delete_shipping_method(pb::DeleteShippingMethodRequest {
            id: method.id.clone(),
        })
        .await
        .unwrap();
    admin
        .delete_tax_rate(pb::DeleteTaxRateRequest { id: rate.id })
        .await
        .unwrap();
    admin
        .delete_discount_code(pb::DeleteDiscountCodeRequest { id: code.id })
        .await
        .unwrap();
    let gone = admin
        .delete_shipping_method(pb::DeleteShippingMethodRequest { id: method.id })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let left = admin
        .list_discount_codes(pb::ListDiscountCodesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(left.discount_codes.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_fills_a_cart_and_checks_out_over_grpc() {
    let t = TestApp::new().await;
    let (tee, cap) = (t.variant("GRPC-TEE").await, t.variant("GRPC-CAP").await);
    t.stock(tee, 5).await;
    t.stock(cap, 5).await;
    let channel = t.serve_grpc().await;
    let mut admin = pricing(&channel, Some(&t.admin));
    admin
        .create_shipping_method(pb::CreateShippingMethodRequest {
            name: "Standard".into(),
            carrier: "USPS".into(),
            service: "Ground".into(),
            countries: vec!["US".into()],
            kind: pb::RateKind::Flat as i32,
            rate: Some("5".into()),
            currency: "USD".into(),
            min_days: 2,
            max_days: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    admin
        .create_tax_rate(pb::CreateTaxRateRequest {
            name: "CA".into(),
            country: "US".into(),
            region: Some("CA".into()),
            rate: "10".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    // A guest (no credentials) opens a cart and changes its lines.
    let mut guest_carts = carts(&channel, None);
    let cart = guest_carts
        .create_cart(pb::CreateCartRequest {
            items: vec![line(tee, 1)],
            customer_id: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cart.status, pb::CartStatus::Active as i32);
    assert!(cart.customer_id.is_none());
    assert!(!cart.token.is_empty());
    let by_token = || cart.token.clone();
    // Adding twice with one idempotency key adds once.
    let mut add = tonic::Request::new(pb::AddCartItemRequest {
        cart: by_token(),
        item: Some(line(cap, 2)),
    });
    add.metadata_mut()
        .insert("idempotency-key", "add-cap-1".parse().unwrap());
    let added = guest_carts.add_cart_item(add).await.unwrap();
    assert!(added.metadata().get("idempotent-replayed").is_none());
    let mut retry = tonic::Request::new(pb::AddCartItemRequest {
        cart: by_token(),
        item: Some(line(cap, 2)),
    });
    retry
        .metadata_mut()
        .insert("idempotency-key", "add-cap-1".parse().unwrap());
    let replayed = guest_carts.add_cart_item(retry).await.unwrap();
    assert_eq!(
        replayed.metadata().get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(replayed.get_ref(), added.get_ref());
    let cart = added.into_inner();
    assert_eq!(cart.item_count, 3);
    let cap_line = cart.items.iter().find(|i| i.sku == "GRPC-CAP").unwrap();
    let cart = guest_carts
        .update_cart_item(pb::UpdateCartItemRequest {
            cart: by_token(),
            item_id: cap_line.id.clone(),
            quantity: 4,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cart.item_count, 5);
    let cart = guest_carts
        .remove_cart_item(pb::RemoveCartItemRequest {
            cart: by_token(),
            item_id: cap_line.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cart.items.len(), 1);
    let cart = guest_carts
        .add_cart_item(pb::AddCartItemRequest {
            cart: by_token(),
            item: Some(line(tee, 1)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cart.items[0].quantity, 2);
    assert_eq!(amount(&cart.subtotal), "6.00");
    let fetched = guest_carts
        .get_cart(pb::GetCartRequest { cart: by_token() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.id, cart.id);
    assert!(fetched.purchasable);

    // Bad lines are named by field; a cart nobody holds is not found.
    let refused = guest_carts
        .create_cart(pb::CreateCartRequest {
            items: vec![pb::CartLineInput {
                variant_id: "not-a-uuid".into(),
                quantity: 1,
            }],
            customer_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&refused), ["items[0].variant_id"]);
    let refused = guest_carts
        .add_cart_item(pb::AddCartItemRequest {
            cart: by_token(),
            item: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["item"]);
    let missing = guest_carts
        .get_cart(pb::GetCartRequest {
            cart: "no-such-token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // Checkout: email, address, shipping, card, completion.
    let mut guest_checkout = checkouts(&channel, None);
    let started = guest_checkout
        .start_checkout(pb::StartCheckoutRequest {
            cart_id: by_token(),
            email: Some("guest@example.com".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.status, pb::CheckoutStatus::Open as i32);
    assert_eq!(started.missing, ["shipping_address", "payment_token"]);
    let not_yet = guest_checkout
        .list_shipping_options(pb::ListShippingOptionsRequest {
            id: started.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_yet.code(), Code::FailedPrecondition);
    let addressed = guest_checkout
        .update_checkout(pb::UpdateCheckoutRequest {
            id: started.id.clone(),
            shipping_address: Some(california()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        addressed.email.as_deref(),
        Some("guest@example.com"),
        "unset fields stay"
    );
    assert_eq!(
        addressed.shipping_address.unwrap().region.as_deref(),
        Some("CA")
    );
    let options = guest_checkout
        .list_shipping_options(pb::ListShippingOptionsRequest {
            id: started.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .options;
    assert_eq!(options.len(), 1);
    assert_eq!(amount(&options[0].price), "5.00");
    let token = crate::checkout::token(&t, "4242 4242 4242 4242").await;
    let ready = guest_checkout
        .update_checkout(pb::UpdateCheckoutRequest {
            id: started.id.clone(),
            shipping_method_id: Some(options[0].method_id.clone()),
            payment_token: Some(token),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ready.missing.is_empty(), "{:?}", ready.missing);
    let totals = ready.totals.clone().unwrap();
    assert_eq!(amount(&totals.subtotal), "6.00");
    assert_eq!(amount(&totals.shipping_total), "5.00");
    assert_eq!(amount(&totals.tax_total), "1.10");
    assert_eq!(amount(&totals.total), "12.10");
    assert_eq!(ready.payment_method.unwrap().last4, "4242");
    let bad = guest_checkout
        .update_checkout(pb::UpdateCheckoutRequest {
            id: started.id.clone(),
            shipping_method_id: Some("nope".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["shipping_method_id"]);

    let done = guest_checkout
        .complete_checkout(pb::CompleteCheckoutRequest {
            id: started.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let order = done.order.unwrap();
    assert_eq!(amount(&order.total), "12.10");
    assert_eq!(order.email, "guest@example.com");
    let payment = done.payment.unwrap();
    assert_eq!(payment.status, pb::PaymentStatus::Captured as i32);
    assert_eq!(amount(&payment.captured), "12.10");
    let completed = done.checkout.unwrap();
    assert_eq!(completed.status, pb::CheckoutStatus::Completed as i32);
    assert_eq!(completed.order_id.as_deref(), Some(order.id.as_str()));
    // A repeat returns the same order, charged once.
    let again = guest_checkout
        .complete_checkout(pb::CompleteCheckoutRequest {
            id: started.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.order.unwrap().id, order.id);
    let fetched = guest_checkout
        .get_checkout(pb::GetCheckoutRequest { id: started.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.status, pb::CheckoutStatus::Completed as i32);
    let converted = guest_carts
        .get_cart(pb::GetCartRequest { cart: by_token() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(converted.status, pb::CartStatus::Converted as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_customer_merges_a_guest_cart_over_grpc() {
    let t = TestApp::new().await;
    let tee = t.variant("MERGE-TEE").await;
    t.stock(tee, 10).await;
    let channel = t.serve_grpc().await;
    let guest = carts(&channel, None)
        .create_cart(pb::CreateCartRequest {
            items: vec![line(tee, 2)],
            customer_id: None,
        })
        .await
        .unwrap()
        .into_inner();

    // Merging needs a signed-in customer.
    let anonymous = carts(&channel, None)
        .merge_cart(pb::MergeCartRequest {
            token: guest.token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let customer = t.user_token("shopper@example.com", CUSTOMER_ROLE).await;
    let mut own = carts(&channel, Some(&customer));
    let mine = own
        .create_cart(pb::CreateCartRequest {
            items: vec![line(tee, 1)],
            customer_id: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(mine.customer_id.is_some());
    let merged = own
        .merge_cart(pb::MergeCartRequest {
            token: guest.token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.id, mine.id);
    assert_eq!(merged.item_count, 3);
    let left = carts(&channel, None)
        .get_cart(pb::GetCartRequest { cart: guest.token })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.status, pb::CartStatus::Merged as i32);
}

/// A client with no generated code learns the surface from reflection, sets up a shop (product,
/// warehouse, stock, shipping, tax) and takes a guest from an empty cart to a paid order,
/// watching the order arrive on the event stream: nothing but gRPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflection_only_client_places_an_order_and_hears_of_it() {
    use futures::StreamExt as _;
    use serde_json::json;

    let t = TestApp::new().await;
    let grpc = crate::support::reflection::ReflectionClient::discover(t.serve_grpc().await).await;
    for service in [
        "stateset.v1.CatalogService",
        "stateset.v1.CartService",
        "stateset.v1.CheckoutService",
        "stateset.v1.PricingService",
        "stateset.v1.PaymentService",
        "stateset.v1.OrderService",
        "stateset.v1.InventoryService",
        "stateset.v1.IdentityService",
        "stateset.v1.EventService",
    ] {
        assert!(
            grpc.services().iter().any(|s| s == service),
            "{service} is not listed: {:?}",
            grpc.services()
        );
    }
    let admin = Some(t.admin.as_str());

    // The shop: one product, stock, flat shipping and a California tax.
    let product = grpc
        .call(
            "CatalogService/CreateProduct",
            json!({"name": "Reflected Tee", "status": "PRODUCT_STATUS_ACTIVE",
                "variants": [{"sku": "REFL-TEE", "price": {"amount": "3.00", "currency": "USD"}}]}),
            admin,
        )
        .await
        .unwrap();
    let variant = product["variants"][0]["id"].as_str().unwrap().to_owned();
    let warehouse = grpc
        .call(
            "InventoryService/CreateLocation",
            json!({"code": "REFL-WH", "name": "Reflected warehouse", "kind": "LOCATION_KIND_WAREHOUSE"}),
            admin,
        )
        .await
        .unwrap();
    let stock = grpc
        .call(
            "InventoryService/ReceiveInventory",
            json!({"variant_id": variant, "location_id": warehouse["id"], "quantity": 5}),
            admin,
        )
        .await
        .unwrap();
    assert_eq!(stock["available"], 5, "{stock}");
    grpc.call(
        "PricingService/CreateShippingMethod",
        json!({"name": "Standard", "carrier": "USPS", "service": "Ground", "countries": ["US"],
            "kind": "RATE_KIND_FLAT", "rate": "5", "currency": "USD", "min_days": 2, "max_days": 5}),
        admin,
    )
    .await
    .unwrap();
    grpc.call(
        "PricingService/CreateTaxRate",
        json!({"name": "CA", "country": "US", "region": "CA", "rate": "10"}),
        admin,
    )
    .await
    .unwrap();

    // Staff watch orders being created, live.
    let mut orders = grpc
        .stream(
            "EventService/Subscribe",
            json!({"types": ["order.created"]}),
            admin,
        )
        .await
        .unwrap();

    // The guest, with no credentials at all.
    let cart = grpc
        .call(
            "CartService/CreateCart",
            json!({"items": [{"variant_id": variant, "quantity": 2}]}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(cart["status"], "CART_STATUS_ACTIVE");
    let checkout = grpc
        .call(
            "CheckoutService/StartCheckout",
            json!({"cart_id": cart["token"], "email": "reflected@example.com"}),
            None,
        )
        .await
        .unwrap();
    let id = checkout["id"].as_str().unwrap().to_owned();
    grpc.call(
        "CheckoutService/UpdateCheckout",
        json!({"id": id, "shipping_address": {"line1": "1 Main St", "city": "San Jose",
            "region": "CA", "postal_code": "95113", "country": "US"}}),
        None,
    )
    .await
    .unwrap();
    let options = grpc
        .call(
            "CheckoutService/ListShippingOptions",
            json!({"id": id}),
            None,
        )
        .await
        .unwrap();
    let card = grpc
        .call(
            "PaymentService/CreatePaymentToken",
            json!({"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(card["last4"], "4242");
    assert!(card["id"].as_str().unwrap().starts_with("tok_"), "{card}");
    let ready = grpc
        .call(
            "CheckoutService/UpdateCheckout",
            json!({"id": id, "shipping_method_id": options["options"][0]["method_id"],
                "payment_token": card["id"]}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(ready["totals"]["total"]["amount"], "12.10", "{ready}");
    let done = grpc
        .call("CheckoutService/CompleteCheckout", json!({"id": id}), None)
        .await
        .unwrap();
    let order_id = done["order"]["id"].as_str().unwrap().to_owned();
    assert_eq!(done["order"]["total"]["amount"], "12.10");
    assert_eq!(done["payment"]["status"], "PAYMENT_STATUS_CAPTURED");

    // Staff read the order and hear of it on the stream.
    let order = grpc
        .call("OrderService/GetOrder", json!({"id": order_id}), admin)
        .await
        .unwrap();
    assert_eq!(order["email"], "reflected@example.com");
    assert_eq!(order["items"][0]["sku"], "REFL-TEE");
    assert_eq!(order["items"][0]["quantity"], 2);
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), orders.next())
        .await
        .expect("the order's event arrives")
        .expect("the stream stays open")
        .unwrap();
    assert_eq!(event["type"], "order.created");
    assert_eq!(event["entity_id"], order_id);
    // The two tees are held for the order at the warehouse they came into.
    let held = grpc
        .call(
            "InventoryService/GetInventoryItem",
            json!({"id": stock["id"]}),
            admin,
        )
        .await
        .unwrap();
    assert_eq!(held["available"], 3, "{held}");

    // Bad input reaches a dynamic client as a standard status too.
    let refused = grpc
        .call("CartService/GetCart", json!({"cart": ""}), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
}
