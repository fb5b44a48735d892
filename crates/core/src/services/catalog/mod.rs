//! The catalog: products, variants, images and the category tree.
//!
//! Rules live here: field checks, slug generation, SKU uniqueness, the category tree staying a
//! tree, and one `product.*`/`category.*` event per change, written in the change's transaction.

use stateset_domain::EventType;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::{check_json_object, check_text};
use super::error::Validator;
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error, shown_conn};
use crate::events::{self, DomainEvent, EventBus};
use stateset_db::Db;
use stateset_db::catalog::{
    self as q, CategoryChanges, CategoryRow, ImageRow, ProductChanges, ProductRow, VariantChanges,
    VariantRow,
};
use stateset_domain::Sku;
use stateset_domain::text::{check_slug, slugify};
use stateset_domain::{
    Category, CategorySummary, Money, Product, ProductDetail, ProductFilter, ProductImage,
    ProductSort, ProductStatus, Variant, VariantOption,
};

/// Longest product or category name.
const MAX_NAME: usize = 255;
/// Longest description.
const MAX_DESCRIPTION: usize = 20_000;
/// Longest barcode, image alt text and image URL.
const MAX_BARCODE: usize = 64;
const MAX_ALT_TEXT: usize = 512;
const MAX_URL: usize = 2048;

mod cache;

pub use cache::CatalogCache;

/// A product looked up by id or by slug.
#[derive(Debug, Clone)]
pub enum ProductRef {
    Id(Uuid),
    Slug(String),
}

/// Which of a product's related lists a read loads. REST and gRPC always show both; a
/// GraphQL query loads only what it selects, as each is a query of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductParts {
    pub images: bool,
    pub categories: bool,
}

impl ProductParts {
    /// Images and categories both.
    pub const ALL: Self = Self {
        images: true,
        categories: true,
    };
}

/// A new product, optionally with its variants, images and categories.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateProductInput {
    /// Display name (1 to 255 characters).
    pub name: String,
    /// URL-safe unique name; generated from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// Defaults to `draft`.
    pub status: Option<ProductStatus>,
    /// A JSON object of free-form attributes; defaults to `{}`.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Which tax rates apply (`reduced`, `food`, ...); the standard rates when absent.
    pub tax_class: Option<String>,
    #[serde(default)]
    #[graphql(default)]
    pub variants: Vec<CreateVariantInput>,
    #[serde(default)]
    #[graphql(default)]
    pub images: Vec<ImageInput>,
    #[serde(default)]
    #[graphql(default)]
    pub category_ids: Vec<Uuid>,
}

/// Changes to a product; absent fields stay as they are. Lists given replace the old ones.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateProductInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// An empty string clears the description.
    pub description: Option<String>,
    pub status: Option<ProductStatus>,
    /// Replaces all attributes (a JSON object).
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Which tax rates apply; an empty string returns the product to the standard rates.
    pub tax_class: Option<String>,
    /// Replaces all images.
    pub images: Option<Vec<ImageInput>>,
    /// Replaces the category assignment.
    pub category_ids: Option<Vec<Uuid>>,
}

/// A new variant.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateVariantInput {
    /// Unique stock keeping unit: 1 to 64 letters, digits, `-`, `_` or `.`.
    pub sku: String,
    /// Display title; defaults to the option values joined by ` / `, or `Default`.
    pub title: Option<String>,
    #[serde(default)]
    #[graphql(default)]
    pub options: Vec<VariantOption>,
    pub price: Money,
    /// Must be in the price's currency.
    pub compare_at_price: Option<Money>,
    pub weight_grams: Option<i32>,
    pub barcode: Option<String>,
    /// Display order; defaults to after the last variant.
    pub position: Option<i32>,
}

/// Changes to a variant; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateVariantInput {
    pub sku: Option<String>,
    pub title: Option<String>,
    /// Replaces all option values.
    pub options: Option<Vec<VariantOption>>,
    pub price: Option<Money>,
    pub compare_at_price: Option<Money>,
    /// `true` removes the compare-at price.
    pub clear_compare_at_price: Option<bool>,
    pub weight_grams: Option<i32>,
    pub barcode: Option<String>,
    pub position: Option<i32>,
}

/// An image to attach to a product.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct ImageInput {
    /// Absolute `http(s)` URL.
    pub url: String,
    pub alt_text: Option<String>,
    /// Display order; defaults to the image's place in the list.
    pub position: Option<i32>,
}

/// A new category.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateCategoryInput {
    pub name: String,
    /// Generated from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// The parent; absent for a root category.
    pub parent_id: Option<Uuid>,
    pub position: Option<i32>,
}

/// Changes to a category; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateCategoryInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// An empty string clears the description.
    pub description: Option<String>,
    /// Moves the category under this parent.
    pub parent_id: Option<Uuid>,
    /// `true` moves the category to the root of the tree.
    pub move_to_root: Option<bool>,
    pub position: Option<i32>,
}

