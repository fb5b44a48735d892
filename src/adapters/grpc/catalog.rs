//! `stateset.v1.CatalogService`.

use tonic::{Request, Response, Status};

use super::pb::catalog_service_server::CatalogService;
use super::pb::{self, get_product_request::Lookup};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::ProductFilter;
use crate::services::Error;
use crate::services::catalog::{CreateProductInput, ProductRef, UpdateProductInput};

/// The catalog over gRPC.
pub struct CatalogGrpc {
    app: AppState,
}

impl CatalogGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
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
            category_id: r
                .category_id
                .filter(|c| !c.is_empty())
                .map(|c| convert::uuid(&c, "category_id"))
                .transpose()
                .map_err(status)?,
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
}
