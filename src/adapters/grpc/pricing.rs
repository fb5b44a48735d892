//! `stateset.v1.PricingService`.

use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use super::pb::pricing_service_server::PricingService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{DiscountCode, DiscountKind, RateBand, RateKind, ShippingMethod, TaxRate};
use crate::services::Error;
use crate::services::pricing::{
    CreateDiscountCodeInput, CreateShippingMethodInput, CreateTaxRateInput,
};

/// Shipping methods, tax rates and discount codes over gRPC.
pub struct PricingGrpc {
    app: AppState,
}

impl PricingGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

convert::proto_enum!(rate_kind, rate_kind_in: RateKind => pb::RateKind, "rate kind" {
    Flat <=> Flat,
    Weight <=> Weight,
    Value <=> Value,
});

convert::proto_enum!(discount_kind, discount_kind_in: DiscountKind => pb::DiscountKind, "discount kind" {
    Percentage <=> Percentage,
    FixedAmount <=> FixedAmount,
    FreeShipping <=> FreeShipping,
});

/// A decimal the request must carry.
fn required_decimal(raw: String, field: &str) -> Result<Decimal, Error> {
    convert::decimal(Some(raw), field)?.ok_or_else(|| Error::invalid(field, "is required"))
}

fn shipping_method(m: ShippingMethod) -> pb::ShippingMethod {
    pb::ShippingMethod {
        id: m.id.to_string(),
        name: m.name,
        carrier: m.carrier,
        service: m.service,
        countries: m.countries,
        regions: m.regions,
        kind: rate_kind(m.kind),
        rate: m.rate.to_string(),
        bands: m
            .bands
            .into_iter()
            .map(|b| pb::RateBand {
                up_to: b.up_to.to_string(),
                rate: b.rate.to_string(),
            })
            .collect(),
        free_over: m.free_over.map(|d| d.to_string()),
        currency: m.currency,
        min_days: m.min_days,
        max_days: m.max_days,
        active: m.active,
    }
}

fn tax_rate(t: TaxRate) -> pb::TaxRate {
    pb::TaxRate {
        id: t.id.to_string(),
        name: t.name,
        country: t.country,
        region: t.region,
        tax_class: t.tax_class,
        rate: t.rate.to_string(),
        prices_include_tax: t.prices_include_tax,
        applies_to_shipping: t.applies_to_shipping,
    }
}

fn discount_code(d: DiscountCode) -> pb::DiscountCode {
    pb::DiscountCode {
        id: d.id.to_string(),
        code: d.code,
        kind: discount_kind(d.kind),
        value: d.value.to_string(),
        min_order_value: d.min_order_value.map(|v| v.to_string()),
        starts_at: d.starts_at.map(convert::timestamp),
        ends_at: d.ends_at.map(convert::timestamp),
        usage_limit: d.usage_limit,
        per_customer_limit: d.per_customer_limit,
        times_used: d.times_used,
        active: d.active,
    }
}

fn shipping_method_in(
    r: pb::CreateShippingMethodRequest,
) -> Result<CreateShippingMethodInput, Error> {
    Ok(CreateShippingMethodInput {
        name: r.name,
        carrier: r.carrier,
        service: r.service,
        countries: r.countries,
        regions: r.regions,
        kind: rate_kind_in(r.kind, "kind")?.ok_or_else(|| Error::invalid("kind", "is required"))?,
        rate: convert::decimal(r.rate, "rate")?,
        bands: r
            .bands
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                Ok(RateBand {
                    up_to: required_decimal(b.up_to, &format!("bands[{i}].up_to"))?,
                    rate: required_decimal(b.rate, &format!("bands[{i}].rate"))?,
                })
            })
            .collect::<Result<_, Error>>()?,
        free_over: convert::decimal(r.free_over, "free_over")?,
        currency: r.currency,
        min_days: r.min_days,
        max_days: r.max_days,
        active: r.active,
    })
}

fn discount_code_in(r: pb::CreateDiscountCodeRequest) -> Result<CreateDiscountCodeInput, Error> {
    Ok(CreateDiscountCodeInput {
        code: r.code,
        kind: discount_kind_in(r.kind, "kind")?
            .ok_or_else(|| Error::invalid("kind", "is required"))?,
        value: convert::decimal(r.value, "value")?,
        min_order_value: convert::decimal(r.min_order_value, "min_order_value")?,
        starts_at: convert::time_in(r.starts_at, "starts_at")?,
        ends_at: convert::time_in(r.ends_at, "ends_at")?,
        usage_limit: r.usage_limit,
        per_customer_limit: r.per_customer_limit,
        active: r.active,
    })
}