/// The catalog service.
#[derive(Clone)]
pub struct CatalogService {
    db: Db,
    cache: Arc<CatalogCache>,
}

impl CatalogService {
    /// The catalog over `db`, reading through `cache`; a cache in this process hears of other
    /// instances' writes from `bus`.
    pub fn new(db: Db, bus: &EventBus, cache: CatalogCache) -> Self {
        let cache = Arc::new(cache);
        if cache.is_local() {
            let observer = cache.clone();
            bus.observe(Arc::new(move |event| observer.apply(event)));
        }
        Self { db, cache }
    }

    // ---------------------------------------------------------------- products: reads

    /// One product by id or slug.
    pub async fn get_product(&self, ctx: &Ctx, product: ProductRef) -> Result<Product, Error> {
        self.get_product_with(ctx, product, ProductParts::ALL).await
    }

    /// One product by id or slug, with only the related lists `parts` names.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn get_product_with(
        &self,
        ctx: &Ctx,
        product: ProductRef,
        parts: ProductParts,
    ) -> Result<Product, Error> {
        ctx.authorize("products:read")?;
        let miss = match self.cache.product(&product).await {
            Ok(cached) => return Ok(cached),
            Err(miss) => miss,
        };
        // What the cache keeps is read from the primary: a lagging replica's row, stored, would
        // outlive the write's forget.
        let mut conn = if miss.will_store() {
            self.db.conn().await?
        } else {
            shown_conn(&self.db, ctx, "products:write").await?
        };
        let row = match &product {
            ProductRef::Id(id) => q::product_by_id(&mut conn, *id).await?,
            ProductRef::Slug(slug) => q::product_by_slug(&mut conn, slug).await?,
        };
        let row = row.ok_or_else(|| match product {
            ProductRef::Id(id) => Error::not_found("product", id),
            ProductRef::Slug(slug) => Error::not_found("product", slug),
        })?;
        // A copy for the cache serves any selection, so it carries every part.
        let parts = if miss.will_store() {
            ProductParts::ALL
        } else {
            parts
        };
        let product = assemble(&mut conn, vec![row], parts).await?.remove(0);
        self.cache.store_product(miss, &product).await;
        Ok(product)
    }

    /// One product with its variants.
    pub async fn get_product_detail(
        &self,
        ctx: &Ctx,
        product: ProductRef,
    ) -> Result<ProductDetail, Error> {
        let product = self.get_product(ctx, product).await?;
        Ok(self.with_variants(ctx, vec![product]).await?.remove(0))
    }

    /// A page of products matching `filter` in `sort` order.
    pub async fn list_products(
        &self,
        ctx: &Ctx,
        filter: ProductFilter,
        sort: ProductSort,
        page: PageRequest,
    ) -> Result<Page<Product>, Error> {
        self.list_products_with(ctx, filter, sort, page, ProductParts::ALL)
            .await
    }

    /// A page of products with only the related lists `parts` names.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_products_with(
        &self,
        ctx: &Ctx,
        filter: ProductFilter,
        sort: ProductSort,
        page: PageRequest,
        parts: ProductParts,
    ) -> Result<Page<Product>, Error> {
        ctx.authorize("products:read")?;
        let limit = page.limit()?;
        if let (Some(min), Some(max)) = (filter.min_price, filter.max_price)
            && min > max
        {
            return Err(Error::invalid(
                "filter.max_price",
                "must not be below min_price",
            ));
        }
        let sort_name = format!("{sort:?}");
        let after = page.keyset(&sort_name)?;
        let mut conn = shown_conn(&self.db, ctx, "products:write").await?;
        let rows = q::list_products(&mut conn, &filter, sort, after, limit + 1).await?;
        let total_count = page.total(q::count_products(&mut conn, &filter)).await?;
        let position = |row: &ProductRow| Keyset {
            key: row.sort_key(sort),
            id: row.id,
        };
        let page = page.page(&sort_name, limit, rows, total_count, position, |row| row);
        let (cursors, rows): (Vec<String>, Vec<ProductRow>) = page.items.into_iter().unzip();
        let products = assemble(&mut conn, rows, parts).await?;
        Ok(Page {
            items: cursors.into_iter().zip(products).collect(),
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            total_count: page.total_count,
        })
    }

    /// A page of products with their variants (REST and gRPC list with variants; GraphQL
    /// loads them per field).
    pub async fn list_product_details(
        &self,
        ctx: &Ctx,
        filter: ProductFilter,
        sort: ProductSort,
        page: PageRequest,
    ) -> Result<Page<ProductDetail>, Error> {
        let page = self.list_products(ctx, filter, sort, page).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|(_, p)| p.id).collect();
        let mut variants = self.variants_by_product(ctx, &ids).await?;
        Ok(page.map(|product| ProductDetail {
            variants: variants.remove(&product.id).unwrap_or_default(),
            product,
        }))
    }

    /// The variants of each of `product_ids`, in one query (the batch behind GraphQL's loader).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, products = product_ids.len()))]
    pub async fn variants_by_product(
        &self,
        ctx: &Ctx,
        product_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Variant>>, Error> {
        ctx.authorize("products:read")?;
        let (mut by_product, epoch) = self.cache.variants(product_ids).await;
        let missing: Vec<Uuid> = product_ids
            .iter()
            .copied()
            .filter(|id| !by_product.contains_key(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(by_product);
        }
        let mut conn = if epoch.is_known() {
            self.db.conn().await?
        } else {
            shown_conn(&self.db, ctx, "products:write").await?
        };
        let mut loaded: HashMap<Uuid, Vec<Variant>> =
            missing.iter().map(|id| (*id, Vec::new())).collect();
        for row in q::variants_for(&mut conn, &missing).await? {
            loaded.entry(row.product_id).or_default().push(row.into());
        }
        self.cache
            .store_variants(epoch, loaded.clone().into_iter().collect())
            .await;
        by_product.extend(loaded.into_iter().filter(|(_, v)| !v.is_empty()));
        Ok(by_product)
    }

    /// Variants by id, in one query (the batch behind GraphQL's order-line loader).
    pub async fn variants_by_ids(
        &self,
        ctx: &Ctx,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Variant>, Error> {
        ctx.authorize("products:read")?;
        let mut conn = self.db.conn().await?;
        Ok(q::variants_by_ids(&mut conn, ids)
            .await?
            .into_iter()
            .map(|row| (row.id, Variant::from(row)))
            .collect())
    }

    /// Attaches their variants to `products`, in one query.
    pub async fn with_variants(
        &self,
        ctx: &Ctx,
        products: Vec<Product>,
    ) -> Result<Vec<ProductDetail>, Error> {
        let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
        let mut variants = self.variants_by_product(ctx, &ids).await?;
        Ok(products
            .into_iter()
            .map(|product| ProductDetail {
                variants: variants.remove(&product.id).unwrap_or_default(),
                product,
            })
            .collect())
    }

    // ---------------------------------------------------------------- products: writes

    /// Creates a product with its variants, images and categories; writes `product.created`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, product.name = %input.name))]
    pub async fn create_product(
        &self,
        ctx: &Ctx,
        input: CreateProductInput,
    ) -> Result<ProductDetail, Error> {
        ctx.authorize("products:write")?;
        let mut v = Validator::default();
        let name = check_name(&mut v, "name", &input.name);
        if let Some(slug) = &input.slug {
            v.check("slug", check_slug(slug));
        }
        check_description(&mut v, "description", input.description.as_deref());
        let attributes = check_json_object(&mut v, "attributes", input.attributes.clone());
        let tax_class = input
            .tax_class
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| super::checks::tax_class(&mut v, "tax_class", c));
        let now = Utc::now();
        let product_id = Uuid::now_v7();
        let variants: Vec<VariantRow> = input
            .variants
            .iter()
            .enumerate()
            .filter_map(|(i, variant)| {
                variant_row(
                    &mut v,
                    &format!("variants[{i}]"),
                    product_id,
                    variant,
                    i as i32,
                    now,
                )
            })
            .collect();
        check_distinct_skus(
            &mut v,
            input.variants.iter().map(|variant| variant.sku.trim()),
        );
        let images = image_rows(&mut v, product_id, &input.images);
        v.finish()?;

        let category_ids = dedup(&input.category_ids);
        self.db
            .tx(
                "create_product",
                async move |conn: &mut AsyncPgConnection| {
                    check_categories_exist(conn, "category_ids", &category_ids).await?;
                    check_skus_free(conn, &variants, |i| format!("variants[{i}].sku")).await?;
                    let slug = match input.slug {
                        Some(slug) => slug,
                        None => free_product_slug(conn, &name).await?,
                    };
                    let row = ProductRow {
                        id: product_id,
                        name,
                        slug,
                        description: input.description.filter(|d| !d.trim().is_empty()),
                        status: input.status.unwrap_or(ProductStatus::Draft),
                        attributes,
                        created_at: now,
                        updated_at: now,
                        tax_class,
                    };
                    q::insert_product(conn, &row).await?;
                    q::replace_images(conn, product_id, &images).await?;
                    q::replace_product_categories(conn, product_id, &category_ids).await?;
                    q::insert_variants(conn, &variants).await?;
                    product_changed(conn, product_id, EventType::ProductCreated).await
                },
            )
            .await
    }

    /// Changes a product; writes `product.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, product.id = %id))]
    pub async fn update_product(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateProductInput,
    ) -> Result<ProductDetail, Error> {
        ctx.authorize("products:write")?;
        let mut v = Validator::default();
        let name = input.name.as_deref().map(|n| check_name(&mut v, "name", n));
        if let Some(slug) = &input.slug {
            v.check("slug", check_slug(slug));
        }
        check_description(&mut v, "description", input.description.as_deref());
        let attributes = input
            .attributes
            .clone()
            .map(|a| check_json_object(&mut v, "attributes", Some(a)));
        let tax_class = input.tax_class.as_deref().map(|c| {
            Some(c)
                .filter(|c| !c.trim().is_empty())
                .map(|c| super::checks::tax_class(&mut v, "tax_class", c))
        });
        let images = input
            .images
            .as_ref()
            .map(|images| image_rows(&mut v, id, images));
        v.finish()?;

        let category_ids = input.category_ids.as_deref().map(dedup);
        let detail = self
            .db
            .tx(
                "update_product",
                async move |conn: &mut AsyncPgConnection| {
                    q::lock_product(conn, id)
                        .await?
                        .ok_or_else(|| Error::not_found("product", id))?;
                    if let Some(ids) = &category_ids {
                        check_categories_exist(conn, "category_ids", ids).await?;
                        q::replace_product_categories(conn, id, ids).await?;
                    }
                    if let Some(images) = &images {
                        q::replace_images(conn, id, images).await?;
                    }
                    let changes = ProductChanges {
                        name,
                        slug: input.slug,
                        description: input
                            .description
                            .map(|d| Some(d).filter(|d| !d.trim().is_empty())),
                        status: input.status.map(|s| s.as_str().to_owned()),
                        attributes,
                        tax_class,
                        updated_at: Some(Utc::now()),
                    };
                    q::update_product(conn, id, &changes).await?;
                    product_changed(conn, id, EventType::ProductUpdated).await
                },
            )
            .await?;
        self.cache.forget(&[id]).await;
        Ok(detail)
    }

    /// Deletes a product with its variants and images; writes `product.deleted`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, product.id = %id))]
    pub async fn delete_product(&self, ctx: &Ctx, id: Uuid) -> Result<(), Error> {
        ctx.authorize("products:write")?;
        self.db
            .tx::<_, Error, _>(
                "delete_product",
                async move |conn: &mut AsyncPgConnection| {
                    let detail = load_detail(conn, id).await?;
                    let variant_ids: Vec<Uuid> = detail.variants.iter().map(|v| v.id).collect();
                    refuse_if_stocked(conn, &variant_ids).await?;
                    q::delete_product(conn, id)
                        .await
                        .map_err(|e| Error::from_delete(e, "product"))?;
                    events::record(
                        conn,
                        DomainEvent {
                            event_type: EventType::ProductDeleted,
                            entity_type: "product",
                            entity_id: id,
                            data: serde_json::to_value(&detail).map_err(anyhow::Error::new)?,
                        },
                    )
                    .await?;
                    Ok(())
                },
            )
            .await?;
        self.cache.forget(&[id]).await;
        Ok(())
    }

    // ---------------------------------------------------------------- variants

    /// Adds a variant to a product; writes `product.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, product.id = %product_id, variant.sku = %input.sku))]
    pub async fn create_variant(
        &self,
        ctx: &Ctx,
        product_id: Uuid,
        input: CreateVariantInput,
    ) -> Result<Variant, Error> {
        ctx.authorize("products:write")?;
        let variant = self
            .db
            .tx(
                "create_variant",
                async move |conn: &mut AsyncPgConnection| {
                    q::lock_product(conn, product_id)
                        .await?
                        .ok_or_else(|| Error::not_found("product", product_id))?;
                    let position = match input.position {
                        Some(p) => p,
                        None => q::next_variant_position(conn, product_id).await?,
                    };
                    let mut v = Validator::default();
                    let row = variant_row(&mut v, "", product_id, &input, position, Utc::now());
                    v.finish()?;
                    let Some(row) = row else {
                        return Err(Error::invalid("sku", "is invalid"));
                    };
                    check_skus_free(conn, std::slice::from_ref(&row), |_| "sku".to_owned()).await?;
                    q::insert_variants(conn, std::slice::from_ref(&row)).await?;
                    product_changed(conn, product_id, EventType::ProductUpdated).await?;
                    Ok(Variant::from(row))
                },
            )
            .await?;
        self.cache.forget(&[product_id]).await;
        Ok(variant)
    }

    /// Changes a variant; writes `product.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, variant.id = %id))]
    pub async fn update_variant(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateVariantInput,
    ) -> Result<Variant, Error> {
        ctx.authorize("products:write")?;
        let variant = self
            .db
            .tx(
                "update_variant",
                async move |conn: &mut AsyncPgConnection| {
                    let current = q::lock_variant(conn, id)
                        .await?
                        .ok_or_else(|| Error::not_found("variant", id))?;
                    let mut v = Validator::default();
                    let sku = input.sku.as_deref().map(|raw| v.sku("sku", raw));
                    let options = input
                        .options
                        .as_ref()
                        .map(|o| check_options(&mut v, "options", o));
                    let price = input
                        .price
                        .as_ref()
                        .and_then(|p| check_money(&mut v, "price", p));
                    let currency = price
                        .as_ref()
                        .map_or(current.currency.clone(), |p| p.currency.clone());
                    let compare_at = input
                        .compare_at_price
                        .as_ref()
                        .and_then(|p| check_money(&mut v, "compare_at_price", p));
                    if let Some(compare_at) = &compare_at {
                        if compare_at.currency != currency {
                            v.add(
                                "compare_at_price.currency",
                                format!("must be {currency}, the price's currency"),
                            );
                        }
                    } else if price.is_some()
                        && input.clear_compare_at_price != Some(true)
                        && current.compare_at_price.is_some()
                    {
                        // The old compare-at price stays; it is in the old currency.
                        if currency != current.currency {
                            v.add(
                                "compare_at_price",
                                "must be given again when the currency changes",
                            );
                        }
                    }
                    if input.weight_grams.is_some_and(|w| w < 0) {
                        v.add("weight_grams", "must not be negative");
                    }
                    if let Some(title) = &input.title {
                        check_text(&mut v, "title", title, 1, MAX_NAME);
                    }
                    if let Some(barcode) = &input.barcode {
                        check_text(&mut v, "barcode", barcode, 0, MAX_BARCODE);
                    }
                    v.finish()?;
                    let sku = sku.flatten().map(Sku::into_string);
                    if let Some(sku) = &sku {
                        let taken =
                            q::taken_skus(conn, std::slice::from_ref(sku), Some(id)).await?;
                        if !taken.is_empty() {
                            return Err(sku_conflict("sku"));
                        }
                    }
                    let changes = VariantChanges {
                        sku,
                        title: input.title.map(|t| t.trim().to_owned()),
                        options: options.map(|o| serde_json::to_value(o).unwrap_or_default()),
                        price: price.as_ref().map(|p| p.amount),
                        compare_at_price: match (compare_at, input.clear_compare_at_price) {
                            (Some(c), _) => Some(Some(c.amount)),
                            (None, Some(true)) => Some(None),
                            (None, _) => None,
                        },
                        currency: price.map(|p| p.currency),
                        weight_grams: input.weight_grams.map(Some),
                        barcode: input
                            .barcode
                            .map(|b| Some(b).filter(|b| !b.trim().is_empty())),
                        position: input.position,
                        updated_at: Some(Utc::now()),
                    };
                    let row = q::update_variant(conn, id, &changes).await?;
                    product_changed(conn, current.product_id, EventType::ProductUpdated).await?;
                    Ok(Variant::from(row))
                },
            )
            .await?;
        self.cache.forget(&[variant.product_id]).await;
        Ok(variant)
    }

    /// Removes a variant; writes `product.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, variant.id = %id))]
    pub async fn delete_variant(&self, ctx: &Ctx, id: Uuid) -> Result<(), Error> {
        ctx.authorize("products:write")?;
        let product_id = self
            .db
            .tx::<_, Error, _>(
                "delete_variant",
                async move |conn: &mut AsyncPgConnection| {
                    let current = q::lock_variant(conn, id)
                        .await?
                        .ok_or_else(|| Error::not_found("variant", id))?;
                    refuse_if_stocked(conn, &[id]).await?;
                    q::delete_variant(conn, id)
                        .await
                        .map_err(|e| Error::from_delete(e, "variant"))?;
                    product_changed(conn, current.product_id, EventType::ProductUpdated).await?;
                    Ok(current.product_id)
                },
            )
            .await?;
        self.cache.forget(&[product_id]).await;
        Ok(())
    }

    // ---------------------------------------------------------------- categories

    /// Every category, ordered by position then name; parents come with `parent_id`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_categories(&self, ctx: &Ctx) -> Result<Vec<Category>, Error> {
        ctx.authorize("categories:read")?;
        let mut conn = shown_conn(&self.db, ctx, "categories:write").await?;
        Ok(q::all_categories(&mut conn)
            .await?
            .into_iter()
            .map(Category::from)
            .collect())
    }

    /// One category.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, category.id = %id))]
    pub async fn get_category(&self, ctx: &Ctx, id: Uuid) -> Result<Category, Error> {
        ctx.authorize("categories:read")?;
        let mut conn = shown_conn(&self.db, ctx, "categories:write").await?;
        q::category_by_id(&mut conn, id)
            .await?
            .map(Category::from)
            .ok_or_else(|| Error::not_found("category", id))
    }

    /// Creates a category; writes `category.created`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, category.name = %input.name))]
    pub async fn create_category(
        &self,
        ctx: &Ctx,
        input: CreateCategoryInput,
    ) -> Result<Category, Error> {
        ctx.authorize("categories:write")?;
        let mut v = Validator::default();
        let name = check_name(&mut v, "name", &input.name);
        let slug = input.slug.clone().unwrap_or_else(|| slugify(&name));
        v.check(
            "slug",
            check_slug(&slug).map_err(|m| {
                if input.slug.is_none() {
                    "cannot be made from this name; give one".to_owned()
                } else {
                    m
                }
            }),
        );
        check_description(&mut v, "description", input.description.as_deref());
        v.finish()?;
        self.db
            .tx(
                "create_category",
                async move |conn: &mut AsyncPgConnection| {
                    if let Some(parent) = input.parent_id {
                        q::category_by_id(conn, parent)
                            .await?
                            .ok_or_else(|| Error::invalid("parent_id", "no such category"))?;
                    }
                    let now = Utc::now();
                    let row = CategoryRow {
                        id: Uuid::now_v7(),
                        parent_id: input.parent_id,
                        name,
                        slug,
                        description: input.description.filter(|d| !d.trim().is_empty()),
                        position: input.position.unwrap_or(0),
                        created_at: now,
                        updated_at: now,
                    };
                    q::insert_category(conn, &row).await?;
                    let category = Category::from(row);
                    category_event(conn, EventType::CategoryCreated, &category).await?;
                    Ok(category)
                },
            )
            .await
    }

    /// Changes or moves a category, keeping the tree a tree; writes `category.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, category.id = %id))]
    pub async fn update_category(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateCategoryInput,
    ) -> Result<Category, Error> {
        ctx.authorize("categories:write")?;
        let mut v = Validator::default();
        let name = input.name.as_deref().map(|n| check_name(&mut v, "name", n));
        if let Some(slug) = &input.slug {
            v.check("slug", check_slug(slug));
        }
        check_description(&mut v, "description", input.description.as_deref());
        if input.parent_id.is_some() && input.move_to_root == Some(true) {
            v.add("move_to_root", "cannot be combined with parent_id");
        }
        v.finish()?;
        let (category, shown_in) = self
            .db
            .tx(
                "update_category",
                async move |conn: &mut AsyncPgConnection| {
                    q::category_by_id(conn, id)
                        .await?
                        .ok_or_else(|| Error::not_found("category", id))?;
                    if let Some(parent) = input.parent_id {
                        let ancestry = q::category_ancestry(conn, parent).await?;
                        if ancestry.is_empty() {
                            return Err(Error::invalid("parent_id", "no such category"));
                        }
                        if ancestry.contains(&id) {
                            return Err(Error::invalid(
                                "parent_id",
                                "would put the category inside itself",
                            ));
                        }
                    }
                    let parent_id = match (input.parent_id, input.move_to_root) {
                        (Some(parent), _) => Some(Some(parent)),
                        (None, Some(true)) => Some(None),
                        (None, _) => None,
                    };
                    let changes = CategoryChanges {
                        parent_id,
                        name,
                        slug: input.slug,
                        description: input
                            .description
                            .map(|d| Some(d).filter(|d| !d.trim().is_empty())),
                        position: input.position,
                        updated_at: Some(Utc::now()),
                    };
                    let category = Category::from(q::update_category(conn, id, &changes).await?);
                    category_event(conn, EventType::CategoryUpdated, &category).await?;
                    let shown_in = q::products_in_category(conn, id).await?;
                    Ok((category, shown_in))
                },
            )
            .await?;
        self.cache.forget(&shown_in).await;
        Ok(category)
    }

    /// Deletes a category without subcategories; products lose the assignment.
    /// Writes `category.deleted`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, category.id = %id))]
    pub async fn delete_category(&self, ctx: &Ctx, id: Uuid) -> Result<(), Error> {
        ctx.authorize("categories:write")?;
        let shown_in = self
            .db
            .tx(
                "delete_category",
                async move |conn: &mut AsyncPgConnection| {
                    let category = q::category_by_id(conn, id)
                        .await?
                        .map(Category::from)
                        .ok_or_else(|| Error::not_found("category", id))?;
                    if q::child_category_count(conn, id).await? > 0 {
                        return Err(Error::Conflict {
                            field: None,
                            message: "the category has subcategories; move or delete them first"
                                .into(),
                        });
                    }
                    let shown_in = q::products_in_category(conn, id).await?;
                    q::delete_category(conn, id)
                        .await
                        .map_err(|e| Error::from_delete(e, "category"))?;
                    category_event(conn, EventType::CategoryDeleted, &category).await?;
                    Ok(shown_in)
                },
            )
            .await?;
        self.cache.forget(&shown_in).await;
        Ok(())
    }
}

