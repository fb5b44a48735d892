//! `stateset.v1.CatalogService`.

use tonic::{Request, Response, Status};

use super::pb::catalog_service_server::CatalogService;
use super::pb::{self, get_product_request::Lookup};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{Category, ProductFilter, SellableOf, StockLevel, VariantOption};
use crate::services::Error;
use crate::services::catalog::{
    CreateCategoryInput, CreateProductInput, ProductRef, UpdateCategoryInput, UpdateProductInput,
    UpdateVariantInput,
};

/// The catalog over gRPC.
pub struct CatalogGrpc {
    app: AppState,
}

impl CatalogGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

convert::proto_enum!(stock_level: StockLevel => pb::StockLevel, "stock level" {
    InStock <=> InStock,
    LowStock <=> LowStock,
    OutOfStock <=> OutOfStock,
});

fn category(c: Category) -> pb::Category {
    pb::Category {
        id: c.id.to_string(),
        parent_id: c.parent_id.map(|p| p.to_string()),
        name: c.name,
        slug: c.slug,
        description: c.description,
        position: c.position,
        created_at: Some(convert::timestamp(c.created_at)),
        updated_at: Some(convert::timestamp(c.updated_at)),
    }
}

fn optional_uuid(raw: Option<String>, field: &str) -> Result<Option<uuid::Uuid>, Error> {
    raw.map(|id| convert::uuid(&id, field)).transpose()
}

