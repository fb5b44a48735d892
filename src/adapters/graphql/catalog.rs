//! Catalog queries and mutations.

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Lookahead, Object, SimpleObject};
use uuid::Uuid;

use super::{
    ContextExt as _, GqlResult as _, ListTotals, ProductNode, VariantLoader, VariantNode,
    connection, page_request,
};
use crate::domain::{Category, ProductFilter, ProductSort};
use crate::services::Error;
use crate::services::catalog::{
    CreateCategoryInput, CreateProductInput, CreateVariantInput, ProductParts, ProductRef,
    UpdateCategoryInput, UpdateProductInput, UpdateVariantInput,
};

/// What a delete mutation reports.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The id of the deleted entity.
    pub deleted_id: Uuid,
}

#[ComplexObject]
impl ProductNode {
    /// Variants in display order, loaded for a whole list at once.
    async fn variants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<VariantNode>> {
        let loader = ctx.data::<DataLoader<VariantLoader>>()?;
        let variants = loader.load_one(self.id).await?.unwrap_or_default();
        super::inventory::with_stock(ctx, variants).await
    }
}

/// The related lists that the selections of products in `products` ask for; each is a query
/// of its own, so the others are not loaded.
fn selected_parts<'a>(products: impl IntoIterator<Item = Lookahead<'a>>) -> ProductParts {
    let mut parts = ProductParts {
        images: false,
        categories: false,
    };
    for product in products {
        parts.images |= product.field("images").exists();
        parts.categories |= product.field("categories").exists();
    }
    parts
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// One product, by `id` or by `slug` (give exactly one); `NOT_FOUND` when there is none.
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: Option<Uuid>,
        slug: Option<String>,
    ) -> async_graphql::Result<ProductNode> {
        let lookup = match (id, slug) {
            (Some(id), None) => ProductRef::Id(id),
            (None, Some(slug)) => ProductRef::Slug(slug),
            _ => return Err(Error::invalid("id", "give exactly one of `id` and `slug`")).gql(),
        };
        let parts = selected_parts([ctx.look_ahead()]);
        ctx.services()
            .catalog
            .get_product_with(ctx.call_ctx()?, lookup, parts)
            .await
            .gql()
            .map(Into::into)
    }

    /// Products, filtered and sorted, as a Relay connection (`first` at most 100, default 20).
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProductFilter>,
        #[graphql(default)] sort: ProductSort,
    ) -> async_graphql::Result<Connection<String, ProductNode, ListTotals>> {
        let selection = ctx.look_ahead();
        let parts = selected_parts([
            selection.field("nodes"),
            selection.field("edges").field("node"),
        ]);
        let page = ctx
            .services()
            .catalog
            .list_products_with(
                ctx.call_ctx()?,
                filter.unwrap_or_default(),
                sort,
                page_request(ctx, first, after),
                parts,
            )
            .await
            .gql()?;
        Ok(connection(page.map(Into::into)))
    }

    /// Every category; build the tree from `parentId`.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        ctx.services()
            .catalog
            .list_categories(ctx.call_ctx()?)
            .await
            .gql()
    }

    /// One category; `NOT_FOUND` when there is none.
    async fn category(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Category> {
        ctx.services()
            .catalog
            .get_category(ctx.call_ctx()?, id)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Creates a product, optionally with variants, images and categories.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> async_graphql::Result<ProductNode> {
        let detail = ctx
            .services()
            .catalog
            .create_product(ctx.call_ctx()?, input)
            .await
            .gql()?;
        Ok(detail.product.into())
    }

    /// Changes the given fields of a product.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateProductInput,
    ) -> async_graphql::Result<ProductNode> {
        let detail = ctx
            .services()
            .catalog
            .update_product(ctx.call_ctx()?, id, input)
            .await
            .gql()?;
        Ok(detail.product.into())
    }

    /// Deletes a product with its variants and images.
    async fn delete_product(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<DeletePayload> {
        ctx.services()
            .catalog
            .delete_product(ctx.call_ctx()?, id)
            .await
            .gql()?;
        Ok(DeletePayload { deleted_id: id })
    }

    /// Replaces the categories a product is assigned to.
    async fn assign_product_categories(
        &self,
        ctx: &Context<'_>,
        product_id: Uuid,
        category_ids: Vec<Uuid>,
    ) -> async_graphql::Result<ProductNode> {
        let input = UpdateProductInput {
            category_ids: Some(category_ids),
            ..Default::default()
        };
        let detail = ctx
            .services()
            .catalog
            .update_product(ctx.call_ctx()?, product_id, input)
            .await
            .gql()?;
        Ok(detail.product.into())
    }

    /// Adds a variant to a product.
    async fn create_product_variant(
        &self,
        ctx: &Context<'_>,
        product_id: Uuid,
        input: CreateVariantInput,
    ) -> async_graphql::Result<VariantNode> {
        ctx.services()
            .catalog
            .create_variant(ctx.call_ctx()?, product_id, input)
            .await
            .gql()
            .map(Into::into)
    }

    /// Changes the given fields of a variant.
    async fn update_product_variant(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateVariantInput,
    ) -> async_graphql::Result<VariantNode> {
        ctx.services()
            .catalog
            .update_variant(ctx.call_ctx()?, id, input)
            .await
            .gql()
            .map(Into::into)
    }

    /// Removes a variant.
    async fn delete_product_variant(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<DeletePayload> {
        ctx.services()
            .catalog
            .delete_variant(ctx.call_ctx()?, id)
            .await
            .gql()?;
        Ok(DeletePayload { deleted_id: id })
    }

    /// Creates a category, at the root or under `parentId`.
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
    ) -> async_graphql::Result<Category> {
        ctx.services()
            .catalog
            .create_category(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Changes or moves a category.
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateCategoryInput,
    ) -> async_graphql::Result<Category> {
        ctx.services()
            .catalog
            .update_category(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Deletes a category that has no subcategories.
    async fn delete_category(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<DeletePayload> {
        ctx.services()
            .catalog
            .delete_category(ctx.call_ctx()?, id)
            .await
            .gql()?;
        Ok(DeletePayload { deleted_id: id })
    }
}
