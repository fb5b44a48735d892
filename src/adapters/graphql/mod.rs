//! The GraphQL door (async-graphql): queries, mutations, subscriptions over `/graphql(/ws)`.

mod access;
mod carts;
mod catalog;
mod checkout;
mod error;
mod events;
mod inventory;
mod invoices;
mod loaders;
mod nodes;
mod orders;
mod payments;
mod pricing;
mod shipments;
mod webhooks;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};

pub use error::{GqlResult, to_graphql_error};
pub use events::SlowSubscriber;
pub use loaders::{
    AvailabilityLoader, CustomerLoader, InventoryLoader, OrderFulfillmentOrdersLoader,
    OrderInvoicesLoader, OrderItemsLoader, OrderPaymentsLoader, OrderShipmentsLoader,
    VariantByIdLoader, VariantLoader,
};
pub use nodes::{CompletedCheckoutNode, OrderItemNode, OrderNode, ProductNode, VariantNode, nodes};

use async_graphql::connection::{Connection, Edge};

use crate::config::GraphqlLimits;
use crate::services::page::{Page, PageRequest};
use crate::services::{Ctx, Services};

/// Every query field.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    catalog::CatalogQuery,
    orders::OrderQuery,
    inventory::InventoryQuery,
    access::AccessQuery,
    events::EventQuery,
    webhooks::WebhookQuery,
    carts::CartQuery,
    pricing::PricingQuery,
    checkout::CheckoutQuery,
    payments::PaymentQuery,
    invoices::InvoiceQuery,
    shipments::ShipmentQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    catalog::CatalogMutation,
    orders::OrderMutation,
    inventory::InventoryMutation,
    access::AccessMutation,
    webhooks::WebhookMutation,
    carts::CartMutation,
    pricing::PricingMutation,
    checkout::CheckoutMutation,
    payments::PaymentMutation,
    invoices::InvoiceMutation,
    shipments::ShipmentMutation,
);

/// Every subscription field.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(events::EventSubscription, events::TypedSubscription);

/// The executable schema.
pub type GraphqlSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema without runtime data: enough to print the SDL.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .extension(async_graphql::extensions::Tracing)
}

/// The schema serving requests through `services`, within `limits`.
pub fn schema(services: Services, limits: GraphqlLimits) -> GraphqlSchema {
    let builder = schema_builder()
        .data(services)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The SDL clients see; `schema.graphql` in the repository must equal it.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// Adds the per-request data resolvers need: the call context and fresh DataLoaders.
pub fn request_data(services: &Services, ctx: Ctx) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    data.insert(DataLoader::new(
        VariantLoader::new(services.catalog.clone(), ctx.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        VariantByIdLoader {
            catalog: services.catalog.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        CustomerLoader {
            customers: services.customers.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        OrderItemsLoader {
            orders: services.orders.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        OrderPaymentsLoader {
            payments: services.payments.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        OrderInvoicesLoader {
            invoices: services.invoices.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        OrderShipmentsLoader {
            shipments: services.shipments.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        OrderFulfillmentOrdersLoader {
            shipments: services.shipments.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        InventoryLoader {
            inventory: services.inventory.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        AvailabilityLoader {
            inventory: services.inventory.clone(),
            ctx: ctx.clone(),
        },
        tokio::spawn,
    ));
    data.insert(ctx);
    data
}

/// Totals of a list, beside Relay's edges and pageInfo.
#[derive(async_graphql::SimpleObject)]
pub struct ListTotals {
    /// Items matching the filter across all pages.
    total_count: i64,
}

/// A service page as a Relay connection with `totalCount`.
fn connection<T: async_graphql::OutputType>(page: Page<T>) -> Connection<String, T, ListTotals> {
    let totals = ListTotals {
        total_count: page.total_count,
    };
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, totals);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|(cursor, item)| Edge::new(cursor, item)),
    );
    connection
}

/// Relay's `first`/`after` as a service page request, counting the whole list only when
/// the query selects the connection's `totalCount`.
fn page_request(ctx: &Context<'_>, first: Option<i32>, after: Option<String>) -> PageRequest {
    PageRequest {
        size: first.map(i64::from),
        after,
        size_field: "first",
        cursor_field: "after",
        with_total: ctx.look_ahead().field("totalCount").exists(),
    }
}

/// Resolver access to the services and the call context.
trait ContextExt {
    fn services(&self) -> &Services;
    fn call_ctx(&self) -> async_graphql::Result<&Ctx>;
}

impl ContextExt for Context<'_> {
    fn services(&self) -> &Services {
        self.data_unchecked::<Services>()
    }

    fn call_ctx(&self) -> async_graphql::Result<&Ctx> {
        self.data::<Ctx>()
    }
}
