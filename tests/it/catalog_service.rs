//! Catalog rules, tested at the service layer.

use rust_decimal::Decimal;
use serde_json::json;
use stateset::domain::{ProductFilter, ProductSort, ProductStatus};
use stateset::services::Error;
use stateset::services::catalog::{
    CreateCategoryInput, ProductRef, UpdateCategoryInput, UpdateProductInput, UpdateVariantInput,
};
use stateset::services::events::EventQuery;
use stateset::services::page::PageRequest;

use crate::support::{TestApp, product_input};

fn page(size: i64, after: Option<String>) -> PageRequest {
    PageRequest {
        size: Some(size),
        after,
        size_field: "first",
        cursor_field: "after",
        with_total: true,
    }
}

fn fields(err: &Error) -> Vec<String> {
    match err {
        Error::Validation(fields) => fields.iter().map(|f| f.field.clone()).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_product_stores_variants_images_categories_and_writes_one_event() {
    let t = TestApp::new().await;
    let catalog = &t.services().catalog;
    let shirts = catalog
        .create_category(
            &t.ctx,
            CreateCategoryInput {
                name: "Shirts".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(shirts.slug, "shirts");
    let input = serde_json::from_value(json!({
        "name": "Classic Tee",
        "description": "Soft cotton",
        "attributes": {"material": "cotton"},
        "category_ids": [shirts.id],
        "images": [{"url": "https://img.example/tee.jpg", "alt_text": "Tee"}],
        "variants": [
            {"sku": "TEE-BLK-M", "options": [{"name": "colour", "value": "Black"}, {"name": "size", "value": "M"}],
             "price": {"amount": "19.9", "currency": "usd"}, "compare_at_price": {"amount": 25, "currency": "USD"}},
            {"sku": "TEE-BLK-L", "title": "Black Large", "price": {"amount": "19.90", "currency": "USD"}, "weight_grams": 200}
        ]
    }))
    .unwrap();
    let detail = catalog.create_product(&t.ctx, input).await.unwrap();
    let product = &detail.product;
    assert_eq!(product.slug, "classic-tee");
    assert_eq!(product.status, ProductStatus::Draft);
    assert_eq!(product.attributes, json!({"material": "cotton"}));
    assert_eq!(product.images.len(), 1);
    assert_eq!(product.categories[0].slug, "shirts");
    assert_eq!(detail.variants.len(), 2);
    let first = &detail.variants[0];
    assert_eq!(
        first.title, "Black / M",
        "title defaults to the option values"
    );
    assert_eq!(first.price.amount.to_string(), "19.90");
    assert_eq!(first.price.currency, "USD", "currency is normalised");
    assert_eq!(
        first.compare_at_price.as_ref().unwrap().amount.to_string(),
        "25.00"
    );
    assert_eq!(detail.variants[1].position, 1);

    let events = t
        .services()
        .events
        .list(
            &t.ctx,
            EventQuery {
                types: vec!["product.*".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "product.created");
    assert_eq!(events[0].entity_id, product.id);
    assert_eq!(events[0].data["variants"][0]["sku"], "TEE-BLK-M");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_names_every_bad_field_and_stores_nothing() {
    let t = TestApp::new().await;
    let input = serde_json::from_value(json!({
        "name": "  ",
        "slug": "Not A Slug",
        "attributes": [1, 2],
        "images": [{"url": "ftp://x"}],
        "variants": [
            {"sku": "OK-1", "price": {"amount": "-1", "currency": "US"}},
            {"sku": "bad sku", "price": {"amount": "1.23456", "currency": "USD"},
             "options": [{"name": "size", "value": "M"}, {"name": "Size", "value": "L"}]},
            {"sku": "OK-1", "price": {"amount": "1", "currency": "EUR"}, "compare_at_price": {"amount": "2", "currency": "USD"}}
        ]
    }))
    .unwrap();
    let err = t
        .services()
        .catalog
        .create_product(&t.ctx, input)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "VALIDATION");
    let mut got = fields(&err);
    got.sort();
    let mut want = vec![
        "name",
        "slug",
        "attributes",
        "images[0].url",
        "variants[0].price.currency",
        "variants[0].price.amount",
        "variants[1].sku",
        "variants[1].price.amount",
        "variants[1].options[1].name",
        "variants[2].compare_at_price.currency",
        "variants[2].sku",
    ];
    want.sort();
    assert_eq!(got, want);
    let page = t
        .services()
        .catalog
        .list_products(
            &t.ctx,
            ProductFilter::default(),
            ProductSort::default(),
            page(10, None),
        )
        .await
        .unwrap();
    assert_eq!(page.total_count, 0);
    let query = EventQuery {
        types: vec!["product.*".into()],
        ..Default::default()
    };
    let events = t
        .services()
        .events
        .list(&t.ctx, query)
        .await
        .unwrap()
        .events;
    assert!(events.is_empty(), "a rejected change writes no event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skus_and_slugs_are_unique_with_clear_conflicts() {
    let t = TestApp::new().await;
    let catalog = &t.services().catalog;
    let first = catalog
        .create_product(&t.ctx, product_input("Mug", &["MUG-1"], "10"))
        .await
        .unwrap();
    // A second product with the same name gets a fresh slug.
    let second = catalog
        .create_product(&t.ctx, product_input("Mug", &["MUG-2"], "10"))
        .await
        .unwrap();
    assert_eq!(first.product.slug, "mug");
    assert_eq!(second.product.slug, "mug-2");
    // A duplicate SKU is a conflict naming the variant, and nothing is stored.
    let err = catalog
        .create_product(&t.ctx, product_input("Cup", &["CUP-1", "MUG-1"], "10"))
        .await
        .unwrap_err();
    match &err {
        Error::Conflict { field, .. } => assert_eq!(field.as_deref(), Some("variants[1].sku")),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        catalog
            .get_product(&t.ctx, ProductRef::Slug("cup".into()))
            .await
            .is_err()
    );
    // An explicit slug that is taken is a conflict on `slug`.
    let mut input = product_input("Other", &["OTHER-1"], "10");
    input.slug = Some("mug".into());
    let err = catalog.create_product(&t.ctx, input).await.unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    assert_eq!(err.details()["field"], "slug");
    // Renaming a variant's SKU to a taken one is refused too.
    let variant = second.variants[0].id;
    let err = catalog
        .update_variant(
            &t.ctx,
            variant,
            UpdateVariantInput {
                sku: Some("MUG-1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_variant_and_delete_write_events_in_order() {
    let t = TestApp::new().await;
    let catalog = &t.services().catalog;
    let created = catalog
        .create_product(&t.ctx, product_input("Lamp", &["LAMP-1"], "40"))
        .await
        .unwrap();
    let id = created.product.id;
    let updated = catalog
        .update_product(
            &t.ctx,
            id,
            UpdateProductInput {
                name: Some("Desk Lamp".into()),
                status: Some(ProductStatus::Archived),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.product.name, "Desk Lamp");
    assert_eq!(
        updated.product.slug, "lamp",
        "the slug is stable across renames"
    );
    let variant = catalog
        .create_variant(
            &t.ctx,
            id,
            serde_json::from_value(
                json!({"sku": "LAMP-2", "price": {"amount": "45", "currency": "USD"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(variant.position, 1);
    let changed = catalog
        .update_variant(
            &t.ctx,
            variant.id,
            serde_json::from_value(
                json!({"price": {"amount": "39.5", "currency": "USD"}, "barcode": "0123"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(changed.price.amount, Decimal::new(3950, 2));
    assert_eq!(changed.barcode.as_deref(), Some("0123"));
    catalog.delete_variant(&t.ctx, variant.id).await.unwrap();
    catalog.delete_product(&t.ctx, id).await.unwrap();
    let err = catalog
        .get_product(&t.ctx, ProductRef::Id(id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
    assert_eq!(
        catalog.delete_product(&t.ctx, id).await.unwrap_err().code(),
        "NOT_FOUND"
    );

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
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "product.created",
            "product.updated",
            "product.updated",
            "product.updated",
            "product.updated",
            "product.deleted"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(events[3].data["variants"][1]["price"]["amount"], "39.50");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_sorts_and_pages_without_overlap() {
    let t = TestApp::new().await;
    let catalog = &t.services().catalog;
    t.seed_demo().await;
    // Keyset pages of 3 cover the 8 demo products exactly once, in name order.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = catalog
            .list_products(
                &t.ctx,
                ProductFilter::default(),
                ProductSort::NameAsc,
                page(3, after),
            )
            .await
            .unwrap();
        assert_eq!(page.total_count, 8);
        seen.extend(page.items.iter().map(|(_, p)| p.name.clone()));
        after = page.next_cursor();
        if after.is_none() {
            break;
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 8);

    let names = |page: stateset::services::page::Page<stateset::domain::Product>| {
        page.items
            .into_iter()
            .map(|(_, p)| p.name)
            .collect::<Vec<_>>()
    };
    let search = |q: &str| ProductFilter {
        query: Some(q.into()),
        ..Default::default()
    };
    let by_sku = catalog
        .list_products(
            &t.ctx,
            search("MUG-STONE-MOSS"),
            ProductSort::NameAsc,
            page(10, None),
        )
        .await
        .unwrap();
    assert_eq!(names(by_sku), ["Stoneware Coffee Mug"]);
    let by_word = catalog
        .list_products(
            &t.ctx,
            search("coffee"),
            ProductSort::NameAsc,
            page(10, None),
        )
        .await
        .unwrap();
    assert_eq!(
        names(by_word),
        ["Pour-Over Coffee Set", "Stoneware Coffee Mug"]
    );
    let by_description = catalog
        .list_products(&t.ctx, search("wool"), ProductSort::NameAsc, page(10, None))
        .await
        .unwrap();
    assert_eq!(
        names(by_description),
        ["Merino Crew Sweater", "Wool Beanie"]
    );

    let categories = catalog.list_categories(&t.ctx).await.unwrap();
    let apparel = categories.iter().find(|c| c.slug == "apparel").unwrap().id;
    let in_apparel = ProductFilter {
        category_id: Some(apparel),
        ..Default::default()
    };
    let apparel_page = catalog
        .list_products(&t.ctx, in_apparel, ProductSort::NameAsc, page(10, None))
        .await
        .unwrap();
    assert_eq!(
        names(apparel_page),
        [
            "Classic Cotton Tee",
            "Everyday Zip Hoodie",
            "Merino Crew Sweater"
        ],
        "a category includes its subcategories"
    );

    let priced = ProductFilter {
        min_price: Some(Decimal::new(60, 0)),
        max_price: Some(Decimal::new(100, 0)),
        ..Default::default()
    };
    let priced_page = catalog
        .list_products(&t.ctx, priced, ProductSort::NameAsc, page(10, None))
        .await
        .unwrap();
    assert_eq!(
        names(priced_page),
        ["Everyday Zip Hoodie", "Merino Crew Sweater"]
    );

    let err = catalog
        .list_products(
            &t.ctx,
            ProductFilter::default(),
            ProductSort::NameAsc,
            page(101, None),
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["first"]);
    let err = catalog
        .list_products(
            &t.ctx,
            ProductFilter::default(),
            ProductSort::NameAsc,
            page(5, Some("garbage".into())),
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["after"]);
    let first_page = catalog
        .list_products(
            &t.ctx,
            ProductFilter::default(),
            ProductSort::NameAsc,
            page(2, None),
        )
        .await
        .unwrap();
    let err = catalog
        .list_products(
            &t.ctx,
            ProductFilter::default(),
            ProductSort::CreatedAtDesc,
            page(2, first_page.next_cursor()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["after"],
        "a cursor belongs to its sort order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_category_tree_stays_a_tree() {
    let t = TestApp::new().await;
    let catalog = &t.services().catalog;
    let make = |name: &str, parent| CreateCategoryInput {
        name: name.into(),
        parent_id: parent,
        ..Default::default()
    };
    let root = catalog
        .create_category(&t.ctx, make("Home", None))
        .await
        .unwrap();
    let child = catalog
        .create_category(&t.ctx, make("Kitchen", Some(root.id)))
        .await
        .unwrap();
    let grandchild = catalog
        .create_category(&t.ctx, make("Mugs", Some(child.id)))
        .await
        .unwrap();
    let err = catalog
        .update_category(
            &t.ctx,
            root.id,
            UpdateCategoryInput {
                parent_id: Some(grandchild.id),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["parent_id"]);
    let err = catalog
        .update_category(
            &t.ctx,
            root.id,
            UpdateCategoryInput {
                parent_id: Some(root.id),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["parent_id"]);
    let err = catalog.delete_category(&t.ctx, child.id).await.unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    let moved = catalog
        .update_category(
            &t.ctx,
            grandchild.id,
            UpdateCategoryInput {
                move_to_root: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.parent_id, None);
    catalog.delete_category(&t.ctx, child.id).await.unwrap();
    let err = catalog
        .create_category(&t.ctx, make("Home", None))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT", "category slugs are unique");
    let mut input = product_input("Thing", &["THING-1"], "1");
    input.category_ids = vec![child.id];
    let err = t
        .services()
        .catalog
        .create_product(&t.ctx, input)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["category_ids[0]"]);
}
