//! `stateset seed --demo`: a small, working shop so a new user can browse and buy at once.
//!
//! A catalog with stock, shipping methods and tax rates for the demo's countries (the US and
//! Canada) and one discount code. Goes through the services like any client, so the rules and
//! events apply; running it twice changes nothing (what exists already, by slug, shipping
//! method name, tax zone or code, is skipped).

use rust_decimal::Decimal;
use serde_json::json;

use crate::domain::{DiscountKind, LocationKind, Money, ProductStatus, RateKind, VariantOption};
use crate::services::catalog::{
    CreateCategoryInput, CreateProductInput, CreateVariantInput, ImageInput, ProductRef,
};
use crate::services::inventory::{CreateLocationInput, ReceiveInput};
use crate::services::pricing::{
    CreateDiscountCodeInput, CreateShippingMethodInput, CreateTaxRateInput,
};
use crate::services::{Ctx, Error, Services};

/// What the seed did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub categories_created: usize,
    pub products_created: usize,
    pub shipping_methods_created: usize,
    pub tax_rates_created: usize,
    pub discount_codes_created: usize,
}

/// A demo variant: `(sku, [(option name, value)], price in cents)`.
type DemoVariant = (&'static str, Vec<(&'static str, &'static str)>, i64);

struct DemoProduct {
    name: &'static str,
    slug: &'static str,
    description: &'static str,
    category: &'static str,
    attributes: serde_json::Value,
    variants: Vec<DemoVariant>,
}

fn usd(cents: i64) -> Money {
    Money {
        amount: Decimal::new(cents, 2),
        currency: "USD".into(),
    }
}

fn demo_products() -> Vec<DemoProduct> {
    vec![
        DemoProduct {
            name: "Classic Cotton Tee",
            slug: "classic-cotton-tee",
            description: "A heavyweight organic cotton t-shirt with a relaxed fit.",
            category: "t-shirts",
            attributes: json!({"material": "organic cotton", "fit": "relaxed"}),
            variants: vec![
                (
                    "TEE-CLASSIC-BLK-S",
                    vec![("colour", "Black"), ("size", "S")],
                    2500,
                ),
                (
                    "TEE-CLASSIC-BLK-M",
                    vec![("colour", "Black"), ("size", "M")],
                    2500,
                ),
                (
                    "TEE-CLASSIC-BLK-L",
                    vec![("colour", "Black"), ("size", "L")],
                    2500,
                ),
                (
                    "TEE-CLASSIC-WHT-M",
                    vec![("colour", "White"), ("size", "M")],
                    2500,
                ),
            ],
        },
        DemoProduct {
            name: "Merino Crew Sweater",
            slug: "merino-crew-sweater",
            description: "Fine-gauge merino wool sweater that keeps warm without bulk.",
            category: "sweaters",
            attributes: json!({"material": "merino wool", "care": "hand wash"}),
            variants: vec![
                (
                    "SWT-MERINO-NVY-M",
                    vec![("colour", "Navy"), ("size", "M")],
                    8900,
                ),
                (
                    "SWT-MERINO-NVY-L",
                    vec![("colour", "Navy"), ("size", "L")],
                    8900,
                ),
                (
                    "SWT-MERINO-OAT-M",
                    vec![("colour", "Oatmeal"), ("size", "M")],
                    8900,
                ),
            ],
        },
        DemoProduct {
            name: "Everyday Zip Hoodie",
            slug: "everyday-zip-hoodie",
            description: "Brushed fleece hoodie with a full-length zip and deep pockets.",
            category: "sweaters",
            attributes: json!({"material": "cotton fleece"}),
            variants: vec![
                (
                    "HOOD-ZIP-GRY-M",
                    vec![("colour", "Heather Grey"), ("size", "M")],
                    6500,
                ),
                (
                    "HOOD-ZIP-GRY-L",
                    vec![("colour", "Heather Grey"), ("size", "L")],
                    6500,
                ),
            ],
        },
        DemoProduct {
            name: "Stoneware Coffee Mug",
            slug: "stoneware-coffee-mug",
            description: "Hand-glazed 350 ml stoneware mug, dishwasher safe.",
            category: "kitchen",
            attributes: json!({"capacity_ml": 350, "dishwasher_safe": true}),
            variants: vec![
                ("MUG-STONE-SAND", vec![("glaze", "Sand")], 1800),
                ("MUG-STONE-MOSS", vec![("glaze", "Moss")], 1800),
            ],
        },
        DemoProduct {
            name: "Pour-Over Coffee Set",
            slug: "pour-over-coffee-set",
            description: "Glass carafe with a ceramic dripper and 100 paper filters.",
            category: "kitchen",
            attributes: json!({"pieces": 3}),
            variants: vec![("COF-POUR-SET", vec![], 4900)],
        },
        DemoProduct {
            name: "Canvas Weekender Bag",
            slug: "canvas-weekender-bag",
            description: "Waxed canvas duffel with leather handles, sized for two nights away.",
            category: "bags",
            attributes: json!({"material": "waxed canvas", "volume_l": 40}),
            variants: vec![
                ("BAG-WKND-OLV", vec![("colour", "Olive")], 14500),
                ("BAG-WKND-TAN", vec![("colour", "Tan")], 14500),
            ],
        },
        DemoProduct {
            name: "Leather Card Wallet",
            slug: "leather-card-wallet",
            description: "Slim vegetable-tanned leather wallet for six cards.",
            category: "accessories",
            attributes: json!({"material": "vegetable-tanned leather"}),
            variants: vec![("WAL-CARD-BRN", vec![("colour", "Brown")], 3900)],
        },
        DemoProduct {
            name: "Wool Beanie",
            slug: "wool-beanie",
            description: "Ribbed lambswool beanie, one size.",
            category: "accessories",
            attributes: json!({"material": "lambswool"}),
            variants: vec![
                ("HAT-BEANIE-CHR", vec![("colour", "Charcoal")], 2900),
                ("HAT-BEANIE-RST", vec![("colour", "Rust")], 2900),
            ],
        },
    ]
}

/// `(slug, name, parent slug)` of the demo category tree.
const DEMO_CATEGORIES: &[(&str, &str, Option<&str>)] = &[
    ("apparel", "Apparel", None),
    ("t-shirts", "T-Shirts", Some("apparel")),
    ("sweaters", "Sweaters & Hoodies", Some("apparel")),
    ("home", "Home", None),
    ("kitchen", "Kitchen", Some("home")),
    ("accessories", "Accessories", None),
    ("bags", "Bags", Some("accessories")),
];

/// Units of each demo variant received at the demo warehouse.
const DEMO_STOCK: i32 = 100;

/// The code the demo advertises: 10% off any order.
pub const DEMO_DISCOUNT_CODE: &str = "WELCOME10";

/// A demo shipping method: `(name, carrier, service, countries, price in cents, free from
/// cents, min days, max days)`.
type DemoShipping = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    i64,
    Option<i64>,
    i32,
    i32,
);