// -------------------------------------------------------------------- helpers

/// Stock is history that must not vanish with a catalog entry: a variant with units on hand
/// or reserved cannot be deleted (archive the product instead).
async fn refuse_if_stocked(
    conn: &mut AsyncPgConnection,
    variant_ids: &[Uuid],
) -> Result<(), Error> {
    let stocked = stateset_db::inventory::stocked_skus(conn, variant_ids).await?;
    if stocked.is_empty() {
        return Ok(());
    }
    Err(Error::Conflict {
        field: None,
        message: format!(
            "{} still has stock on hand or reserved; archive the product instead",
            stocked.join(", ")
        ),
    })
}

/// Images and categories for `rows`, in two queries whatever the number of rows.
async fn assemble(
    conn: &mut AsyncPgConnection,
    rows: Vec<ProductRow>,
    parts: ProductParts,
) -> Result<Vec<Product>, Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut images: HashMap<Uuid, Vec<ProductImage>> = HashMap::new();
    let image_rows = if parts.images {
        q::images_for(conn, &ids).await?
    } else {
        Vec::new()
    };
    for image in image_rows {
        images
            .entry(image.product_id)
            .or_default()
            .push(ProductImage {
                id: image.id,
                url: image.url,
                alt_text: image.alt_text,
                position: image.position,
            });
    }
    let mut categories: HashMap<Uuid, Vec<CategorySummary>> = HashMap::new();
    let category_rows = if parts.categories {
        q::categories_for(conn, &ids).await?
    } else {
        Vec::new()
    };
    for (product_id, category) in category_rows {
        categories
            .entry(product_id)
            .or_default()
            .push(CategorySummary {
                id: category.id,
                name: category.name,
                slug: category.slug,
            });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            row.into_domain(
                images.remove(&id).unwrap_or_default(),
                categories.remove(&id).unwrap_or_default(),
            )
        })
        .collect())
}

