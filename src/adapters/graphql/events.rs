//! The event log as a query and as a live subscription.

use async_graphql::futures_util::{Stream, StreamExt as _};
use async_graphql::{Context, Object, Subscription};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _, to_graphql_error};
use crate::domain::{AvailableToPromise, Event, Order};
use crate::services::events;

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Events after sequence `after`, oldest first: how an offline consumer catches up.
    /// `types` takes exact names or wildcards such as `product.*`.
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<i64>,
        types: Option<Vec<String>>,
        entity_id: Option<Uuid>,
        first: Option<i64>,
    ) -> async_graphql::Result<Vec<Event>> {
        let query = events::EventQuery {
            after,
            types: types.unwrap_or_default(),
            entity_id,
            first,
            ..Default::default()
        };
        ctx.services()
            .events
            .list(ctx.call_ctx()?, query)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct EventSubscription;

#[Subscription]
impl EventSubscription {
    /// Every matching event as it commits. With `after`, events after that sequence are
    /// replayed from the log first, then the feed continues live with no gap or duplicate.
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
        after: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Event>> + use<>> {
        let query = events::EventQuery {
            after,
            types: types.unwrap_or_default(),
            ..Default::default()
        };
        let stream = ctx
            .services()
            .events
            .subscribe(ctx.call_ctx()?, query)
            .await
            .gql()?;
        Ok(stream.map(|item| item.map_err(to_graphql_error)))
    }
}

#[Subscription]
impl TypedSubscription {
    /// New orders the caller may see, as they are placed.
    async fn order_created(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Order>> + use<>> {
        let stream = ctx
            .services()
            .orders
            .watch(ctx.call_ctx()?, None, true)
            .await
            .gql()?;
        Ok(stream.map(|item| item.map_err(to_graphql_error)))
    }

    /// One order (starting with its current state) or, without `id`, every order the caller
    /// may see, each time it changes.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        id: Option<Uuid>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Order>> + use<>> {
        let stream = ctx
            .services()
            .orders
            .watch(ctx.call_ctx()?, id, false)
            .await
            .gql()?;
        Ok(stream.map(|item| item.map_err(to_graphql_error)))
    }

    /// A SKU's stock: now, then whenever it changes.
    async fn inventory_changed(
        &self,
        ctx: &Context<'_>,
        sku: String,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AvailableToPromise>> + use<>>
    {
        let stream = ctx
            .services()
            .inventory
            .watch(ctx.call_ctx()?, &sku)
            .await
            .gql()?;
        Ok(stream.map(|item| item.map_err(to_graphql_error)))
    }
}

#[derive(Default)]
pub struct TypedSubscription;
