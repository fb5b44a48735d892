//! The back office over gRPC: categories, variants and availability on CatalogService;
//! order updates, history and events on OrderService; address books and wishlists on
//! CustomerService. Every method over a real channel.

use stateset::adapters::grpc::pb;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::grpc_calls::bad_fields;
use crate::support::{BearerInterceptor, TestApp, catalog_client, product_input};

type Authed = InterceptedService<Channel, BearerInterceptor>;

fn orders(channel: &Channel, token: &str) -> pb::order_service_client::OrderServiceClient<Authed> {
    pb::order_service_client::OrderServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(Some(token.to_owned())),
    )
}

fn customers(
    channel: &Channel,
    token: &str,
) -> pb::customer_service_client::CustomerServiceClient<Authed> {
    pb::customer_service_client::CustomerServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(Some(token.to_owned())),
    )
}

fn usd(amount: &str) -> pb::Money {
    pb::Money {
        amount: amount.into(),
        currency: "USD".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_variants_and_availability_over_grpc() {
    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let mut catalog = catalog_client(channel.clone(), Some(&t.admin));

    // A category tree: a root and a child, then the child moved to the root.
    let root = catalog
        .create_category(pb::CreateCategoryRequest {
            name: "Apparel".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(root.slug, "apparel");
    assert!(root.parent_id.is_none());
    let child = catalog
        .create_category(pb::CreateCategoryRequest {
            name: "Hats".into(),
            parent_id: Some(root.id.clone()),
            position: Some(2),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(child.parent_id.as_deref(), Some(root.id.as_str()));
    let refused = catalog
        .delete_category(pb::DeleteCategoryRequest {
            id: root.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "a parent stays");
    let moved = catalog
        .update_category(pb::UpdateCategoryRequest {
            id: child.id.clone(),
            name: Some("Caps".into()),
            description: Some("Brimmed".into()),
            move_to_root: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.name, "Caps");
    assert!(moved.parent_id.is_none());
    assert_eq!(moved.description.as_deref(), Some("Brimmed"));
    let fetched = catalog
        .get_category(pb::GetCategoryRequest {
            id: child.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, moved);
    let all = catalog
        .list_categories(pb::ListCategoriesRequest {})
        .await
        .unwrap()
        .into_inner()
        .categories;
    assert_eq!(all.len(), 2);
    let bad = catalog
        .create_category(pb::CreateCategoryRequest {
            name: "Orphan".into(),
            parent_id: Some("nope".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["parent_id"]);

    // A product put in a category, given a second variant, changed and trimmed.
    let product = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("Cap", &["CAP-S"], "12.00"))
        .await
        .unwrap()
        .product;
    let placed = catalog
        .set_product_categories(pb::SetProductCategoriesRequest {
            product_id: product.id.to_string(),
            category_ids: vec![child.id.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(placed.categories.len(), 1);
    assert_eq!(placed.categories[0].name, "Caps");
    let large = catalog
        .create_variant(pb::CreateVariantRequest {
            product_id: product.id.to_string(),
            variant: Some(pb::VariantInput {
                sku: "CAP-L".into(),
                options: vec![pb::VariantOption {
                    name: "Size".into(),
                    value: "L".into(),
                }],
                price: Some(usd("14")),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(large.sku, "CAP-L");
    assert_eq!(large.price.as_ref().unwrap().amount, "14.00");
    let repriced = catalog
        .update_variant(pb::UpdateVariantRequest {
            id: large.id.clone(),
            price: Some(usd("15.5")),
            compare_at_price: Some(usd("18")),
            options: Some(pb::VariantOptionList {
                options: vec![pb::VariantOption {
                    name: "Size".into(),
                    value: "XL".into(),
                }],
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(repriced.price.unwrap().amount, "15.50");
    assert_eq!(repriced.compare_at_price.unwrap().amount, "18.00");
    assert_eq!(repriced.options[0].value, "XL");
    assert_eq!(repriced.sku, "CAP-L", "unset fields stay");
    let bad = catalog
        .update_variant(pb::UpdateVariantRequest {
            id: large.id.clone(),
            price: Some(usd("a lot")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["price.amount"]);

    // Availability per variant: one stocked, one not tracked.
    let small = t.services().catalog.get_product_detail(
        &t.ctx,
        stateset::services::catalog::ProductRef::Id(product.id),
    );
    let small = small.await.unwrap().variants[0].id;
    t.stock(small, 50).await;
    let shown = catalog
        .get_product_availability(pb::GetProductAvailabilityRequest {
            id: product.id.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .variants;
    assert_eq!(shown.len(), 2);
    let of = |sku: &str| shown.iter().find(|v| v.sku == sku).unwrap().clone();
    assert_eq!(of("CAP-S").available, Some(50));
    assert_eq!(of("CAP-S").stock_level, pb::StockLevel::InStock as i32);
    assert_eq!(of("CAP-L").available, None, "not stock-tracked");
    assert_eq!(of("CAP-L").stock_level, pb::StockLevel::InStock as i32);

    catalog
        .delete_variant(pb::DeleteVariantRequest {
            id: large.id.clone(),
        })
        .await
        .unwrap();
    let stocked = catalog
        .delete_variant(pb::DeleteVariantRequest {
            id: small.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        stocked.code(),
        Code::AlreadyExists,
        "stock on hand keeps it"
    );
    catalog
        .delete_category(pb::DeleteCategoryRequest {
            id: root.id.clone(),
        })
        .await
        .unwrap();
    let gone = catalog
        .get_category(pb::GetCategoryRequest { id: root.id })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let missing = catalog
        .get_product_availability(pb::GetProductAvailabilityRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_updates_history_and_events_over_grpc() {
    let t = TestApp::new().await;
    let tee = t.variant("BO-TEE").await;
    t.stock(tee, 5).await;
    let order_id = t.order_of(tee, "buyer@example.com").await.to_string();
    let channel = t.serve_grpc().await;
    let mut client = orders(&channel, &t.admin);

    let updated = client
        .update_order(pb::UpdateOrderRequest {
            id: order_id.clone(),
            tags: Some(pb::TagList {
                tags: vec!["vip".into(), "gift".into()],
            }),
            notes: Some("Wrap it".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.notes.as_deref(), Some("Wrap it"));
    assert!(updated.tags.contains(&"vip".to_owned()));

    // A hold sent twice with one key holds once: the retry is the first answer replayed.
    let hold = || {
        let mut request = tonic::Request::new(pb::OrderReasonRequest {
            id: order_id.clone(),
            reason: "address check".into(),
        });
        request
            .metadata_mut()
            .insert("idempotency-key", "hold-once".parse().unwrap());
        request
    };
    let held = client.hold_order(hold()).await.unwrap();
    assert_eq!(held.get_ref().status, pb::OrderStatus::OnHold as i32);
    let again = client.hold_order(hold()).await.unwrap();
    assert_eq!(again.metadata().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.get_ref(), held.get_ref());

    let history = client
        .list_order_history(pb::ListOrderHistoryRequest {
            id: order_id.clone(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.total_count, 3, "created, updated, held once");
    assert_eq!(history.entries.len(), 2);
    assert_eq!(history.entries[0].action, "created");
    let rest = client
        .list_order_history(pb::ListOrderHistoryRequest {
            id: order_id.clone(),
            page_size: 2,
            page_token: history.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.entries.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let held_entry = &rest.entries[0];
    assert_eq!(held_entry.to_status, pb::OrderStatus::OnHold as i32);
    assert_eq!(held_entry.from_status, pb::OrderStatus::Pending as i32);
    assert_eq!(held_entry.reason.as_deref(), Some("address check"));

    let events = client
        .list_order_events(pb::ListOrderEventsRequest {
            id: order_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = events.events.iter().map(|e| e.r#type.as_str()).collect();
    for wanted in ["order.created", "order.updated", "order.status_changed"] {
        assert!(types.contains(&wanted), "{wanted} in {types:?}");
    }
    assert!(
        events.events.iter().all(|e| e.entity_id == order_id),
        "only this order's events"
    );
    assert_eq!(events.next_after, events.events.last().unwrap().sequence);
    let later = client
        .list_order_events(pb::ListOrderEventsRequest {
            id: order_id.clone(),
            after: Some(events.next_after),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(later.events.is_empty());
    assert_eq!(later.next_after, events.next_after);

    let missing = client
        .list_order_history(pb::ListOrderHistoryRequest {
            id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_books_and_wishlists_over_grpc() {
    let t = TestApp::new().await;
    let tee = t.variant("WISH-TEE").await;
    let channel = t.serve_grpc().await;
    let mut client = customers(&channel, &t.admin);
    let customer = client
        .create_customer(pb::CreateCustomerRequest {
            email: "book@example.com".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let home = pb::Address {
        line1: "1 Main St".into(),
        city: "Springfield".into(),
        country: "US".into(),
        ..Default::default()
    };
    let with_home = client
        .add_customer_address(pb::AddCustomerAddressRequest {
            customer_id: customer.id.clone(),
            address: Some(home.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let entry = with_home.addresses[0].clone();
    assert!(
        entry.is_default_shipping,
        "the first address is the default"
    );
    let moved = client
        .update_customer_address(pb::UpdateCustomerAddressRequest {
            customer_id: customer.id.clone(),
            address_id: entry.id.clone(),
            address: Some(pb::Address {
                line1: "9 Elm St".into(),
                ..home.clone()
            }),
            default_shipping: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.addresses.len(), 1);
    assert_eq!(
        moved.addresses[0].address.as_ref().unwrap().line1,
        "9 Elm St"
    );
    assert!(!moved.addresses[0].is_default_shipping);
    let bad = client
        .update_customer_address(pb::UpdateCustomerAddressRequest {
            customer_id: customer.id.clone(),
            address_id: entry.id.clone(),
            address: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["address"]);
    let emptied = client
        .delete_customer_address(pb::DeleteCustomerAddressRequest {
            customer_id: customer.id.clone(),
            address_id: entry.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(emptied.addresses.is_empty());

    let wished = client
        .add_to_wishlist(pb::WishlistItemRequest {
            customer_id: customer.id.clone(),
            variant_id: tee.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(wished.wishlist_variant_ids, [tee.to_string()]);
    let unknown = client
        .add_to_wishlist(pb::WishlistItemRequest {
            customer_id: customer.id.clone(),
            variant_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&unknown), ["variant_id"]);
    let unwished = client
        .remove_from_wishlist(pb::WishlistItemRequest {
            customer_id: customer.id.clone(),
            variant_id: tee.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(unwished.wishlist_variant_ids.is_empty());
    let not_there = client
        .remove_from_wishlist(pb::WishlistItemRequest {
            customer_id: customer.id,
            variant_id: tee.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_there.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_shopper_reads_its_own_customer_record_over_grpc() {
    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let shopper = t
        .user_token(
            "shopper@example.com",
            stateset::services::auth::CUSTOMER_ROLE,
        )
        .await;
    let mut client = customers(&channel, &shopper);
    // A customer's login comes with its record.
    let mine = client
        .get_my_customer(pb::GetMyCustomerRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.email, "shopper@example.com");
    let me = pb::identity_service_client::IdentityServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(Some(shopper.clone())),
    )
    .get_current_user(pb::GetCurrentUserRequest {})
    .await
    .unwrap()
    .into_inner();
    assert_eq!(mine.user_id.as_deref(), Some(me.id.as_str()));
    let by_id = client
        .get_customer(pb::GetCustomerRequest {
            id: mine.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id, mine);
    // A login without a customer record has none to read.
    let admin = customers(&channel, &t.admin)
        .get_my_customer(pb::GetMyCustomerRequest {})
        .await
        .unwrap_err();
    assert_eq!(admin.code(), Code::NotFound);
}