#[tonic::async_trait]
impl PricingService for PricingGrpc {
    async fn list_shipping_methods(
        &self,
        request: Request<pb::ListShippingMethodsRequest>,
    ) -> Result<Response<pb::ListShippingMethodsResponse>, Status> {
        let ctx = call_ctx(&request);
        let methods = self.app.services.pricing.shipping_methods(&ctx).await;
        Ok(Response::new(pb::ListShippingMethodsResponse {
            shipping_methods: methods
                .map_err(status)?
                .into_iter()
                .map(shipping_method)
                .collect(),
        }))
    }

    async fn create_shipping_method(
        &self,
        request: Request<pb::CreateShippingMethodRequest>,
    ) -> Result<Response<pb::ShippingMethod>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = shipping_method_in(r).map_err(status)?;
            let created = self
                .app
                .services
                .pricing
                .create_shipping_method(&ctx, input);
            Ok(shipping_method(created.await.map_err(status)?))
        })
        .await
    }

    async fn delete_shipping_method(
        &self,
        request: Request<pb::DeleteShippingMethodRequest>,
    ) -> Result<Response<pb::DeleteShippingMethodResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let deleted = self.app.services.pricing.delete_shipping_method(&ctx, id);
            deleted.await.map_err(status)?;
            Ok(pb::DeleteShippingMethodResponse {})
        })
        .await
    }

    async fn list_tax_rates(
        &self,
        request: Request<pb::ListTaxRatesRequest>,
    ) -> Result<Response<pb::ListTaxRatesResponse>, Status> {
        let ctx = call_ctx(&request);
        let rates = self.app.services.pricing.tax_rates(&ctx).await;
        Ok(Response::new(pb::ListTaxRatesResponse {
            tax_rates: rates.map_err(status)?.into_iter().map(tax_rate).collect(),
        }))
    }

    async fn create_tax_rate(
        &self,
        request: Request<pb::CreateTaxRateRequest>,
    ) -> Result<Response<pb::TaxRate>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = CreateTaxRateInput {
                name: r.name,
                country: r.country,
                region: r.region,
                tax_class: r.tax_class,
                rate: required_decimal(r.rate, "rate").map_err(status)?,
                prices_include_tax: r.prices_include_tax,
                applies_to_shipping: r.applies_to_shipping,
            };
            let created = self.app.services.pricing.create_tax_rate(&ctx, input);
            Ok(tax_rate(created.await.map_err(status)?))
        })
        .await
    }

    async fn delete_tax_rate(
        &self,
        request: Request<pb::DeleteTaxRateRequest>,
    ) -> Result<Response<pb::DeleteTaxRateResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let deleted = self.app.services.pricing.delete_tax_rate(&ctx, id);
            deleted.await.map_err(status)?;
            Ok(pb::DeleteTaxRateResponse {})
        })
        .await
    }

    async fn list_discount_codes(
        &self,
        request: Request<pb::ListDiscountCodesRequest>,
    ) -> Result<Response<pb::ListDiscountCodesResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let page = self
            .app
            .services
            .pricing
            .discount_codes(&ctx, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (discount_codes, next_page_token, total_count) = convert::paged(page, discount_code);
        Ok(Response::new(pb::ListDiscountCodesResponse {
            discount_codes,
            next_page_token,
            total_count,
        }))
    }

    async fn create_discount_code(
        &self,
        request: Request<pb::CreateDiscountCodeRequest>,
    ) -> Result<Response<pb::DiscountCode>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = discount_code_in(r).map_err(status)?;
            let created = self.app.services.pricing.create_discount_code(&ctx, input);
            Ok(discount_code(created.await.map_err(status)?))
        })
        .await
    }

    async fn delete_discount_code(
        &self,
        request: Request<pb::DeleteDiscountCodeRequest>,
    ) -> Result<Response<pb::DeleteDiscountCodeResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let deleted = self.app.services.pricing.delete_discount_code(&ctx, id);
            deleted.await.map_err(status)?;
            Ok(pb::DeleteDiscountCodeResponse {})
        })
        .await
    }
}
