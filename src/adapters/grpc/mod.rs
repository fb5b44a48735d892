//! The gRPC door (tonic): `stateset.v1.CatalogService`, `CartService`, `CheckoutService`,
//! `PricingService`, `OrderService`, `CustomerService`, `InventoryService`, `PaymentService`,
//! `InvoiceService`, `ShipmentService`, `WebhookService`, `IdentityService`, `EventService`,
//! health and server reflection.

mod carts;
mod catalog;
mod checkout;
mod convert;
mod events;
mod identity;
mod inventory;
mod invoices;
mod orders;
mod payments;
mod pricing;
mod shipments;
mod webhooks;

use std::net::SocketAddr;

use axum::extract::State;
use axum::middleware::Next;
use tonic::metadata::MetadataValue;
use tonic::transport::server::TcpConnectInfo;
use tonic::{GrpcMethod, Response, Status};

use crate::app::AppState;
use crate::auth::Principal;
use crate::services::idempotency::{Outcome, Ran, StoredResponse, check_key, request_hash};
use crate::services::{Ctx, Error};

/// Code generated from `proto/stateset/v1/*.proto`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("stateset.v1");

    /// The encoded descriptors that reflection serves, imports included.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("stateset_descriptor");
}

pub use carts::CartsGrpc;
pub use catalog::CatalogGrpc;
pub use checkout::CheckoutGrpc;
pub use events::EventsGrpc;
pub use identity::IdentityGrpc;
pub use inventory::InventoryGrpc;
pub use invoices::InvoicesGrpc;
pub use orders::OrdersGrpc;
pub use payments::PaymentsGrpc;
pub use pricing::PricingGrpc;
pub use shipments::ShipmentsGrpc;
pub use webhooks::WebhooksGrpc;

/// The domain named in every `google.rpc.ErrorInfo` we send.
pub const ERROR_DOMAIN: &str = "stateset.v1";

/// The one mapping from service errors to gRPC statuses. The details are the standard
/// `google.rpc` ones: `ErrorInfo` (reason = the stable code, such as `VALIDATION`, with the
/// error's facts as metadata), `BadRequest` with one field violation per bad field, and
/// `RetryInfo` when the caller should wait.
pub fn status(err: Error) -> Status {
    use tonic::Code;
    use tonic_types::{BadRequest, ErrorDetail, ErrorInfo, FieldViolation, RetryInfo, StatusExt};
    if err.is_server_fault() {
        tracing::error!(error = ?err, "gRPC request failed");
    }
    let code = match &err {
        Error::NotFound { .. } => Code::NotFound,
        Error::Validation(_) => Code::InvalidArgument,
        Error::Conflict { .. } => Code::AlreadyExists,
        Error::InvalidState { .. }
        | Error::InsufficientStock { .. }
        | Error::PaymentDeclined { .. } => Code::FailedPrecondition,
        Error::Unauthenticated => Code::Unauthenticated,
        Error::Forbidden { .. } => Code::PermissionDenied,
        Error::Lagged { .. } => Code::ResourceExhausted,
        Error::RateLimited { .. } => Code::ResourceExhausted,
        Error::IdempotencyKeyReused => Code::InvalidArgument,
        Error::IdempotencyInFlight { .. } => Code::Aborted,
        Error::Unavailable(_) => Code::Unavailable,
        Error::Internal(_) => Code::Internal,
    };
    let mut details: Vec<ErrorDetail> =
        vec![ErrorInfo::new(err.code(), ERROR_DOMAIN, error_facts(&err)).into()];
    if let Error::Validation(fields) = &err {
        let violations = fields
            .iter()
            .map(|f| FieldViolation::new(f.field.clone(), f.message.clone()))
            .collect::<Vec<_>>();
        details.push(BadRequest::new(violations).into());
    }
    if let Some(seconds) = err.retry_after() {
        details.push(RetryInfo::new(Some(std::time::Duration::from_secs(seconds))).into());
    }
    let mut status = Status::with_error_details_vec(code, err.to_string(), details);
    if let Ok(value) = err.code().parse() {
        status.metadata_mut().insert("x-error-code", value);
    }
    if let Some(seconds) = err.retry_after() {
        status.metadata_mut().insert("retry-after", seconds.into());
    }
    status
}