async fn load_detail(conn: &mut AsyncPgConnection, id: Uuid) -> Result<ProductDetail, Error> {
    let row = q::product_by_id(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("product", id))?;
    let product = assemble(conn, vec![row], ProductParts::ALL)
        .await?
        .remove(0);
    let variants = q::variants_for(conn, &[id])
        .await?
        .into_iter()
        .map(Variant::from)
        .collect();
    Ok(ProductDetail { product, variants })
}

/// Marks the product changed and records `event_type` with the product as it now is.
async fn product_changed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    event_type: EventType,
) -> Result<ProductDetail, Error> {
    if event_type != EventType::ProductCreated {
        q::touch_product(conn, id, Utc::now()).await?;
    }
    let detail = load_detail(conn, id).await?;
    let data = serde_json::to_value(&detail).map_err(anyhow::Error::new)?;
    events::record(
        conn,
        DomainEvent {
            event_type,
            entity_type: "product",
            entity_id: id,
            data,
        },
    )
    .await?;
    Ok(detail)
}

async fn category_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    category: &Category,
) -> Result<(), Error> {
    let data = serde_json::to_value(category).map_err(anyhow::Error::new)?;
    events::record(
        conn,
        DomainEvent {
            event_type,
            entity_type: "category",
            entity_id: category.id,
            data,
        },
    )
    .await?;
    Ok(())
}

