//! ACP request bodies as serde reads them, and their conversion to the service's inputs.
//!
//! Unknown fields (and unknown capability values) are ignored. Fields the service does not
//! use are still read with their types (`unit_amount`, `billing_address`, `risk_signals`, ...),
//! so a malformed one is refused as before; prices in a request are never used.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::services::acp;
/// The buyer, addresses and chosen options are kept in the session exactly as ACP spells them,
/// so the service's types are the wire's.
pub use crate::services::acp::{AcpAddress, Buyer, FulfillmentDetails, SelectedOption};

fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An item an agent asks for: our variant SKU or variant id, and (an extension the digest
/// recommends for the spec's quantity gap) an optional quantity, 1 by default. `name` and
/// `unit_amount` are read but not used.
#[derive(Debug, Clone, Deserialize)]
pub struct ItemInput {
    pub id: String,
    pub name: Option<String>,
    pub unit_amount: Option<i64>,
    pub quantity: Option<i64>,
}

/// Discount codes in a request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DiscountsInput {
    #[serde(default)]
    pub codes: Vec<String>,
}

/// `POST /checkout_sessions`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateSessionInput {
    pub line_items: Vec<ItemInput>,
    pub currency: String,
    pub capabilities: Value,
    pub buyer: Option<Buyer>,
    pub fulfillment_details: Option<FulfillmentDetails>,
    pub discounts: Option<DiscountsInput>,
    pub coupons: Option<Vec<String>>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub quote_id: Option<String>,
    pub metadata: Option<Value>,
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}`: an absent field is left alone, `null` clears it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateSessionInput {
    #[serde(default, deserialize_with = "double")]
    pub buyer: Option<Option<Buyer>>,
    pub line_items: Option<Vec<ItemInput>>,
    #[serde(default, deserialize_with = "double")]
    pub fulfillment_details: Option<Option<FulfillmentDetails>>,
    #[serde(default, deserialize_with = "double")]
    pub selected_fulfillment_options: Option<Option<Vec<SelectedOption>>>,
    #[serde(default, deserialize_with = "double")]
    pub discounts: Option<Option<DiscountsInput>>,
    pub coupons: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double")]
    pub order_notes: Option<Option<String>>,
}

/// The credential inside `payment_data.instrument`.
#[derive(Debug, Clone, Deserialize)]
pub struct Credential {
    #[serde(rename = "type")]
    pub kind: String,
    pub token: String,
}

/// `payment_data.instrument`.
#[derive(Debug, Clone, Deserialize)]
pub struct Instrument {
    #[serde(rename = "type")]
    pub kind: String,
    pub credential: Credential,
}

/// `payment_data`.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentData {
    pub handler_id: Option<String>,
    pub instrument: Option<Instrument>,
    pub billing_address: Option<AcpAddress>,
    pub purchase_order_number: Option<String>,
}

/// `POST /checkout_sessions/{id}/complete`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompleteSessionInput {
    pub payment_data: PaymentData,
    pub buyer: Option<Buyer>,
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}/cancel`; the body may be empty.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CancelSessionInput {
    pub intent_trace: Option<IntentTrace>,
}

/// Why the buyer walked away; unknown reason codes count as `other`.
#[derive(Debug, Clone, Deserialize)]
pub struct IntentTrace {
    pub reason_code: String,
    pub trace_summary: Option<String>,
    pub metadata: Option<Value>,
}

/// The cancellation reasons ACP defines.
const REASON_CODES: &[&str] = &[
    "price_sensitivity",
    "shipping_cost",
    "shipping_speed",
    "product_fit",
    "trust_security",
    "returns_policy",
    "payment_options",
    "comparison",
    "timing_deferred",
    "other",
];

/// A card to vault. Its `Debug` never shows the number or CVC.
#[derive(Clone, Deserialize)]
pub struct DelegatedCard {
    #[serde(rename = "type")]
    pub kind: String,
    pub card_number_type: Option<String>,
    pub number: String,
    pub exp_month: Option<String>,
    pub exp_year: Option<String>,
    pub cvc: Option<String>,
}

impl std::fmt::Debug for DelegatedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DelegatedCard { .. }")
    }
}

