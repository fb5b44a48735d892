//! Pure domain types: values parsed at the edge and the entities services return. No I/O here.
//!
//! Entities carry serde, OpenAPI (`utoipa`) and GraphQL derives so that every door shows the
//! same shape without a hand-written copy per door; behaviour stays in the services.

pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod code128;
pub mod customer;
pub mod event;
pub mod fulfillment;
pub mod identity;
pub mod inventory;
pub mod invoice;
pub mod money;
pub mod order;
pub mod pricing;
pub mod quantity;
pub mod rating;
pub mod stored;
pub mod text;
pub mod tracking;
pub mod webhook;

pub use cart::{Cart, CartItem, CartStatus};
pub use catalog::*;
pub use checkout::{
    AgentSessionStatus, AttemptStatus, Checkout, CheckoutStatus, CheckoutTotals, CompletedCheckout,
    Payment, PaymentMethodSummary, PaymentStatus, PaymentToken, ShippingOption, Stablecoin,
    StablecoinReconciliation, StablecoinReconciliationLine, StablecoinRequest, StablecoinState,
    StablecoinTotals, StablecoinTransfer,
};
pub use customer::{Address, Customer, CustomerAddress, WishlistItem};
pub use event::{BadPattern, Event, EventType, TypePatterns, type_matches};
pub use fulfillment::{
    Carrier, CarrierAdapter, CarrierFailure, CreatedCarrier, FulfillmentOrder,
    FulfillmentOrderLine, FulfillmentOrderStatus, HoldReason, LabelStatus, PublicTracking,
    PublicTrackingEvent, RateChoice, RateShopping, Shipment, ShipmentAction, ShipmentFilter,
    ShipmentLine, ShipmentPackage, ShipmentRate, ShipmentStatus, ShippingLabel,
    SignatureRequirement, TrackingAnswer, TrackingEvent,
};
pub use identity::{ApiKey, AuthTokens, CreatedApiKey, Role, User};
pub use inventory::{
    Availability, AvailableToPromise, CountStatus, CycleCount, CycleCountLine, InventoryItem,
    InventoryLot, InventoryMovement, Location, LocationKind, LocationPromise, MovementKind,
    PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus, Reservation, ReservationStatus,
    SellableOf, StockLevel, Transfer, TransferLine, TransferStatus,
};
pub use invoice::{
    Invoice, InvoiceBuyer, InvoiceFilter, InvoiceLine, InvoicePayment, InvoiceSeller, InvoiceStatus,
};
pub use money::{Currency, Money};
pub use order::{
    Order, OrderAction, OrderDetail, OrderFilter, OrderHistoryEntry, OrderItem, OrderSort,
    OrderStatus,
};
pub use pricing::{DiscountCode, DiscountKind, RateBand, RateKind, ShippingMethod, TaxRate};
pub use rating::{Parcel, RateTable, ServiceRates, WeightBand, ZoneRule, ZoneTransit};
pub use text::{Email, Sku};
pub use tracking::{CarrierKind, TrackingStatus};
pub use webhook::{CreatedWebhook, DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery};