fn check_name(v: &mut Validator, field: &str, name: &str) -> String {
    check_text(v, field, name, 1, MAX_NAME);
    name.trim().to_owned()
}

fn check_description(v: &mut Validator, field: &str, description: Option<&str>) {
    if let Some(description) = description {
        check_text(v, field, description, 0, MAX_DESCRIPTION);
    }
}

pub(crate) fn check_money(v: &mut Validator, field: &str, money: &Money) -> Option<Money> {
    match money.parse() {
        Ok(money) => Some(money),
        Err(problems) => {
            for (part, message) in problems {
                v.add(format!("{field}.{part}"), message);
            }
            None
        }
    }
}

fn check_options(v: &mut Validator, field: &str, options: &[VariantOption]) -> Vec<VariantOption> {
    let mut names = HashSet::new();
    for (i, option) in options.iter().enumerate() {
        let name = option.name.trim();
        let before = v.len();
        check_text(v, &format!("{field}[{i}].name"), name, 1, MAX_NAME);
        if v.len() == before && !names.insert(name.to_lowercase()) {
            v.add(
                format!("{field}[{i}].name"),
                format!("`{name}` is given twice"),
            );
        }
        check_text(
            v,
            &format!("{field}[{i}].value"),
            &option.value,
            1,
            MAX_NAME,
        );
    }
    options
        .iter()
        .map(|o| VariantOption {
            name: o.name.trim().to_owned(),
            value: o.value.trim().to_owned(),
        })
        .collect()
}

