//! The gRPC door: CatalogService, status codes, health and reflection.

use stateset::adapters::grpc::pb;
use tonic::Code;

use crate::support::{TestApp, catalog_client};

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
    let details: serde_json::Value = serde_json::from_slice(err.details()).unwrap();
    assert_eq!(details["code"], "VALIDATION");
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