const DEMO_SHIPPING: &[DemoShipping] = &[
    (
        "Standard",
        "USPS",
        "Ground Advantage",
        &["US"],
        500,
        Some(7500),
        3,
        5,
    ),
    ("Express", "UPS", "2nd Day Air", &["US"], 1500, None, 1, 2),
    (
        "Canada Standard",
        "Canada Post",
        "Expedited Parcel",
        &["CA"],
        1200,
        None,
        4,
        8,
    ),
];

/// A demo tax rate: `(name, country, region, percent in hundredths)`.
const DEMO_TAX_RATES: &[(&str, &str, Option<&str>, i64)] = &[
    ("California sales tax", "US", Some("CA"), 725),
    ("New York sales tax", "US", Some("NY"), 400),
    ("Canada GST", "CA", None, 500),
];

/// Shipping methods, tax rates and the discount code of the demo shop; those that exist
/// already are left alone.
async fn demo_pricing(
    services: &Services,
    ctx: &Ctx,
    report: &mut SeedReport,
) -> Result<(), Error> {
    let pricing = &services.pricing;
    let methods = pricing.shipping_methods(ctx).await?;
    for &(name, carrier, service, countries, cents, free_over, min_days, max_days) in DEMO_SHIPPING
    {
        if methods.iter().any(|m| m.name == name) {
            continue;
        }
        let input = CreateShippingMethodInput {
            name: name.into(),
            carrier: carrier.into(),
            service: service.into(),
            countries: countries.iter().map(|&c| c.into()).collect(),
            regions: Vec::new(),
            kind: RateKind::Flat,
            rate: Some(Decimal::new(cents, 2)),
            bands: Vec::new(),
            free_over: free_over.map(|cents| Decimal::new(cents, 2)),
            currency: "USD".into(),
            min_days,
            max_days,
            active: Some(true),
        };
        pricing.create_shipping_method(ctx, input).await?;
        report.shipping_methods_created += 1;
    }
    let rates = pricing.tax_rates(ctx).await?;
    for &(name, country, region, hundredths) in DEMO_TAX_RATES {
        let zone_taken = rates.iter().any(|r| {
            r.country == country && r.region.as_deref() == region && r.tax_class.is_none()
        });
        if zone_taken {
            continue;
        }
        let input = CreateTaxRateInput {
            name: name.into(),
            country: country.into(),
            region: region.map(Into::into),
            tax_class: None,
            rate: Decimal::new(hundredths, 2),
            prices_include_tax: Some(false),
            applies_to_shipping: Some(true),
        };
        pricing.create_tax_rate(ctx, input).await?;
        report.tax_rates_created += 1;
    }
    let existing = match pricing.discount_code(ctx, DEMO_DISCOUNT_CODE).await {
        Ok(code) => Some(code),
        Err(Error::NotFound { .. }) => None,
        Err(other) => return Err(other),
    };
    if existing.is_none() {
        let input = CreateDiscountCodeInput {
            code: DEMO_DISCOUNT_CODE.into(),
            kind: DiscountKind::Percentage,
            value: Some(Decimal::TEN),
            min_order_value: None,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            active: Some(true),
        };
        pricing.create_discount_code(ctx, input).await?;
        report.discount_codes_created += 1;
    }
    Ok(())
}