/// Checks a new variant; `prefix` is its path in the request (`variants[2]`, or empty).
fn variant_row(
    v: &mut Validator,
    prefix: &str,
    product_id: Uuid,
    input: &CreateVariantInput,
    default_position: i32,
    now: chrono::DateTime<Utc>,
) -> Option<VariantRow> {
    let at = |field: &str| {
        if prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{prefix}.{field}")
        }
    };
    let before = v.len();
    let sku = v.sku(at("sku"), &input.sku);
    let options = check_options(v, &at("options"), &input.options);
    let price = check_money(v, &at("price"), &input.price);
    let compare_at = input
        .compare_at_price
        .as_ref()
        .and_then(|c| check_money(v, &at("compare_at_price"), c));
    if let (Some(price), Some(compare_at)) = (&price, &compare_at)
        && price.currency != compare_at.currency
    {
        v.add(
            at("compare_at_price.currency"),
            format!("must be {}, the price's currency", price.currency),
        );
    }
    if input.weight_grams.is_some_and(|w| w < 0) {
        v.add(at("weight_grams"), "must not be negative");
    }
    if let Some(title) = &input.title {
        check_text(v, &at("title"), title, 1, MAX_NAME);
    }
    if let Some(barcode) = &input.barcode {
        check_text(v, &at("barcode"), barcode, 0, MAX_BARCODE);
    }
    let title = match input.title.as_deref().map(str::trim) {
        Some(title) => title.to_owned(),
        None if options.is_empty() => "Default".to_owned(),
        None => options
            .iter()
            .map(|o| o.value.as_str())
            .collect::<Vec<_>>()
            .join(" / "),
    };
    if v.len() > before {
        return None;
    }
    let (price, sku) = (price?, sku?);
    Some(VariantRow {
        id: Uuid::now_v7(),
        product_id,
        sku: sku.into_string(),
        title,
        options: serde_json::to_value(&options).unwrap_or_default(),
        price: price.amount,
        compare_at_price: compare_at.map(|c| c.amount),
        currency: price.currency,
        weight_grams: input.weight_grams,
        barcode: input.barcode.clone().filter(|b| !b.trim().is_empty()),
        position: input.position.unwrap_or(default_position),
        created_at: now,
        updated_at: now,
    })
}