/// The error's facts (`entity`, `id`, `from`, `sku`, ...) as `ErrorInfo` metadata: text as it
/// is, other values as JSON. Bad fields travel in `BadRequest` instead.
fn error_facts(err: &Error) -> std::collections::HashMap<String, String> {
    let serde_json::Value::Object(facts) = err.details() else {
        return Default::default();
    };
    facts
        .into_iter()
        .filter(|(name, value)| name != "fields" && !value.is_null())
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => (name, text),
            other => (name, other.to_string()),
        })
        .collect()
}

/// Admits every call to our services before it reaches a method: its credentials
/// (`authorization: Bearer ...` or `x-api-key` metadata) become a principal, and the caller's
/// rate limit for the method (`/package.Service/Method`) is charged. A refusal is the gRPC
/// status of the error; the principal is left in the request's extensions for [`call_ctx`].
async fn admit(
    State(app): State<AppState>,
    mut request: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    // The same reading of credentials as HTTP's (`x-api-key` first, then `authorization`).
    let credentials = crate::http::credentials(request.headers());
    let client_ip = request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .map(|addr| addr.ip());
    let method = request.uri().path().to_owned();
    match app
        .admission
        .admit(&credentials, client_ip, Some(&method))
        .await
    {
        Ok(admitted) => {
            request.extensions_mut().insert(admitted.principal);
            next.run(request).await
        }
        Err(err) => status(err).into_http(),
    }
}

