//! `stateset.v1.EventService`: the event log, paged and as a live stream.

use std::pin::Pin;

use futures::{Stream, StreamExt as _};
use tonic::{Request, Response, Status};

use super::pb::event_service_server::EventService;
use super::pb::{self};
use super::{call_ctx, convert, deadline_of, status};
use crate::app::AppState;
use crate::domain::Event;
use crate::services::events::EventQuery;

/// The event log over gRPC.
pub struct EventsGrpc {
    app: AppState,
}

impl EventsGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

pub(super) fn event(e: Event) -> pb::Event {
    pb::Event {
        sequence: e.sequence,
        id: e.id.to_string(),
        r#type: e.event_type,
        entity_type: e.entity_type,
        entity_id: e.entity_id.to_string(),
        data: convert::json_to_struct(e.data),
        occurred_at: Some(convert::timestamp(e.occurred_at)),
    }
}

/// The filter both methods share: after a sequence, of some types, about one entity.
fn query(
    after: Option<i64>,
    types: Vec<String>,
    entity_id: Option<&str>,
) -> Result<EventQuery, Status> {
    let entity_id = entity_id
        .map(|id| convert::uuid(id, "entity_id"))
        .transpose()
        .map_err(status)?;
    Ok(EventQuery {
        after,
        types,
        entity_id,
        ..Default::default()
    })
}

#[tonic::async_trait]
impl EventService for EventsGrpc {
    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let query = EventQuery {
            first: (r.page_size != 0).then_some(i64::from(r.page_size)),
            first_field: "page_size",
            ..query(r.after, r.types, r.entity_id.as_deref())?
        };
        let page = self
            .app
            .services
            .events
            .list(&ctx, query)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListEventsResponse {
            events: page.events.into_iter().map(event).collect(),
            next_after: page.next_after,
        }))
    }

    type SubscribeStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let ctx = call_ctx(&request);
        let deadline = deadline_of(&request);
        let r = request.into_inner();
        let query = query(r.after, r.types, r.entity_id.as_deref())?;
        let feed = self
            .app
            .services
            .events
            .subscribe(&ctx, query)
            .await
            .map_err(status)?;
        // tonic ends the stream with the first error it is given (a lagging consumer's).
        let stream = feed.map(|next| next.map(event).map_err(status));
        let Some(deadline) = deadline else {
            return Ok(Response::new(Box::pin(stream)));
        };
        // tonic's own deadline covers a call until its response starts; a stream's whole
        // life is bounded here, ending in DEADLINE_EXCEEDED.
        let expired = futures::stream::once(async move {
            (tokio::time::Instant::now() >= deadline)
                .then(|| Err(Status::deadline_exceeded("the call's deadline passed")))
        })
        .filter_map(std::future::ready);
        let bounded = stream
            .take_until(tokio::time::sleep_until(deadline))
            .chain(expired);
        Ok(Response::new(Box::pin(bounded)))
    }
}
