//! DataLoaders: batch the per-item loads of a list into one service call.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::to_graphql_error;
use crate::domain::Variant;
use crate::services::{CatalogService, Ctx};

/// Loads the variants of many products in one query.
pub struct VariantLoader {
    catalog: CatalogService,
    ctx: Ctx,
}

impl VariantLoader {
    pub fn new(catalog: CatalogService, ctx: Ctx) -> Self {
        Self { catalog, ctx }
    }
}

impl Loader<Uuid> for VariantLoader {
    type Value = Vec<Variant>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Variant>>, Self::Error> {
        self.catalog
            .variants_by_product(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}
