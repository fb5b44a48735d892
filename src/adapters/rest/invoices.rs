//! `/api/v1/invoices`: list, read, print as PDF, create, issue, void, record payments.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{Invoice, InvoiceFilter, InvoiceStatus};
use crate::http::Caller;
use crate::services::invoices::{CreateInvoiceInput, RecordInvoicePaymentInput};

type ApiResult<T> = Result<T, ApiError>;

/// Filters and page of `GET /api/v1/invoices`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInvoicesParams {
    status: Option<InvoiceStatus>,
    customer_id: Option<Uuid>,
    order_id: Option<Uuid>,
    /// Only overdue invoices (`true`: open and past due) or only the others (`false`).
    overdue: Option<bool>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of invoices, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceList {
    pub items: Vec<Invoice>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    pub total_count: i64,
}

/// A PDF document (documentation only: the handler sends the bytes as they are).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PdfDocument(#[expect(dead_code, reason = "it only describes the response")] Vec<u8>);

operations! {
    get "/invoices" list_invoices needs "invoices:read"
        openapi(tag = "invoices", params(ListInvoicesParams),
            responses((status = 200, body = InvoiceList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(p): Query<ListInvoicesParams>)
        -> ApiResult<Json<InvoiceList>> {
        let filter = InvoiceFilter {
            status: p.status,
            customer_id: p.customer_id,
            order_id: p.order_id,
            overdue: p.overdue,
        };
        let page = super::paging::page_request(p.limit, p.cursor);
        let page = app
            .services
            .invoices
            .list_invoices(&ctx, filter, page)
            .await?;
        let next_cursor = page.next_cursor();
        Ok(Json(InvoiceList {
            items: page.items.into_iter().map(|(_, invoice)| invoice).collect(),
            next_cursor,
            total_count: page.total_count,
        }))
    }

    /// Makes an invoice for an order: a draft unless `issue` is true. One invoice per order that
    /// is not void (409 `CONFLICT` otherwise).
    post "/invoices" create_invoice needs "invoices:manage"
        openapi(tag = "invoices", request_body = CreateInvoiceInput,
            responses((status = 201, body = Invoice), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "CONFLICT: the order has an invoice; INVALID_STATE: it is cancelled"),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateInvoiceInput>)
        -> ApiResult<(StatusCode, Json<Invoice>)> {
        let invoice = app.services.invoices.create_invoice(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(invoice)))
    }

    get "/invoices/{id}" get_invoice needs "invoices:read"
        openapi(tag = "invoices", params(("id" = Uuid, Path, description = "Invoice id")),
            responses((status = 200, body = Invoice), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Invoice>> {
        Ok(Json(app.services.invoices.get_invoice(&ctx, id).await?))
    }

    /// The invoice as a printable A4 PDF.
    get "/invoices/{id}/pdf" invoice_pdf needs "invoices:read"
        openapi(tag = "invoices", params(("id" = Uuid, Path, description = "Invoice id")),
            responses((status = 200, body = PdfDocument, content_type = "application/pdf", description = "The invoice as a PDF document"),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Response> {
        let (invoice, bytes) = app.services.invoices.invoice_pdf(&ctx, id).await?;
        // The number is `INV-<year>-<digits>`: safe inside a quoted filename.
        let disposition = format!("inline; filename=\"{}.pdf\"", invoice.number);
        Ok((
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response())
    }

    /// Issues a draft: open, with a due date; the order's captured payments count as paid.
    post "/invoices/{id}/issue" issue_invoice needs "invoices:manage"
        openapi(tag = "invoices", params(("id" = Uuid, Path, description = "Invoice id")),
            responses((status = 200, body = Invoice), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "INVALID_STATE: not a draft")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Invoice>> {
        Ok(Json(app.services.invoices.issue_invoice(&ctx, id).await?))
    }

    /// Voids a draft or open invoice (never a paid one); it keeps its number.
    post "/invoices/{id}/void" void_invoice needs "invoices:manage"
        openapi(tag = "invoices", params(("id" = Uuid, Path, description = "Invoice id")),
            responses((status = 200, body = Invoice), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "INVALID_STATE: paid or void already")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Invoice>> {
        Ok(Json(app.services.invoices.void_invoice(&ctx, id).await?))
    }

    /// Records money received against an open invoice, at most the amount due.
    post "/invoices/{id}/payments" record_invoice_payment needs "invoices:manage"
        openapi(tag = "invoices", request_body = RecordInvoicePaymentInput,
            params(("id" = Uuid, Path, description = "Invoice id")),
            responses((status = 201, body = Invoice), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: not open"), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<RecordInvoicePaymentInput>,
        )
        -> ApiResult<(StatusCode, Json<Invoice>)> {
        let invoice = app
            .services
            .invoices
            .record_payment(&ctx, id, input)
            .await?;
        Ok((StatusCode::CREATED, Json(invoice)))
    }
}