/// The call context of an admitted gRPC request: the principal [`admit`] left, the
/// `x-request-id` and `idempotency-key` metadata.
pub fn call_ctx<T>(request: &tonic::Request<T>) -> Ctx {
    let text = |name: &str| {
        request
            .metadata()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or(Principal::Anonymous);
    Ctx::new(
        principal,
        text("x-request-id").unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        text("idempotency-key"),
    )
}

/// When the caller stops waiting: now plus its `grpc-timeout` metadata (at most eight digits
/// and a unit: `H`, `M`, `S`, `m`, `u` or `n`). Unset, or unreadable, is no deadline.
pub fn deadline_of<T>(request: &tonic::Request<T>) -> Option<tokio::time::Instant> {
    use std::time::Duration;
    let raw = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    Some(tokio::time::Instant::now() + timeout)
}

/// The method called, as tonic names it: `/stateset.v1.CatalogService/CreateProduct`.
pub fn method_of<T>(request: &tonic::Request<T>) -> String {
    request
        .extensions()
        .get::<GrpcMethod<'static>>()
        .map_or_else(String::new, |m| format!("/{}/{}", m.service(), m.method()))
}

/// Runs a mutation at most once per `idempotency-key` metadata value: a retry with the same
/// key and request gets the first response again (marked `idempotent-replayed: true`), the
/// same key with another request is `INVALID_ARGUMENT`, one still running is `ABORTED`.
/// Failed calls are not kept, so retrying them runs them again.
pub async fn idempotent<Res>(
    app: &AppState,
    ctx: &Ctx,
    method: &str,
    request: &impl prost::Message,
    run: impl Future<Output = Result<Res, Status>>,
) -> Result<Response<Res>, Status>
where
    Res: prost::Message + Default,
{
    let Some(key) = ctx.idempotency_key.as_deref() else {
        return run.await.map(Response::new);
    };
    check_key("idempotency-key", key).map_err(status)?;
    let scope = format!("{}|grpc {method}", ctx.principal.key());
    let hash = request_hash(&[method.as_bytes(), &request.encode_to_vec()]);
    let call = async {
        match run.await {
            Ok(message) => {
                let stored = StoredResponse {
                    status: 200,
                    body: message.encode_to_vec(),
                    content_type: Some("application/grpc+proto".into()),
                };
                Outcome::Keep(Ok(message), stored)
            }
            Err(failure) => Outcome::Forget(Err(failure)),
        }
    };
    let ran = app
        .services
        .idempotency
        .run_once(&scope, key, &hash, call)
        .await
        .map_err(status)?;
    match ran {
        Ran::Replayed(stored) => {
            let message = Res::decode(stored.body.as_slice()).map_err(|e| {
                status(Error::Internal(anyhow::anyhow!(
                    "stored response unreadable: {e}"
                )))
            })?;
            let mut response = Response::new(message);
            response
                .metadata_mut()
                .insert("idempotent-replayed", MetadataValue::from_static("true"));
            Ok(response)
        }
        Ran::Ran(answer) => answer.map(Response::new),
    }
}

/// Serves gRPC on `addr` until `shutdown` resolves, then drains in-flight calls.
pub async fn serve(
    app: AppState,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(app, listener, shutdown).await
}

/// Serves gRPC on an already bound listener (tests bind port 0).
pub async fn serve_on(
    app: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use pb::cart_service_server::CartServiceServer;
    use pb::catalog_service_server::CatalogServiceServer;
    use pb::checkout_service_server::CheckoutServiceServer;
    use pb::customer_service_server::CustomerServiceServer;
    use pb::event_service_server::EventServiceServer;
    use pb::identity_service_server::IdentityServiceServer;
    use pb::inventory_service_server::InventoryServiceServer;
    use pb::invoice_service_server::InvoiceServiceServer;
    use pb::order_service_server::OrderServiceServer;
    use pb::payment_service_server::PaymentServiceServer;
    use pb::pricing_service_server::PricingServiceServer;
    use pb::shipment_service_server::ShipmentServiceServer;
    use pb::webhook_service_server::WebhookServiceServer;
    use tonic::codec::CompressionEncoding;
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<CatalogServiceServer<CatalogGrpc>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // Every service takes gzip requests and answers in gzip to a client that asks for it.
    macro_rules! gzip {
        ($server:expr) => {
            $server
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
        };
    }
    // Our services pass admission; health and reflection are open, as probes need.
    let ours = tonic::service::Routes::new(gzip!(CatalogServiceServer::new(CatalogGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(OrderServiceServer::new(OrdersGrpc::new(app.clone()))))
    .add_service(gzip!(CustomerServiceServer::new(OrdersGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(InventoryServiceServer::new(InventoryGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(PaymentServiceServer::new(PaymentsGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(InvoiceServiceServer::new(InvoicesGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(WebhookServiceServer::new(WebhooksGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(EventServiceServer::new(EventsGrpc::new(app.clone()))))
    .add_service(gzip!(IdentityServiceServer::new(IdentityGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(CartServiceServer::new(CartsGrpc::new(app.clone()))))
    .add_service(gzip!(CheckoutServiceServer::new(CheckoutGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(PricingServiceServer::new(PricingGrpc::new(
        app.clone()
    ))))
    .add_service(gzip!(ShipmentServiceServer::new(ShipmentsGrpc::new(
        app.clone()
    ))))
    .prepare()
    .into_axum_router()
    .layer(axum::middleware::from_fn_with_state(app, admit))
    // As on HTTP: a call keeps the client's `x-request-id` or gets one, and the
    // response metadata carries it back.
    .layer(PropagateRequestIdLayer::new(crate::http::REQUEST_ID))
    .layer(SetRequestIdLayer::new(
        crate::http::REQUEST_ID,
        MakeRequestUuid,
    ));
    tonic::transport::Server::builder()
        .add_routes(ours.into())
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await?;
    Ok(())
}
