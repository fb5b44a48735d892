//! The GraphQL door (async-graphql): queries, mutations, subscriptions over `/graphql(/ws)`.

mod catalog;
mod error;
mod events;
mod loaders;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};

pub use error::{GqlResult, to_graphql_error};
pub use loaders::VariantLoader;

use crate::services::{Ctx, Services};

/// Every query field.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(catalog::CatalogQuery, events::EventQuery);

/// Every mutation field.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(catalog::CatalogMutation);

/// Every subscription field.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(events::EventSubscription);

/// The executable schema.
pub type GraphqlSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deepest query accepted: deep enough for any real screen, too shallow for abuse.
const MAX_DEPTH: usize = 16;

/// The schema without runtime data: enough to print the SDL.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(MAX_DEPTH)
    .extension(async_graphql::extensions::Tracing)
}

/// The schema serving requests through `services`.
pub fn schema(services: Services) -> GraphqlSchema {
    schema_builder().data(services).finish()
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
