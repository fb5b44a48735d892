//! The GraphQL door (async-graphql): queries, mutations, subscriptions over `/graphql(/ws)`.

mod access;
mod catalog;
mod error;
mod events;
mod loaders;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};

pub use error::{GqlResult, to_graphql_error};
pub use loaders::VariantLoader;

use crate::config::GraphqlLimits;
use crate::services::{Ctx, Services};

/// Every query field.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    catalog::CatalogQuery,
    access::AccessQuery,
    events::EventQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(catalog::CatalogMutation, access::AccessMutation);

/// Every subscription field.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(events::EventSubscription);

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
    data.insert(ctx);
    data
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