fn check_distinct_skus<'a>(v: &mut Validator, skus: impl Iterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for (i, sku) in skus.enumerate() {
        if !seen.insert(sku) {
            v.add(
                format!("variants[{i}].sku"),
                format!("`{sku}` is given twice"),
            );
        }
    }
}

fn sku_conflict(field: &str) -> Error {
    Error::Conflict {
        field: Some(field.to_owned()),
        message: "a variant with this SKU already exists".into(),
    }
}

/// Refuses SKUs another variant already has; `field_of(i)` names the input of row `i`.
async fn check_skus_free(
    conn: &mut AsyncPgConnection,
    rows: &[VariantRow],
    field_of: impl Fn(usize) -> String,
) -> Result<(), Error> {
    let skus: Vec<String> = rows.iter().map(|r| r.sku.clone()).collect();
    let taken = q::taken_skus(conn, &skus, None).await?;
    match rows.iter().position(|r| taken.contains(&r.sku)) {
        Some(i) => Err(sku_conflict(&field_of(i))),
        None => Ok(()),
    }
}

fn image_rows(v: &mut Validator, product_id: Uuid, images: &[ImageInput]) -> Vec<ImageRow> {
    images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let url = image.url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.len() > MAX_URL
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                v.add(
                    format!("images[{i}].url"),
                    format!("must be an absolute http(s) URL of at most {MAX_URL} characters"),
                );
            }
            if let Some(alt_text) = &image.alt_text {
                check_text(
                    v,
                    &format!("images[{i}].alt_text"),
                    alt_text,
                    0,
                    MAX_ALT_TEXT,
                );
            }
            ImageRow {
                id: Uuid::now_v7(),
                product_id,
                url: url.to_owned(),
                alt_text: image.alt_text.clone().filter(|a| !a.trim().is_empty()),
                position: image.position.unwrap_or(i as i32),
            }
        })
        .collect()
}

