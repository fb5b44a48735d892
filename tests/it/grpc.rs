//! The gRPC door: CatalogService, status codes, health and reflection.

use stateset::adapters::grpc::pb;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{TestApp, catalog_client, product_input};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_service_lists_gets_creates_updates_deletes() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let mut client = catalog_client(t.serve_grpc().await, Some(&t.admin));

    let listed = client
        .list_products(pb::ListProductsRequest {
            page_size: 3,
            sort: pb::ProductSort::NameAsc as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_count, 8);
    assert_eq!(listed.products.len(), 3);
    assert_eq!(listed.products[0].name, "Canvas Weekender Bag");
    assert!(!listed.next_page_token.is_empty());
    let next = client
        .list_products(pb::ListProductsRequest {
            page_size: 10,
            page_token: listed.next_page_token,
            sort: pb::ProductSort::NameAsc as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.products.len(), 5);
    assert!(next.next_page_token.is_empty());

    let mug = client
        .get_product(pb::GetProductRequest {
            lookup: Some(pb::get_product_request::Lookup::Slug(
                "stoneware-coffee-mug".into(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mug.variants.len(), 2);
    assert_eq!(mug.variants[0].price.as_ref().unwrap().amount, "18.00");
    assert_eq!(mug.status, pb::ProductStatus::Active as i32);
    let attributes = mug.attributes.unwrap();
    assert!(attributes.fields.contains_key("capacity_ml"));

    let created = client
        .create_product(pb::CreateProductRequest {
            name: "Teapot".into(),
            variants: vec![pb::VariantInput {
                sku: "TEA-1".into(),
                price: Some(pb::Money {
                    amount: "32.5".into(),
                    currency: "USD".into(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.slug, "teapot");
    assert_eq!(created.status, pb::ProductStatus::Draft as i32);
    let updated = client
        .update_product(pb::UpdateProductRequest {
            id: created.id.clone(),
            name: Some("Cast Iron Teapot".into()),
            status: pb::ProductStatus::Active as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name, "Cast Iron Teapot");
    assert_eq!(updated.status, pb::ProductStatus::Active as i32);
    client
        .delete_product(pb::DeleteProductRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap();
    let gone = client
        .get_product(pb::GetProductRequest {
            lookup: Some(pb::get_product_request::Lookup::Id(created.id)),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(gone.metadata().get("x-error-code").unwrap(), "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_invalid_argument_naming_the_field() {
    let t = TestApp::new().await;
    let mut client = catalog_client(t.serve_grpc().await, Some(&t.admin));
    let err = client
        .get_product(pb::GetProductRequest {
            lookup: Some(pb::get_product_request::Lookup::Id("nope".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .create_product(pb::CreateProductRequest {
            name: "X".into(),
            variants: vec![pb::VariantInput {
                sku: "X 1".into(),
                price: Some(pb::Money {
                    amount: "abc".into(),
                    currency: "USD".into(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("variants[0].price.amount"),
        "{}",
        err.message()
    );
    let info = err.get_details_error_info().unwrap();
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("VALIDATION", "stateset.v1")
    );
    let violations = err.get_details_bad_request().unwrap().field_violations;
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert!(
        fields.contains(&"variants[0].price.amount"),
        "{violations:?}"
    );
    let err = client
        .list_products(pb::ListProductsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_size"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_describe_the_server() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "stateset.v1.CatalogService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }

    // A generic reflection client, as tools like grpcurl use it.
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let ask = |message| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    };
    let requests = futures::stream::iter(vec![
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(
            "stateset.v1.CatalogService".into(),
        )),
        ask(MessageRequest::FileByFilename(
            "google/protobuf/timestamp.proto".into(),
        )),
    ]);
    let path = axum::http::uri::PathAndQuery::from_static(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    );
    let codec =
        tonic_prost::ProstCodec::<ServerReflectionRequest, ServerReflectionResponse>::default();
    let mut responses = grpc
        .streaming(tonic::Request::new(requests), path, codec)
        .await
        .unwrap()
        .into_inner();
    let mut answers = Vec::new();
    while let Some(response) = responses.message().await.unwrap() {
        answers.push(response.message_response.unwrap());
    }
    let Some(MessageResponse::ListServicesResponse(list)) = &answers.first() else {
        panic!("no service list")
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"stateset.v1.CatalogService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
    assert!(
        matches!(&answers[1], MessageResponse::FileDescriptorResponse(f) if !f.file_descriptor_proto.is_empty())
    );
    assert!(
        matches!(&answers[2], MessageResponse::FileDescriptorResponse(f) if !f.file_descriptor_proto.is_empty()),
        "imports are served too"
    );
}

/// What a gRPC client expects of any server: `google.rpc` error details it can decode with
/// stock tooling, gzip both ways, and its request id echoed in the response metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_google_rpc_details_gzip_works_and_request_ids_are_echoed() {
    use tonic::codec::CompressionEncoding;
    let t = TestApp::new().await;
    t.seed_demo().await;
    let mut client = catalog_client(t.serve_grpc().await, Some(&t.admin))
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);

    let mut request = tonic::Request::new(pb::ListProductsRequest {
        page_size: 2,
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-request-id", "trace-me-1".parse().unwrap());
    let listed = client.list_products(request).await.unwrap();
    assert_eq!(listed.metadata().get("x-request-id").unwrap(), "trace-me-1");
    assert_eq!(
        listed.metadata().get("grpc-encoding").unwrap(),
        "gzip",
        "the answer is compressed for a client that accepts gzip"
    );
    assert_eq!(listed.into_inner().products.len(), 2);
    let unasked = client
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap();
    assert!(
        unasked.metadata().get("x-request-id").is_some(),
        "a call without one is given a request id"
    );

    let missing = client
        .get_product(pb::GetProductRequest {
            lookup: Some(pb::get_product_request::Lookup::Slug(
                "no-such-product".into(),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let info = missing.get_details_error_info().unwrap();
    assert_eq!(info.reason, "NOT_FOUND");
    assert_eq!(info.domain, "stateset.v1");
    assert_eq!(
        info.metadata.get("entity").map(String::as_str),
        Some("product")
    );
    assert!(missing.get_details_bad_request().is_none());

    let invalid = client
        .list_products(pb::ListProductsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let violations = invalid.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].field, "page_size");
    assert!(!violations[0].description.is_empty());
    assert_eq!(
        invalid.get_details_error_info().unwrap().reason,
        "VALIDATION"
    );
}

/// `EventService`: the log paged with `next_after`, and `Subscribe` replaying from a sequence
/// then going on live, as the GraphQL subscription does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_pages_and_streams_replay_then_live() {
    use futures::StreamExt as _;
    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let mut events = pb::event_service_client::EventServiceClient::with_interceptor(
        channel,
        crate::support::BearerInterceptor(Some(t.admin.clone())),
    );
    let head = events
        .list_events(pb::ListEventsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .next_after;
    for name in ["Kettle", "Teacup", "Saucer"] {
        t.services()
            .catalog
            .create_product(&t.ctx, product_input(name, &[&name.to_uppercase()], "5"))
            .await
            .unwrap();
    }
    let page = |after: i64| pb::ListEventsRequest {
        after: Some(after),
        types: vec!["product.*".into()],
        page_size: 2,
        ..Default::default()
    };
    let first = events.list_events(page(head)).await.unwrap().into_inner();
    assert_eq!(first.events.len(), 2);
    assert_eq!(first.events[0].r#type, "product.created");
    assert_eq!(first.events[0].entity_type, "product");
    let data = first.events[0].data.clone().unwrap();
    assert!(data.fields.contains_key("name"), "{data:?}");
    assert!(first.events[0].occurred_at.is_some());
    assert_eq!(first.next_after, first.events[1].sequence);
    let second = events
        .list_events(page(first.next_after))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.events.len(), 1);
    assert!(second.events[0].sequence > first.next_after);

    let mut stream = events
        .subscribe(pb::SubscribeRequest {
            after: Some(head),
            types: vec!["product.created".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(stream.next().await.unwrap().unwrap().sequence);
    }
    let replayed: Vec<i64> = first
        .events
        .iter()
        .chain(&second.events)
        .map(|e| e.sequence)
        .collect();
    assert_eq!(seen, replayed, "the log is replayed in order");
    let live = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("Teapot", &["TEAPOT"], "9"))
        .await
        .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("the live event arrives")
        .unwrap()
        .unwrap();
    assert_eq!(next.entity_id, live.product.id.to_string());
    assert!(next.sequence > seen[2], "no duplicate at the seam");

    let bad = events
        .subscribe(pb::SubscribeRequest {
            types: vec!["order*".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let violations = bad.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations[0].field, "types[0]");
    let too_many = events
        .list_events(pb::ListEventsRequest {
            page_size: 501,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        too_many.get_details_bad_request().unwrap().field_violations[0].field,
        "page_size"
    );
}

/// A call ends at its caller's deadline (`grpc-timeout`): a unary call is stopped by tonic,
/// a stream of events is ended by the server with DEADLINE_EXCEEDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_streams_end_at_the_callers_deadline() {
    use std::time::{Duration, Instant};
    let t = TestApp::new().await;
    t.seed_demo().await;
    let channel = t.serve_grpc().await;
    let mut catalog = catalog_client(channel.clone(), Some(&t.admin));

    let mut hurried = tonic::Request::new(pb::ListProductsRequest::default());
    hurried.set_timeout(Duration::from_nanos(1));
    let stopped = catalog.list_products(hurried).await.unwrap_err();
    assert_eq!(stopped.code(), Code::Cancelled, "{stopped:?}");
    assert!(stopped.message().contains("Timeout expired"), "{stopped:?}");
    let mut patient = tonic::Request::new(pb::ListProductsRequest::default());
    patient.set_timeout(Duration::from_secs(30));
    assert_eq!(
        catalog
            .list_products(patient)
            .await
            .unwrap()
            .get_ref()
            .total_count,
        8
    );

    let mut events = pb::event_service_client::EventServiceClient::with_interceptor(
        channel,
        crate::support::BearerInterceptor(Some(t.admin.clone())),
    );
    // Nothing happens, so only the deadline can end the stream.
    let mut request = tonic::Request::new(pb::SubscribeRequest {
        types: vec!["order.created".into()],
        ..Default::default()
    });
    request.set_timeout(Duration::from_millis(400));
    let opened = Instant::now();
    let mut stream = events.subscribe(request).await.unwrap().into_inner();
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the server ends the stream")
        .unwrap_err();
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
    assert!(opened.elapsed() >= Duration::from_millis(400));
    // Without a deadline the stream stays open.
    let mut open = events
        .subscribe(pb::SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        tokio::time::timeout(Duration::from_millis(600), open.message())
            .await
            .is_err(),
        "a stream without a deadline is not ended"
    );
}

/// A page of events the caller may not see still moves its cursor on, so paging with
/// `next_after` reaches what comes after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_paging_moves_past_events_the_caller_cannot_see() {
    let t = TestApp::new().await;
    let first = t.variant("SEEN-1").await;
    t.stock(first, 5).await;
    // An order's events (customer, order, stock) are staff's; products are anyone's.
    t.order_of(first, "hidden@example.com").await;
    t.variant("SEEN-2").await;
    let mut events = pb::event_service_client::EventServiceClient::with_interceptor(
        t.serve_grpc().await,
        crate::support::BearerInterceptor(None),
    );
    let (mut after, mut seen, mut empty_pages) = (0, Vec::new(), 0);
    loop {
        let page = events
            .list_events(pb::ListEventsRequest {
                after: Some(after),
                page_size: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if page.next_after == after {
            assert!(page.events.is_empty());
            break;
        }
        assert!(page.next_after > after);
        empty_pages += usize::from(page.events.is_empty());
        seen.extend(page.events.into_iter().map(|e| e.r#type));
        after = page.next_after;
    }
    assert!(
        empty_pages > 0,
        "the order's events were read and not shown"
    );
    assert!(
        seen.iter().all(|t| !t.starts_with("order.")),
        "an anonymous caller sees no order: {seen:?}"
    );
    let products = seen.iter().filter(|t| *t == "product.created").count();
    assert_eq!(
        products, 2,
        "the product after the order is reached: {seen:?}"
    );
}
