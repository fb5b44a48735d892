//! Catalog rows and queries: products, variants, images, categories.

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Numeric, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Keyset;
use super::schema::{categories, product_categories, product_images, product_variants, products};
use stateset_domain::{
    Category, CategorySummary, Money, Product, ProductFilter, ProductImage, ProductSort,
    ProductStatus, Variant, VariantOption,
};

/// A `products` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: ProductStatus,
    pub attributes: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tax_class: Option<String>,
}

impl ProductRow {
    /// The keyset value of this row under `sort`, as text PostgreSQL can cast back.
    pub fn sort_key(&self, sort: ProductSort) -> String {
        match sort {
            ProductSort::CreatedAtDesc | ProductSort::CreatedAtAsc => {
                self.created_at.to_rfc3339_opts(SecondsFormat::Micros, true)
            }
            ProductSort::UpdatedAtDesc => {
                self.updated_at.to_rfc3339_opts(SecondsFormat::Micros, true)
            }
            ProductSort::NameAsc | ProductSort::NameDesc => self.name.clone(),
        }
    }

    /// The domain product, given its images and categories.
    pub fn into_domain(
        self,
        images: Vec<ProductImage>,
        categories: Vec<CategorySummary>,
    ) -> Product {
        Product {
            id: self.id,
            name: self.name,
            slug: self.slug,
            description: self.description,
            status: self.status,
            attributes: self.attributes,
            tax_class: self.tax_class,
            images,
            categories,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Changes to a product; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<String>,
    pub attributes: Option<serde_json::Value>,
    pub tax_class: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A `product_variants` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_variants)]
pub struct VariantRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub title: String,
    pub options: serde_json::Value,
    pub price: Decimal,
    pub compare_at_price: Option<Decimal>,
    pub currency: String,
    pub weight_grams: Option<i32>,
    pub barcode: Option<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<VariantRow> for Variant {
    fn from(row: VariantRow) -> Self {
        Variant {
            id: row.id,
            product_id: row.product_id,
            sku: row.sku,
            title: row.title,
            options: serde_json::from_value::<Vec<VariantOption>>(row.options).unwrap_or_default(),
            price: Money::from_stored(row.price, &row.currency),
            compare_at_price: row
                .compare_at_price
                .map(|p| Money::from_stored(p, &row.currency)),
            weight_grams: row.weight_grams,
            barcode: row.barcode,
            position: row.position,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Changes to a variant; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = product_variants)]
pub struct VariantChanges {
    pub sku: Option<String>,
    pub title: Option<String>,
    pub options: Option<serde_json::Value>,
    pub price: Option<Decimal>,
    pub compare_at_price: Option<Option<Decimal>>,
    pub currency: Option<String>,
    pub weight_grams: Option<Option<i32>>,
    pub barcode: Option<Option<String>>,
    pub position: Option<i32>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A `product_images` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_images)]
pub struct ImageRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub url: String,
    pub alt_text: Option<String>,
    pub position: i32,
}

