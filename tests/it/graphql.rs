//! The GraphQL door: queries, mutations, error codes, DataLoader batching, GraphiQL.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::{Auth, TestApp, product_input};

const PRODUCTS_WITH_VARIANTS: &str = r#"
query($first: Int!) {
  products(first: $first, sort: NAME_ASC) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name slug variants { sku price { amount currency } } } }
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_of_a_list_load_in_a_constant_number_of_queries() {
    let t = TestApp::new().await;
    for i in 0..20 {
        let skus = [format!("P{i}-A"), format!("P{i}-B"), format!("P{i}-C")];
        let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
        t.services()
            .catalog
            .create_product(
                &t.ctx,
                product_input(&format!("Product {i:02}"), &skus, "5"),
            )
            .await
            .unwrap();
    }
    let count = |first: i64| {
        let t = &t;
        async move {
            let before = t.app.db.statements_executed();
            let body = t
                .graphql_as(
                    &Auth::Anonymous,
                    PRODUCTS_WITH_VARIANTS,
                    json!({ "first": first }),
                )
                .await;
            assert!(body.get("errors").is_none(), "{body}");
            let edges = body["data"]["products"]["edges"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(edges.len() as i64, first);
            assert!(
                edges
                    .iter()
                    .all(|e| e["node"]["variants"].as_array().unwrap().len() == 3)
            );
            t.app.db.statements_executed() - before
        }
    };
    // The fewest of a few runs: under a loaded machine a loader batch can split in two, which
    // says nothing about N+1.
    let fewest = |first: i64| async move {
        let mut least = u64::MAX;
        for _ in 0..3 {
            least = least.min(count(first).await);
        }
        least
    };
    let for_two = fewest(2).await;
    let for_twenty = fewest(20).await;
    // N+1 would add at least 18 statements for 18 more products; a batch that split under
    // load (every run of three) adds one per loader, never more.
    assert!(
        for_twenty <= for_two + 2,
        "statement count must not grow with the page size: {for_two} for 2, {for_twenty} for 20"
    );
    assert!(
        for_twenty <= 10,
        "listing 20 products with variants took {for_twenty} statements"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_read_through_graphql() {
    let t = TestApp::new().await;
    let body = t
        .graphql(
            r#"mutation($input: CreateProductInput!) {
                createProduct(input: $input) { id slug status attributes variants { sku title options { name value } compareAtPrice { amount } } }
            }"#,
            json!({ "input": {
                "name": "Linen Shirt",
                "status": "ACTIVE",
                "attributes": { "material": "linen" },
                "variants": [{ "sku": "LIN-S", "options": [{"name": "size", "value": "S"}],
                               "price": { "amount": "59.00", "currency": "EUR" },
                               "compareAtPrice": { "amount": "79", "currency": "EUR" } }]
            }}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let created = &body["data"]["createProduct"];
    assert_eq!(created["slug"], "linen-shirt");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["attributes"]["material"], "linen");
    assert_eq!(created["variants"][0]["title"], "S");
    assert_eq!(created["variants"][0]["compareAtPrice"]["amount"], "79.00");

    let by_slug = t
        .graphql(r#"{ product(slug: "linen-shirt") { id name } }"#, json!({}))
        .await;
    assert_eq!(by_slug["data"]["product"]["id"], created["id"]);

    let id = created["id"].as_str().unwrap();
    let variant = t
        .graphql(
            r#"mutation($id: UUID!) { createProductVariant(productId: $id, input: {sku: "LIN-M", price: {amount: "59", currency: "EUR"}}) { sku position } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(variant["data"]["createProductVariant"]["position"], 1);
    let deleted = t
        .graphql(
            r#"mutation($id: UUID!) { deleteProduct(id: $id) { deletedId } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteProduct"]["deletedId"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_codes_and_field_paths() {
    let t = TestApp::new().await;
    let missing = t
        .graphql(
            r#"{ product(id: "00000000-0000-0000-0000-000000000000") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(missing["errors"][0]["path"][0], "product");

    let invalid = t
        .graphql(
            r#"mutation { createProduct(input: {name: "X", variants: [{sku: "X-1", price: {amount: "1", currency: "USD"}, compareAtPrice: {amount: "2", currency: "EUR"}}]}) { id } }"#,
            json!({}),
        )
        .await;
    let extensions = &invalid["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "VALIDATION");
    assert_eq!(
        extensions["fields"][0]["field"],
        "variants[0].compareAtPrice.currency"
    );

    t.services()
        .catalog
        .create_product(&t.ctx, product_input("A", &["DUP-1"], "1"))
        .await
        .unwrap();
    let conflict = t
        .graphql(r#"mutation { createProduct(input: {name: "B", variants: [{sku: "DUP-1", price: {amount: "1", currency: "USD"}}]}) { id } }"#, json!({}))
        .await;
    assert_eq!(conflict["errors"][0]["extensions"]["code"], "CONFLICT");

    let malformed = t
        .graphql(r#"{ product(id: "not-a-uuid") { id } }"#, json!({}))
        .await;
    assert_eq!(
        malformed["errors"][0]["extensions"]["code"], "VALIDATION",
        "{malformed}"
    );
    let unknown_field = t.graphql(r#"{ products { nope } }"#, json!({})).await;
    assert_eq!(
        unknown_field["errors"][0]["extensions"]["code"],
        "VALIDATION"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_serves_graphiql_to_browsers_and_queries_to_clients() {
    let t = TestApp::new().await;
    let request = Request::get("/graphql")
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = t.request(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("graphiql"));

    t.seed_demo().await;
    let (status, body) = t
        .json(
            Method::GET,
            "/graphql?query=%7Bproducts(first%3A2)%7BtotalCount%7D%7D",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["products"]["totalCount"], 8);
}
