//! What the catalog keeps in the entity cache, and when it forgets it.
//!
//! Kept: each product as shown (with its images and categories) by id, each product's
//! variants by product id, and slugs to product ids. Never kept: stock, which every order
//! moves, and anything a price is taken from at checkout (carts and checkout read the
//! database themselves).
//!
//! Forgotten: by the catalog's own writes right after they commit, and, for caches in this
//! process, by every `product.*` and `category.*` event read from the outbox, which is how a
//! write on another instance reaches this one. A slug's entry is never forgotten: it is
//! trusted only while the product it points at still has that slug.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use crate::cache::{CacheSettings, EntityCache, Epoch, RedisPool};
use crate::metrics::Metrics;
use stateset_domain::{Event, Product, Variant};

use super::ProductRef;

/// The catalog's entity caches.
pub struct CatalogCache {
    products: EntityCache<Product>,
    slugs: EntityCache<Uuid>,
    variants: EntityCache<Vec<Variant>>,
}

/// Where to store a product that missed: the epochs its lookups saw.
pub(super) struct ProductMiss {
    product: Epoch,
    slug: Option<(String, Epoch)>,
}

impl ProductMiss {
    /// Whether [`CatalogCache::store_product`] will keep what is read now.
    pub(super) fn will_store(&self) -> bool {
        self.product.is_known()
    }
}

impl CatalogCache {
    /// Caches in Redis when `redis` is given, else in this process, under `namespace`.
    pub fn new(
        namespace: &str,
        settings: CacheSettings,
        redis: Option<RedisPool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            products: EntityCache::new(
                "product",
                namespace,
                settings,
                redis.clone(),
                metrics.clone(),
            ),
            slugs: EntityCache::new(
                "product_slug",
                namespace,
                settings,
                redis.clone(),
                metrics.clone(),
            ),
            variants: EntityCache::new("product_variants", namespace, settings, redis, metrics),
        }
    }

    /// Whether entries live in this process, so other instances' writes must reach them
    /// through the outbox events.
    pub(super) fn is_local(&self) -> bool {
        self.products.is_local()
    }

    /// The product `lookup` names, or what to store the database's answer under.
    pub(super) async fn product(&self, lookup: &ProductRef) -> Result<Product, ProductMiss> {
        let (id, slug) = match lookup {
            ProductRef::Id(id) => (Some(*id), None),
            ProductRef::Slug(slug) => {
                let (id, epoch) = self.slugs.get(slug).await;
                (id.map(|id| *id), Some((slug.clone(), epoch)))
            }
        };
        let (found, epoch) = match id {
            Some(id) => self.products.get(&id).await,
            None => (None, self.products.get_many::<Uuid>(&[]).await.1),
        };
        match (found, &slug) {
            (Some(product), None) => Ok((*product).clone()),
            (Some(product), Some((slug, _))) if product.slug == *slug => Ok((*product).clone()),
            _ => Err(ProductMiss {
                product: epoch,
                slug,
            }),
        }
    }

    /// Stores a product read from the database after [`CatalogCache::product`] missed.
    pub(super) async fn store_product(&self, miss: ProductMiss, product: &Product) {
        if let Some((slug, epoch)) = miss.slug {
            self.slugs.fill(epoch, vec![(slug, product.id)]).await;
        }
        self.products
            .fill(miss.product, vec![(product.id, product.clone())])
            .await;
    }

    /// The cached variants of each of `product_ids` that has them, and the epoch to store the
    /// rest under.
    pub(super) async fn variants(
        &self,
        product_ids: &[Uuid],
    ) -> (HashMap<Uuid, Vec<Variant>>, Epoch) {
        let (found, epoch) = self.variants.get_many(product_ids).await;
        let found = found
            .into_iter()
            .map(|(id, variants)| (id, (*variants).clone()))
            .collect();
        (found, epoch)
    }

    /// Stores the variants of products read from the database after a miss.
    pub(super) async fn store_variants(&self, epoch: Epoch, loaded: Vec<(Uuid, Vec<Variant>)>) {
        self.variants.fill(epoch, loaded).await;
    }

    /// Forgets what the catalog holds of `product_ids`, after a write to them committed.
    pub(super) async fn forget(&self, product_ids: &[Uuid]) {
        self.products.forget(product_ids).await;
        self.variants.forget(product_ids).await;
    }

    /// Forgets what an event read from the outbox changed, in this process. A category's
    /// name and slug are shown inside its products, so a category change forgets every
    /// product (categories change seldom).
    pub(super) fn apply(&self, event: &Event) {
        match event.entity_type.as_str() {
            "product" => {
                self.products.forget_local(&[event.entity_id]);
                self.variants.forget_local(&[event.entity_id]);
            }
            "category" => self.products.forget_all_local(),
            _ => {}
        }
    }
}
