//! `stateset.v1.PaymentService`.

use tonic::{Request, Response, Status};

use super::pb::payment_service_server::PaymentService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{
    Payment, PaymentStatus, Stablecoin, StablecoinReconciliation, StablecoinRequest,
};
use crate::services::Error;
use crate::services::payments::stablepay::StablecoinInput;
use crate::services::payments::{CaptureInput, CardInput, CreatePaymentInput, RefundInput};

/// Payments over gRPC.
pub struct PaymentsGrpc {
    app: AppState,
}

impl PaymentsGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

convert::proto_enum!(payment_status: PaymentStatus => pb::PaymentStatus, "payment status" {
    Pending <=> Pending,
    Authorized <=> Authorized,
    Captured <=> Captured,
    Failed <=> Failed,
    Voided <=> Voided,
    Expired <=> Expired,
    PartiallyRefunded <=> PartiallyRefunded,
    Refunded <=> Refunded,
});

pub(super) fn payment(p: Payment) -> pb::Payment {
    pb::Payment {
        id: p.id.to_string(),
        order_id: p.order_id.to_string(),
        provider: p.provider,
        provider_reference: p.provider_reference,
        status: payment_status(p.status),
        amount: Some(convert::money(p.amount)),
        captured: Some(convert::money(p.captured)),
        refunded: Some(convert::money(p.refunded)),
        card_brand: p.card_brand,
        card_last4: p.card_last4,
        failure_code: p.failure_code,
        stablecoin: p.stablecoin.map(stablecoin_request),
        created_at: Some(convert::timestamp(p.created_at)),
        updated_at: Some(convert::timestamp(p.updated_at)),
    }
}

fn stablecoin_request(s: StablecoinRequest) -> pb::StablecoinRequest {
    pb::StablecoinRequest {
        asset: s.asset.as_str().to_owned(),
        network: s.network,
        address: s.address,
        amount: s.amount.to_string(),
        received: s.received.to_string(),
        state: s.state.as_str().to_owned(),
        expires_at: Some(convert::timestamp(s.expires_at)),
    }
}

fn reconciliation(report: StablecoinReconciliation) -> pb::StablecoinReconciliation {
    pb::StablecoinReconciliation {
        from: Some(convert::timestamp(report.from)),
        to: Some(convert::timestamp(report.to)),
        lines: report
            .lines
            .into_iter()
            .map(|line| pb::StablecoinReconciliationLine {
                payment_id: line.payment_id.to_string(),
                order_id: line.order_id.to_string(),
                payment_status: payment_status(line.payment_status),
                request: Some(stablecoin_request(line.request)),
                outstanding: line.outstanding.to_string(),
                refund_due: line.refund_due.to_string(),
            })
            .collect(),
        totals: report
            .totals
            .into_iter()
            .map(|total| pb::StablecoinTotals {
                asset: total.asset.as_str().to_owned(),
                requested: total.requested.to_string(),
                received: total.received.to_string(),
                outstanding: total.outstanding.to_string(),
                refund_due: total.refund_due.to_string(),
            })
            .collect(),
    }
}

fn stablecoin_in(s: pb::StablecoinInput) -> Result<StablecoinInput, Error> {
    let asset = Stablecoin::parse(&s.asset)
        .ok_or_else(|| Error::invalid("stablecoin.asset", "must be USDC or USDT"))?;
    Ok(StablecoinInput {
        asset,
        network: s.network,
    })
}

#[tonic::async_trait]
impl PaymentService for PaymentsGrpc {
    async fn create_payment(
        &self,
        request: Request<pb::CreatePaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = CreatePaymentInput {
                order_id: convert::uuid(&r.order_id, "order_id").map_err(status)?,
                amount: convert::decimal(r.amount, "amount").map_err(status)?,
                payment_token: r.payment_token.filter(|t| !t.is_empty()),
                capture: r.capture,
                stablecoin: r
                    .stablecoin
                    .map(stablecoin_in)
                    .transpose()
                    .map_err(status)?,
            };
            let created = self
                .app
                .services
                .payments
                .create_payment(&ctx, input)
                .await
                .map_err(status)?;
            Ok(payment(created))
        })
        .await
    }

    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .payments
            .get(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(payment(found)))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let ctx = call_ctx(&request);
        let order_id = convert::uuid(&request.into_inner().order_id, "order_id").map_err(status)?;
        let payments = self
            .app
            .services
            .payments
            .payments_of_order(&ctx, order_id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListPaymentsResponse {
            payments: payments.into_iter().map(payment).collect(),
        }))
    }

    async fn capture_payment(
        &self,
        request: Request<pb::CapturePaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = CaptureInput {
                amount: convert::decimal(r.amount, "amount").map_err(status)?,
            };
            let captured = self
                .app
                .services
                .payments
                .capture(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(payment(captured))
        })
        .await
    }

    async fn void_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let voided = self
                .app
                .services
                .payments
                .void(&ctx, id)
                .await
                .map_err(status)?;
            Ok(payment(voided))
        })
        .await
    }

    async fn refund_payment(
        &self,
        request: Request<pb::RefundPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = RefundInput {
                payment_id: convert::uuid(&r.payment_id, "payment_id").map_err(status)?,
                amount: convert::decimal(r.amount, "amount").map_err(status)?,
                reason: r.reason,
            };
            let refunded = self
                .app
                .services
                .payments
                .refund(&ctx, input)
                .await
                .map_err(status)?;
            Ok(payment(refunded))
        })
        .await
    }

    async fn create_payment_token(
        &self,
        request: Request<pb::CreatePaymentTokenRequest>,
    ) -> Result<Response<pb::PaymentToken>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        // Never run through `idempotent`: its stored request hash would be a hash of a card
        // number.
        let card = CardInput {
            number: r.number,
            exp_month: r.exp_month,
            exp_year: r.exp_year,
            cvc: r.cvc,
        };
        let token = self
            .app
            .services
            .payments
            .create_token(&ctx, card)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::PaymentToken {
            id: token.id,
            brand: token.brand,
            last4: token.last4,
            exp_month: token.exp_month,
            exp_year: token.exp_year,
        }))
    }

    async fn get_stablecoin_reconciliation(
        &self,
        request: Request<pb::GetStablecoinReconciliationRequest>,
    ) -> Result<Response<pb::StablecoinReconciliation>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let from = convert::time_in(r.from, "from").map_err(status)?;
        let to = convert::time_in(r.to, "to").map_err(status)?;
        let report = self
            .app
            .services
            .payments
            .stablecoin_reconciliation(&ctx, from, to)
            .await
            .map_err(status)?;
        Ok(Response::new(reconciliation(report)))
    }
}
