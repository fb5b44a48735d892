//! `stateset.v1.InvoiceService`: invoices over gRPC, each method one call of
//! [`InvoiceService`](crate::services::InvoiceService), the service REST and GraphQL call.

use tonic::{Request, Response, Status};

use super::pb::invoice_service_server::InvoiceService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{Invoice, InvoiceFilter, InvoiceLine, InvoicePayment, InvoiceStatus};
use crate::services::Error;
use crate::services::invoices::{CreateInvoiceInput, RecordInvoicePaymentInput};

/// Invoices over gRPC.
pub struct InvoicesGrpc {
    app: AppState,
}

impl InvoicesGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

convert::proto_enum!(status_out, status_in: InvoiceStatus => pb::InvoiceStatus, "invoice status" {
    Draft <=> Draft,
    Open <=> Open,
    Paid <=> Paid,
    Void <=> Void,
});

fn line(l: InvoiceLine) -> pb::InvoiceLine {
    pb::InvoiceLine {
        sku: l.sku,
        name: l.name,
        quantity: l.quantity,
        unit_price: Some(convert::money(l.unit_price)),
        discount: Some(convert::money(l.discount)),
        tax: Some(convert::money(l.tax)),
        total: Some(convert::money(l.total)),
    }
}

fn payment(p: InvoicePayment) -> pb::InvoicePayment {
    pb::InvoicePayment {
        id: p.id.to_string(),
        amount: Some(convert::money(p.amount)),
        method: p.method,
        reference: p.reference,
        payment_id: p.payment_id.map(|id| id.to_string()),
        recorded_by: p.recorded_by,
        created_at: Some(convert::timestamp(p.created_at)),
    }
}

fn invoice(i: Invoice) -> pb::Invoice {
    pb::Invoice {
        id: i.id.to_string(),
        number: i.number,
        order_id: i.order_id.to_string(),
        order_number: i.order_number,
        customer_id: i.customer_id.to_string(),
        status: status_out(i.status),
        currency: i.currency,
        lines: i.lines.into_iter().map(line).collect(),
        subtotal: Some(convert::money(i.subtotal)),
        discount_total: Some(convert::money(i.discount_total)),
        tax_total: Some(convert::money(i.tax_total)),
        shipping_total: Some(convert::money(i.shipping_total)),
        total: Some(convert::money(i.total)),
        amount_paid: Some(convert::money(i.amount_paid)),
        amount_due: Some(convert::money(i.amount_due)),
        seller: Some(pb::InvoiceSeller {
            name: i.seller.name,
            address: i.seller.address,
            tax_id: i.seller.tax_id,
        }),
        buyer: Some(pb::InvoiceBuyer {
            name: i.buyer.name,
            email: i.buyer.email,
            address: i.buyer.address.map(convert::address),
        }),
        payments: i.payments.into_iter().map(payment).collect(),
        issued_at: i.issued_at.map(convert::timestamp),
        due_at: i.due_at.map(convert::timestamp),
        paid_at: i.paid_at.map(convert::timestamp),
        voided_at: i.voided_at.map(convert::timestamp),
        overdue: i.overdue,
        reminders_sent: i.reminders_sent,
        last_reminded_at: i.last_reminded_at.map(convert::timestamp),
        created_at: Some(convert::timestamp(i.created_at)),
        updated_at: Some(convert::timestamp(i.updated_at)),
    }
}

#[tonic::async_trait]
impl InvoiceService for InvoicesGrpc {
    async fn list_invoices(
        &self,
        request: Request<pb::ListInvoicesRequest>,
    ) -> Result<Response<pb::ListInvoicesResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let filter = InvoiceFilter {
            status: status_in(r.status, "status").map_err(status)?,
            customer_id: convert::optional_uuid(r.customer_id, "customer_id").map_err(status)?,
            order_id: convert::optional_uuid(r.order_id, "order_id").map_err(status)?,
            overdue: r.overdue,
        };
        let page = convert::page(r.page_size, r.page_token);
        let page = self
            .app
            .services
            .invoices
            .list_invoices(&ctx, filter, page)
            .await
            .map_err(status)?;
        let (invoices, next_page_token, total_count) = convert::paged(page, invoice);
        Ok(Response::new(pb::ListInvoicesResponse {
            invoices,
            next_page_token,
            total_count,
        }))
    }

    async fn get_invoice(
        &self,
        request: Request<pb::GetInvoiceRequest>,
    ) -> Result<Response<pb::Invoice>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .invoices
            .get_invoice(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(invoice(found)))
    }

    async fn get_invoice_pdf(
        &self,
        request: Request<pb::GetInvoicePdfRequest>,
    ) -> Result<Response<pb::InvoicePdf>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let (printed, content) = self
            .app
            .services
            .invoices
            .invoice_pdf(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::InvoicePdf {
            invoice_id: printed.id.to_string(),
            filename: format!("{}.pdf", printed.number),
            number: printed.number,
            content_type: "application/pdf".into(),
            content,
        }))
    }

    async fn create_invoice(
        &self,
        request: Request<pb::CreateInvoiceRequest>,
    ) -> Result<Response<pb::Invoice>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let input = CreateInvoiceInput {
                order_id: convert::uuid(&r.order_id, "order_id").map_err(status)?,
                issue: Some(r.issue),
            };
            let created = self
                .app
                .services
                .invoices
                .create_invoice(&ctx, input)
                .await
                .map_err(status)?;
            Ok(invoice(created))
        })
        .await
    }

    async fn issue_invoice(
        &self,
        request: Request<pb::IssueInvoiceRequest>,
    ) -> Result<Response<pb::Invoice>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let issued = self
                .app
                .services
                .invoices
                .issue_invoice(&ctx, id)
                .await
                .map_err(status)?;
            Ok(invoice(issued))
        })
        .await
    }

    async fn void_invoice(
        &self,
        request: Request<pb::VoidInvoiceRequest>,
    ) -> Result<Response<pb::Invoice>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let voided = self
                .app
                .services
                .invoices
                .void_invoice(&ctx, id)
                .await
                .map_err(status)?;
            Ok(invoice(voided))
        })
        .await
    }

    async fn record_invoice_payment(
        &self,
        request: Request<pb::RecordInvoicePaymentRequest>,
    ) -> Result<Response<pb::Invoice>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            // The amount is required here, as in REST's body; the service checks the rest.
            let amount = convert::decimal(Some(r.amount.clone()), "amount")
                .and_then(|a| a.ok_or_else(|| Error::invalid("amount", "is required")))
                .map_err(status)?;
            let input = RecordInvoicePaymentInput {
                amount,
                reference: r.reference.clone(),
                method: r.method.clone(),
            };
            let recorded = self
                .app
                .services
                .invoices
                .record_payment(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(invoice(recorded))
        })
        .await
    }
}