/// A `categories` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = categories)]
pub struct CategoryRow {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CategoryRow> for Category {
    fn from(row: CategoryRow) -> Self {
        Category {
            id: row.id,
            parent_id: row.parent_id,
            name: row.name,
            slug: row.slug,
            description: row.description,
            position: row.position,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Changes to a category; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = categories)]
pub struct CategoryChanges {
    pub parent_id: Option<Option<Uuid>>,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
    pub position: Option<i32>,
    pub updated_at: Option<DateTime<Utc>>,
}

// ---- products ----

pub async fn insert_product(conn: &mut AsyncPgConnection, row: &ProductRow) -> QueryResult<()> {
    diesel::insert_into(products::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// The product with this id, locked for the rest of the transaction.
pub async fn lock_product(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ProductRow>> {
    products::table
        .find(id)
        .select(ProductRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn product_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ProductRow>> {
    products::table
        .find(id)
        .select(ProductRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn product_by_slug(
    conn: &mut AsyncPgConnection,
    slug: &str,
) -> QueryResult<Option<ProductRow>> {
    products::table
        .filter(products::slug.eq(slug))
        .select(ProductRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Slugs among `candidates` already used by a product.
pub async fn taken_product_slugs(
    conn: &mut AsyncPgConnection,
    candidates: &[String],
) -> QueryResult<Vec<String>> {
    products::table
        .filter(products::slug.eq_any(candidates))
        .select(products::slug)
        .load(conn)
        .await
}

pub async fn update_product(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &ProductChanges,
) -> QueryResult<ProductRow> {
    diesel::update(products::table.find(id))
        .set(changes)
        .returning(ProductRow::as_returning())
        .get_result(conn)
        .await
}

/// Marks a product changed without changing its columns (for variant edits).
pub async fn touch_product(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(products::table.find(id))
        .set(products::updated_at.eq(at))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn delete_product(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(products::table.find(id)).execute(conn).await
}

/// The products matching `filter`, as a boxed query other queries build on.
fn filtered(filter: &ProductFilter) -> products::BoxedQuery<'static, Pg> {
    let mut query = products::table.into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(products::status.eq(status.as_str()));
    }
    if let Some(text) = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        query = query.filter(
            sql::<Bool>("products.search_vector @@ websearch_to_tsquery('english', ")
                .bind::<Text, _>(text.replace('\0', " "))
                .sql(")"),
        );
    }
    if let Some(category_id) = filter.category_id {
        query = query.filter(
            sql::<Bool>(
                "products.id IN (SELECT pc.product_id FROM product_categories pc WHERE pc.category_id IN (\
                 WITH RECURSIVE tree AS (SELECT id FROM categories WHERE id = ",
            )
            .bind::<diesel::sql_types::Uuid, _>(category_id)
            .sql(" UNION ALL SELECT c.id FROM categories c JOIN tree ON c.parent_id = tree.id) SELECT id FROM tree))"),
        );
    }
    if filter.min_price.is_some() || filter.max_price.is_some() {
        query = query.filter(
            sql::<Bool>("EXISTS (SELECT 1 FROM product_variants v WHERE v.product_id = products.id AND v.price >= ")
                .bind::<Numeric, _>(filter.min_price.unwrap_or(Decimal::MIN))
                .sql(" AND v.price <= ")
                .bind::<Numeric, _>(filter.max_price.unwrap_or(Decimal::MAX))
                .sql(")"),
        );
    }
    query
}

/// One page of products matching `filter` in `sort` order, strictly after `after`
/// (the sort key and id of the last row of the previous page).
pub async fn list_products(
    conn: &mut AsyncPgConnection,
    filter: &ProductFilter,
    sort: ProductSort,
    after: Option<Keyset>,
    limit: i64,
) -> QueryResult<Vec<ProductRow>> {
    let (column, cast, descending) = match sort {
        ProductSort::CreatedAtDesc => ("created_at", "timestamptz", true),
        ProductSort::CreatedAtAsc => ("created_at", "timestamptz", false),
        ProductSort::UpdatedAtDesc => ("updated_at", "timestamptz", true),
        ProductSort::NameAsc => ("name", "text", false),
        ProductSort::NameDesc => ("name", "text", true),
    };
    let mut query = filtered(filter)
        .select(ProductRow::as_select())
        .limit(limit);
    if let Some(Keyset { key, id }) = after {
        let op = if descending { "<" } else { ">" };
        query = query.filter(
            sql::<Bool>(&format!("(products.{column}, products.id) {op} (CAST("))
                .bind::<Text, _>(key)
                .sql(&format!(" AS {cast}), "))
                .bind::<diesel::sql_types::Uuid, _>(id)
                .sql(")"),
        );
    }
    query = match sort {
        ProductSort::CreatedAtDesc => {
            query.order((products::created_at.desc(), products::id.desc()))
        }
        ProductSort::CreatedAtAsc => query.order((products::created_at.asc(), products::id.asc())),
        ProductSort::UpdatedAtDesc => {
            query.order((products::updated_at.desc(), products::id.desc()))
        }
        ProductSort::NameAsc => query.order((products::name.asc(), products::id.asc())),
        ProductSort::NameDesc => query.order((products::name.desc(), products::id.desc())),
    };
    query.load(conn).await
}

/// How many products match `filter`.
pub async fn count_products(
    conn: &mut AsyncPgConnection,
    filter: &ProductFilter,
) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn).await
}

// ---- images ----

pub async fn images_for(
    conn: &mut AsyncPgConnection,
    product_ids: &[Uuid],
) -> QueryResult<Vec<ImageRow>> {
    product_images::table
        .filter(product_images::product_id.eq_any(product_ids))
        .select(ImageRow::as_select())
        .order((
            product_images::product_id,
            product_images::position,
            product_images::id,
        ))
        .load(conn)
        .await
}

pub async fn replace_images(
    conn: &mut AsyncPgConnection,
    product_id: Uuid,
    rows: &[ImageRow],
) -> QueryResult<()> {
    diesel::delete(product_images::table.filter(product_images::product_id.eq(product_id)))
        .execute(conn)
        .await?;
    if !rows.is_empty() {
        diesel::insert_into(product_images::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

// ---- product categories ----

/// `(product id, category)` pairs for the given products.
pub async fn categories_for(
    conn: &mut AsyncPgConnection,
    product_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, CategoryRow)>> {
    product_categories::table
        .inner_join(categories::table)
        .filter(product_categories::product_id.eq_any(product_ids))
        .select((product_categories::product_id, CategoryRow::as_select()))
        .order((categories::position, categories::name))
        .load(conn)
        .await
}

/// The products assigned to `category_id`.
pub async fn products_in_category(
    conn: &mut AsyncPgConnection,
    category_id: Uuid,
) -> QueryResult<Vec<Uuid>> {
    product_categories::table
        .filter(product_categories::category_id.eq(category_id))
        .select(product_categories::product_id)
        .load(conn)
        .await
}

pub async fn replace_product_categories(
    conn: &mut AsyncPgConnection,
    product_id: Uuid,
    category_ids: &[Uuid],
) -> QueryResult<()> {
    diesel::delete(product_categories::table.filter(product_categories::product_id.eq(product_id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = category_ids
        .iter()
        .map(|c| {
            (
                product_categories::product_id.eq(product_id),
                product_categories::category_id.eq(*c),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(product_categories::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

// ---- variants ----

pub async fn variants_for(
    conn: &mut AsyncPgConnection,
    product_ids: &[Uuid],
) -> QueryResult<Vec<VariantRow>> {
    product_variants::table
        .filter(product_variants::product_id.eq_any(product_ids))
        .select(VariantRow::as_select())
        .order((
            product_variants::product_id,
            product_variants::position,
            product_variants::created_at,
        ))
        .load(conn)
        .await
}

/// The id of the variant with this SKU.
pub async fn variant_by_sku(
    conn: &mut AsyncPgConnection,
    sku: &stateset_domain::Sku,
) -> QueryResult<Option<Uuid>> {
    product_variants::table
        .filter(product_variants::sku.eq(sku.as_str()))
        .select(product_variants::id)
        .first(conn)
        .await
        .optional()
}

pub async fn variants_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<VariantRow>> {
    product_variants::table
        .filter(product_variants::id.eq_any(ids))
        .select(VariantRow::as_select())
        .load(conn)
        .await
}

pub async fn insert_variants(conn: &mut AsyncPgConnection, rows: &[VariantRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(product_variants::table)
        .values(rows)
        .execute(conn)
        .await
        .map(drop)
}

/// The variant with this id, locked for the rest of the transaction.
pub async fn lock_variant(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<VariantRow>> {
    product_variants::table
        .find(id)
        .select(VariantRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update_variant(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &VariantChanges,
) -> QueryResult<VariantRow> {
    diesel::update(product_variants::table.find(id))
        .set(changes)
        .returning(VariantRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_variant(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(product_variants::table.find(id))
        .execute(conn)
        .await
}

/// The position after the last variant of a product.
pub async fn next_variant_position(
    conn: &mut AsyncPgConnection,
    product_id: Uuid,
) -> QueryResult<i32> {
    let max: Option<i32> = product_variants::table
        .filter(product_variants::product_id.eq(product_id))
        .select(diesel::dsl::max(product_variants::position))
        .first(conn)
        .await?;
    Ok(max.map_or(0, |m| m + 1))
}

// ---- categories ----

pub async fn insert_category(conn: &mut AsyncPgConnection, row: &CategoryRow) -> QueryResult<()> {
    diesel::insert_into(categories::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn category_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<CategoryRow>> {
    categories::table
        .find(id)
        .select(CategoryRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn all_categories(conn: &mut AsyncPgConnection) -> QueryResult<Vec<CategoryRow>> {
    categories::table
        .select(CategoryRow::as_select())
        .order((categories::position, categories::name, categories::id))
        .load(conn)
        .await
}

/// The ids among `ids` that name existing categories.
pub async fn existing_category_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<Uuid>> {
    categories::table
        .filter(categories::id.eq_any(ids))
        .select(categories::id)
        .load(conn)
        .await
}

/// The category itself and every ancestor up to its root.
pub async fn category_ancestry(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "WITH RECURSIVE up AS (SELECT id, parent_id FROM categories WHERE id = $1 \
         UNION ALL SELECT c.id, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id) \
         SELECT id FROM up",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

pub async fn child_category_count(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<i64> {
    categories::table
        .filter(categories::parent_id.eq(id))
        .count()
        .get_result(conn)
        .await
}

pub async fn update_category(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &CategoryChanges,
) -> QueryResult<CategoryRow> {
    diesel::update(categories::table.find(id))
        .set(changes)
        .returning(CategoryRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_category(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(categories::table.find(id))
        .execute(conn)
        .await
}

/// SKUs among `skus` already used by some variant other than `except`.
pub async fn taken_skus(
    conn: &mut AsyncPgConnection,
    skus: &[String],
    except: Option<Uuid>,
) -> QueryResult<Vec<String>> {
    let mut query = product_variants::table
        .filter(product_variants::sku.eq_any(skus))
        .select(product_variants::sku)
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(product_variants::id.ne(id));
    }
    query.load(conn).await
}