fn dedup(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

async fn check_categories_exist(
    conn: &mut AsyncPgConnection,
    field: &str,
    ids: &[Uuid],
) -> Result<(), Error> {
    let existing: HashSet<Uuid> = q::existing_category_ids(conn, ids)
        .await?
        .into_iter()
        .collect();
    let mut v = Validator::default();
    for (i, id) in ids.iter().enumerate() {
        if !existing.contains(id) {
            v.add(format!("{field}[{i}]"), format!("no category `{id}`"));
        }
    }
    v.finish()
}

/// A slug for `name` that no product uses yet: `classic-tee`, else `classic-tee-2`, ...
async fn free_product_slug(conn: &mut AsyncPgConnection, name: &str) -> Result<String, Error> {
    let base = match slugify(name) {
        s if s.is_empty() => "product".to_owned(),
        s => s
            .chars()
            .take(100)
            .collect::<String>()
            .trim_end_matches('-')
            .to_owned(),
    };
    let candidates: Vec<String> = std::iter::once(base.clone())
        .chain((2..=20).map(|n| format!("{base}-{n}")))
        .collect();
    let taken: HashSet<String> = q::taken_product_slugs(conn, &candidates)
        .await?
        .into_iter()
        .collect();
    Ok(candidates
        .into_iter()
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| format!("{base}-{}", &Uuid::now_v7().simple().to_string()[24..])))
}
