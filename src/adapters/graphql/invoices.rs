//! Invoices over GraphQL: list and read them, make, issue and void them, record payments.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _, ListTotals, connection, page_request};
use crate::domain::{Invoice, InvoiceFilter};
use crate::services::invoices::{CreateInvoiceInput, RecordInvoicePaymentInput};

#[derive(Default)]
pub struct InvoiceQuery;

#[Object]
impl InvoiceQuery {
    /// One invoice.
    async fn invoice(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Invoice> {
        ctx.services()
            .invoices
            .get_invoice(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Invoices, newest first, as a Relay connection.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<InvoiceFilter>,
    ) -> async_graphql::Result<Connection<String, Invoice, ListTotals>> {
        let page = ctx
            .services()
            .invoices
            .list_invoices(
                ctx.call_ctx()?,
                filter.unwrap_or_default(),
                page_request(ctx, first, after),
            )
            .await
            .gql()?;
        Ok(connection(page))
    }
}

#[derive(Default)]
pub struct InvoiceMutation;

#[Object]
impl InvoiceMutation {
    /// Makes an invoice for an order: a draft unless `issue` is true. `CONFLICT` when the order
    /// has an invoice that is not void.
    async fn create_invoice(
        &self,
        ctx: &Context<'_>,
        order_id: Uuid,
        #[graphql(default)] issue: bool,
    ) -> async_graphql::Result<Invoice> {
        let input = CreateInvoiceInput {
            order_id,
            issue: Some(issue),
        };
        ctx.services()
            .invoices
            .create_invoice(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Issues a draft invoice.
    async fn issue_invoice(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Invoice> {
        ctx.services()
            .invoices
            .issue_invoice(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Voids a draft or open invoice.
    async fn void_invoice(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Invoice> {
        ctx.services()
            .invoices
            .void_invoice(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Records money received against an open invoice, at most the amount due.
    async fn record_invoice_payment(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: RecordInvoicePaymentInput,
    ) -> async_graphql::Result<Invoice> {
        ctx.services()
            .invoices
            .record_payment(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }
}
