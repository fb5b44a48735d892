//! The event log as a query and as a live subscription.

use async_graphql::futures_util::{Stream, StreamExt as _};
use async_graphql::{Context, Object, Subscription};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _, OrderNode, to_graphql_error};
use crate::domain::{AvailableToPromise, Event};
use crate::services::{Error, events};

/// A service feed as a GraphQL stream. A subscriber that fell behind gets the error, and its
/// connection is closed with the slow-subscriber close code.
fn live<T: Send + 'static>(
    ctx: &Context<'_>,
    stream: impl Stream<Item = Result<T, Error>> + Send + 'static,
) -> futures::stream::BoxStream<'static, async_graphql::Result<T>> {
    let slow = ctx.data_opt::<SlowSubscriber>().cloned();
    stream
        .map(move |item| {
            if let (Err(Error::Lagged { missed }), Some(slow)) = (&item, &slow) {
                slow.trigger(*missed);
            }
            item.map_err(to_graphql_error)
        })
        .boxed()
}

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
            .map(|page| page.events)
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
        Ok(live(ctx, stream))
    }
}

#[Subscription]
impl TypedSubscription {
    /// New orders the caller may see, as they are placed.
    async fn order_created(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<OrderNode>> + use<>> {
        let stream = ctx
            .services()
            .orders
            .watch(ctx.call_ctx()?, None, true)
            .await
            .gql()?;
        Ok(live(ctx, stream.map(|order| order.map(OrderNode::from))))
    }

    /// One order (starting with its current state) or, without `id`, every order the caller
    /// may see, each time it changes.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        id: Option<Uuid>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<OrderNode>> + use<>> {
        let stream = ctx
            .services()
            .orders
            .watch(ctx.call_ctx()?, id, false)
            .await
            .gql()?;
        Ok(live(ctx, stream.map(|order| order.map(OrderNode::from))))
    }

    /// One order's shipment events as they happen: `order.shipped`, `order.delivered` and
    /// `shipment.*` events about it.
    async fn shipment_updated(
        &self,
        ctx: &Context<'_>,
        order_id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Event>> + use<>> {
        let stream = ctx
            .services()
            .orders
            .watch_shipments(ctx.call_ctx()?, order_id)
            .await
            .gql()?;
        Ok(live(ctx, stream))
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
        Ok(live(ctx, stream))
    }
}

#[derive(Default)]
pub struct TypedSubscription;

/// Set by a subscription of one connection that fell behind the live feed.
#[derive(Clone, Default)]
pub struct SlowSubscriber {
    notify: std::sync::Arc<tokio::sync::Notify>,
    missed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SlowSubscriber {
    /// Reports that a subscription missed `missed` events; the connection will be closed.
    pub fn trigger(&self, missed: u64) {
        self.missed
            .store(missed, std::sync::atomic::Ordering::Relaxed);
        self.notify.notify_one();
    }

    /// Waits until a subscription of the connection fell behind; returns how far.
    pub async fn wait(&self) -> u64 {
        self.notify.notified().await;
        self.missed.load(std::sync::atomic::Ordering::Relaxed)
    }
}