/// What a delegated token may pay for.
#[derive(Debug, Clone, Deserialize)]
pub struct AllowanceInput {
    pub reason: String,
    pub max_amount: i64,
    pub currency: String,
    pub checkout_session_id: String,
    pub merchant_id: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /agentic_commerce/delegate_payment`.
#[derive(Debug, Clone, Deserialize)]
pub struct DelegatePaymentInput {
    pub payment_method: DelegatedCard,
    pub allowance: AllowanceInput,
    #[serde(default)]
    pub risk_signals: Vec<Value>,
    #[serde(default)]
    pub metadata: Value,
}

impl From<ItemInput> for acp::LineItemRequest {
    fn from(item: ItemInput) -> Self {
        Self {
            id: item.id,
            quantity: item.quantity,
        }
    }
}

fn items(items: Vec<ItemInput>) -> Vec<acp::LineItemRequest> {
    items.into_iter().map(Into::into).collect()
}

impl From<IntentTrace> for acp::IntentTrace {
    fn from(t: IntentTrace) -> Self {
        let reason_code = if REASON_CODES.contains(&t.reason_code.as_str()) {
            t.reason_code
        } else {
            "other".into()
        };
        Self {
            reason_code,
            trace_summary: t.trace_summary,
            metadata: t.metadata,
        }
    }
}

impl From<CreateSessionInput> for acp::CreateSession {
    fn from(input: CreateSessionInput) -> Self {
        // Capabilities that are not an object are refused by the service.
        let capabilities = input
            .capabilities
            .as_object()
            .map(|_| acp::AgentCapabilities {
                interventions: input.capabilities["interventions"]["supported"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        // The deprecated `coupons` are discount codes too: tried after `discounts.codes`.
        let mut discount_codes = input.discounts.map(|d| d.codes).unwrap_or_default();
        discount_codes.extend(input.coupons.unwrap_or_default());
        Self {
            line_items: items(input.line_items),
            currency: input.currency,
            capabilities,
            buyer: input.buyer,
            fulfillment_details: input.fulfillment_details,
            discount_codes,
            locale: input.locale,
            timezone: input.timezone,
            quote_id: input.quote_id,
            metadata: input.metadata,
            order_notes: input.order_notes,
        }
    }
}

impl From<UpdateSessionInput> for acp::UpdateSession {
    fn from(input: UpdateSessionInput) -> Self {
        // `discounts: null` clears the codes; `coupons` adds to them.
        let mut discount_codes = match input.discounts {
            Some(Some(d)) => Some(d.codes),
            Some(None) => Some(Vec::new()),
            None => None,
        };
        if let Some(coupons) = input.coupons {
            discount_codes.get_or_insert_with(Vec::new).extend(coupons);
        }
        Self {
            buyer: input.buyer,
            line_items: input.line_items.map(items),
            fulfillment_details: input.fulfillment_details,
            selected_fulfillment_options: input.selected_fulfillment_options,
            discount_codes,
            order_notes: input.order_notes,
        }
    }
}

impl From<CompleteSessionInput> for acp::CompleteSession {
    fn from(input: CompleteSessionInput) -> Self {
        Self {
            payment: acp::Payment {
                handler_id: input.payment_data.handler_id,
                token: input.payment_data.instrument.map(|i| i.credential.token),
            },
            buyer: input.buyer,
            order_notes: input.order_notes,
        }
    }
}

impl From<CancelSessionInput> for acp::CancelSession {
    fn from(input: CancelSessionInput) -> Self {
        Self {
            intent_trace: input.intent_trace.map(Into::into),
        }
    }
}

impl From<DelegatePaymentInput> for acp::DelegatePayment {
    fn from(input: DelegatePaymentInput) -> Self {
        let card = input.payment_method;
        let allowance = input.allowance;
        Self {
            card: acp::DelegatedCard {
                kind: card.kind,
                card_number_type: card.card_number_type,
                number: card.number,
                exp_month: card.exp_month,
                exp_year: card.exp_year,
                cvc: card.cvc,
            },
            allowance: acp::DelegatedAllowance {
                reason: allowance.reason,
                max_amount: allowance.max_amount,
                currency: allowance.currency,
                checkout_session_id: allowance.checkout_session_id,
                merchant_id: allowance.merchant_id,
                expires_at: allowance.expires_at,
            },
            metadata: input.metadata,
        }
    }
}