#[tonic::async_trait]
impl CatalogService for CatalogGrpc {
    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let ctx = call_ctx(&request);
        let lookup = match request.into_inner().lookup {
            Some(Lookup::Id(id)) => ProductRef::Id(convert::uuid(&id, "id").map_err(status)?),
            Some(Lookup::Slug(slug)) => ProductRef::Slug(slug),
            None => return Err(status(Error::invalid("lookup", "give `id` or `slug`"))),
        };
        let detail = self
            .app
            .services
            .catalog
            .get_product_detail(&ctx, lookup)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::product(detail)))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let filter = ProductFilter {
            status: convert::product_status_in(r.status, "status").map_err(status)?,
            category_id: convert::optional_uuid(r.category_id, "category_id").map_err(status)?,
            min_price: convert::decimal(r.min_price, "min_price").map_err(status)?,
            max_price: convert::decimal(r.max_price, "max_price").map_err(status)?,
            query: r.query,
        };
        let page = convert::page(r.page_size, r.page_token);
        let sort = convert::sort_in(r.sort).map_err(status)?;
        let page = self
            .app
            .services
            .catalog
            .list_product_details(&ctx, filter, sort, page)
            .await
            .map_err(status)?;
        let next_page_token = page.next_cursor().unwrap_or_default();
        let details: Vec<_> = page.items.into_iter().map(|(_, p)| p).collect();
        Ok(Response::new(pb::ListProductsResponse {
            products: details.into_iter().map(convert::product).collect(),
            next_page_token,
            total_count: page.total_count,
        }))
    }

    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = CreateProductInput {
                name: r.name,
                slug: r.slug,
                description: r.description,
                status: convert::product_status_in(r.status, "status").map_err(status)?,
                attributes: r.attributes.map(convert::struct_to_json),
                variants: r
                    .variants
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| convert::variant_in(v, &format!("variants[{i}]")))
                    .collect::<Result<_, _>>()
                    .map_err(status)?,
                images: r.images.into_iter().map(convert::image_in).collect(),
                category_ids: convert::uuids(&r.category_ids, "category_ids").map_err(status)?,
                tax_class: r.tax_class,
            };
            let detail = self
                .app
                .services
                .catalog
                .create_product(&ctx, input)
                .await
                .map_err(status)?;
            Ok(convert::product(detail))
        })
        .await
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateProductInput {
                name: r.name,
                slug: r.slug,
                description: r.description,
                status: convert::product_status_in(r.status, "status").map_err(status)?,
                attributes: r.attributes.map(convert::struct_to_json),
                images: r
                    .images
                    .map(|l| l.images.into_iter().map(convert::image_in).collect()),
                category_ids: r
                    .category_ids
                    .map(|l| convert::uuids(&l.ids, "category_ids"))
                    .transpose()
                    .map_err(status)?,
                tax_class: r.tax_class,
            };
            let detail = self
                .app
                .services
                .catalog
                .update_product(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(convert::product(detail))
        })
        .await
    }

    async fn delete_product(
        &self,
        request: Request<pb::DeleteProductRequest>,
    ) -> Result<Response<pb::DeleteProductResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            self.app
                .services
                .catalog
                .delete_product(&ctx, id)
                .await
                .map_err(status)?;
            Ok(pb::DeleteProductResponse {})
        })
        .await
    }

    async fn get_product_availability(
        &self,
        request: Request<pb::GetProductAvailabilityRequest>,
    ) -> Result<Response<pb::GetProductAvailabilityResponse>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.get_ref().id, "id").map_err(status)?;
        let shown = self
            .app
            .services
            .inventory
            .availability(&ctx, SellableOf::Product(id))
            .await
            .map_err(status)?;
        // As on REST: a product with nothing to show is one the caller may not see.
        if shown.is_empty() {
            return Err(status(Error::not_found("product", id)));
        }
        Ok(Response::new(pb::GetProductAvailabilityResponse {
            variants: shown
                .into_iter()
                .map(|a| pb::VariantAvailability {
                    variant_id: a.variant_id.to_string(),
                    sku: a.sku,
                    stock_level: stock_level(a.stock_level),
                    available: a.available,
                })
                .collect(),
        }))
    }

    async fn create_variant(
        &self,
        request: Request<pb::CreateVariantRequest>,
    ) -> Result<Response<pb::Variant>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let product_id = convert::uuid(&r.product_id, "product_id").map_err(status)?;
            let input = r
                .variant
                .ok_or_else(|| Error::invalid("variant", "is required"))
                .and_then(|v| convert::variant_in(v, "variant"))
                .map_err(status)?;
            let created = self
                .app
                .services
                .catalog
                .create_variant(&ctx, product_id, input);
            Ok(convert::variant(created.await.map_err(status)?))
        })
        .await
    }

    async fn update_variant(
        &self,
        request: Request<pb::UpdateVariantRequest>,
    ) -> Result<Response<pb::Variant>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateVariantInput {
                sku: r.sku,
                title: r.title,
                options: r.options.map(|list| {
                    list.options
                        .into_iter()
                        .map(|o| VariantOption {
                            name: o.name,
                            value: o.value,
                        })
                        .collect()
                }),
                price: r
                    .price
                    .map(|m| convert::money_in(Some(m), "price"))
                    .transpose()
                    .map_err(status)?,
                compare_at_price: r
                    .compare_at_price
                    .map(|m| convert::money_in(Some(m), "compare_at_price"))
                    .transpose()
                    .map_err(status)?,
                clear_compare_at_price: r.clear_compare_at_price,
                weight_grams: r.weight_grams,
                barcode: r.barcode,
                position: r.position,
            };
            let updated = self.app.services.catalog.update_variant(&ctx, id, input);
            Ok(convert::variant(updated.await.map_err(status)?))
        })
        .await
    }

    async fn delete_variant(
        &self,
        request: Request<pb::DeleteVariantRequest>,
    ) -> Result<Response<pb::DeleteVariantResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let deleted = self.app.services.catalog.delete_variant(&ctx, id);
            deleted.await.map_err(status)?;
            Ok(pb::DeleteVariantResponse {})
        })
        .await
    }

    async fn set_product_categories(
        &self,
        request: Request<pb::SetProductCategoriesRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.product_id, "product_id").map_err(status)?;
            let input = UpdateProductInput {
                category_ids: Some(
                    convert::uuids(&r.category_ids, "category_ids").map_err(status)?,
                ),
                ..Default::default()
            };
            let updated = self.app.services.catalog.update_product(&ctx, id, input);
            Ok(convert::product(updated.await.map_err(status)?))
        })
        .await
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let ctx = call_ctx(&request);
        let all = self.app.services.catalog.list_categories(&ctx).await;
        Ok(Response::new(pb::ListCategoriesResponse {
            categories: all.map_err(status)?.into_iter().map(category).collect(),
        }))
    }

    async fn get_category(
        &self,
        request: Request<pb::GetCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.get_ref().id, "id").map_err(status)?;
        let found = self.app.services.catalog.get_category(&ctx, id).await;
        Ok(Response::new(category(found.map_err(status)?)))
    }

    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = CreateCategoryInput {
                name: r.name,
                slug: r.slug,
                description: r.description,
                parent_id: optional_uuid(r.parent_id, "parent_id").map_err(status)?,
                position: r.position,
            };
            let created = self.app.services.catalog.create_category(&ctx, input);
            Ok(category(created.await.map_err(status)?))
        })
        .await
    }

    async fn update_category(
        &self,
        request: Request<pb::UpdateCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateCategoryInput {
                name: r.name,
                slug: r.slug,
                description: r.description,
                parent_id: optional_uuid(r.parent_id, "parent_id").map_err(status)?,
                move_to_root: r.move_to_root,
                position: r.position,
            };
            let updated = self.app.services.catalog.update_category(&ctx, id, input);
            Ok(category(updated.await.map_err(status)?))
        })
        .await
    }

    async fn delete_category(
        &self,
        request: Request<pb::DeleteCategoryRequest>,
    ) -> Result<Response<pb::DeleteCategoryResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let deleted = self.app.services.catalog.delete_category(&ctx, id);
            deleted.await.map_err(status)?;
            Ok(pb::DeleteCategoryResponse {})
        })
        .await
    }
}