/// The demo warehouse, created on first use.
async fn demo_warehouse(services: &Services, ctx: &Ctx) -> Result<uuid::Uuid, Error> {
    if let Some(existing) = services
        .inventory
        .list_locations(ctx)
        .await?
        .into_iter()
        .find(|l| l.code == "WH-MAIN")
    {
        return Ok(existing.id);
    }
    let input = CreateLocationInput {
        code: "WH-MAIN".into(),
        name: "Main warehouse".into(),
        kind: LocationKind::Warehouse,
        priority: Some(1),
        address: None,
    };
    Ok(services.inventory.create_location(ctx, input).await?.id)
}

/// Loads the demo shop: the catalog with stock at a demo warehouse, shipping, taxes and a
/// discount code; what exists already is left alone.
pub async fn demo(services: &Services) -> Result<SeedReport, Error> {
    let ctx = Ctx::system();
    let catalog = &services.catalog;
    let mut report = SeedReport::default();
    let mut categories = catalog.list_categories(&ctx).await?;
    for (position, (slug, name, parent)) in DEMO_CATEGORIES.iter().enumerate() {
        if categories.iter().any(|c| c.slug == *slug) {
            continue;
        }
        let parent_id = parent
            .and_then(|p| categories.iter().find(|c| c.slug == p))
            .map(|c| c.id);
        let input = CreateCategoryInput {
            name: (*name).into(),
            slug: Some((*slug).into()),
            parent_id,
            position: Some(position as i32),
            ..Default::default()
        };
        categories.push(catalog.create_category(&ctx, input).await?);
        report.categories_created += 1;
    }
    demo_pricing(services, &ctx, &mut report).await?;
    let warehouse = demo_warehouse(services, &ctx).await?;
    for product in demo_products() {
        match catalog
            .get_product(&ctx, ProductRef::Slug(product.slug.into()))
            .await
        {
            Ok(_) => continue,
            Err(Error::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
        let category_ids = categories
            .iter()
            .filter(|c| c.slug == product.category)
            .map(|c| c.id)
            .collect();
        let variants = product
            .variants
            .into_iter()
            .map(|(sku, options, cents)| CreateVariantInput {
                sku: sku.into(),
                title: None,
                options: options
                    .into_iter()
                    .map(|(name, value)| VariantOption {
                        name: name.into(),
                        value: value.into(),
                    })
                    .collect(),
                price: usd(cents),
                compare_at_price: None,
                weight_grams: Some(350),
                barcode: None,
                position: None,
            })
            .collect();
        let input = CreateProductInput {
            name: product.name.into(),
            slug: Some(product.slug.into()),
            description: Some(product.description.into()),
            status: Some(ProductStatus::Active),
            attributes: Some(product.attributes),
            variants,
            images: vec![ImageInput {
                url: format!("https://images.stateset.example/{}.jpg", product.slug),
                alt_text: Some(product.name.into()),
                position: None,
            }],
            category_ids,
            tax_class: None,
        };
        let product = catalog.create_product(&ctx, input).await?;
        report.products_created += 1;
        for variant in product.variants {
            let receipt = ReceiveInput {
                variant_id: variant.id,
                location_id: warehouse,
                quantity: DEMO_STOCK,
                lot_code: None,
                expires_at: None,
                reason: Some("demo stock".into()),
            };
            services.inventory.receive(&ctx, receipt).await?;
        }
    }
    Ok(report)
}
