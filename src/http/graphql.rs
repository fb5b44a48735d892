//! HTTP and WebSocket transport for the GraphQL schema.

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequest, Request, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use futures::{SinkExt as _, StreamExt as _};
use std::net::IpAddr;

use async_graphql::Data;

use crate::adapters::graphql::{SlowSubscriber, request_data, to_graphql_error};
use crate::app::AppState;
use crate::http::{Caller, ClientIp};
use crate::services::Ctx;
use crate::services::auth::Credentials;

/// `POST /graphql`: runs a query, mutation or batch.
pub async fn post(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    request: GraphQLBatchRequest,
) -> GraphQLResponse {
    execute(&app, ctx, request).await
}

/// `GET /graphql`: GraphiQL for a browser, or a query in the query string for clients.
pub async fn get(State(app): State<AppState>, Caller(ctx): Caller, request: Request) -> Response {
    let has_query = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("query=")));
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !has_query && wants_html {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .finish(),
        )
        .into_response();
    }
    match GraphQLBatchRequest::from_request(request, &()).await {
        Ok(request) => execute(&app, ctx, request).await.into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn execute(app: &AppState, ctx: Ctx, request: GraphQLBatchRequest) -> GraphQLResponse {
    let mut request = request.into_inner();
    let requests: Vec<&mut async_graphql::Request> = match &mut request {
        async_graphql::BatchRequest::Single(r) => vec![r],
        async_graphql::BatchRequest::Batch(rs) => rs.iter_mut().collect(),
    };
    for r in requests {
        r.data = request_data(&app.services, ctx.clone());
    }
    let mut response = app.graphql.execute_batch(request).await;
    label_request_errors(&mut response);
    response.into()
}

/// Errors raised by GraphQL itself (a bad argument, an unknown field) get `VALIDATION`,
/// so every error a client sees carries a code.
fn label_request_errors(response: &mut async_graphql::BatchResponse) {
    let responses: Vec<&mut async_graphql::Response> = match response {
        async_graphql::BatchResponse::Single(r) => vec![r],
        async_graphql::BatchResponse::Batch(rs) => rs.iter_mut().collect(),
    };
    for response in responses {
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", "VALIDATION");
            }
        }
    }
}

/// The WebSocket close code sent to a subscriber that fell too far behind the live feed. It is
/// not one of the codes the `graphql-ws` client treats as fatal, so that client reconnects;
/// resubscribing with `after` set to the last sequence seen resumes without loss.
pub const SLOW_SUBSCRIBER_CLOSE_CODE: u16 = 4008;

/// Frames queued for one socket before the GraphQL side has to wait for it.
const OUTGOING_FRAMES: usize = 16;

/// Bytes each socket's read buffer holds. tungstenite fills its whole buffer up front (128 KiB
/// by default), which is most of an idle subscriber's memory; subscription traffic from the
/// client is a few small frames, and a larger message still arrives, over several reads.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// `GET /graphql/ws`: subscriptions over `graphql-transport-ws` or the legacy `graphql-ws`.
/// Credentials may come with the upgrade request or in the `connection_init` payload as
/// `{"authorization": "Bearer ..."}`; the payload wins.
pub async fn websocket(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| serve_socket(app, ctx, client_ip, protocol, socket))
        .into_response()
}

/// Runs the GraphQL protocol on one socket. Outgoing frames pass through a small bounded queue,
/// so a client that reads slowly makes its subscriptions fall behind the event bus instead of
/// buffering without bound; the first subscription to fall too far behind closes the socket
/// with [`SLOW_SUBSCRIBER_CLOSE_CODE`].
async fn serve_socket(
    app: AppState,
    ctx: Ctx,
    client_ip: Option<IpAddr>,
    protocol: GraphQLProtocol,
    socket: WebSocket,
) {
    let (mut socket_sink, socket_stream) = socket.split();
    let (outgoing, mut queued) = futures::channel::mpsc::channel::<Message>(OUTGOING_FRAMES);
    let slow = SlowSubscriber::default();
    let mut data = Data::default();
    data.insert(slow.clone());
    let schema = app.graphql.clone();
    let graphql = GraphQLWebSocket::new_with_pair(outgoing, socket_stream, schema, protocol)
        .with_data(data)
        .on_connection_init(move |payload| connection_data(app, ctx, client_ip, payload))
        .serve();
    let forward = async {
        while let Some(frame) = queued.next().await {
            if socket_sink.send(frame).await.is_err() {
                break;
            }
        }
    };
    let session = futures::future::join(graphql, forward);
    let lagged = tokio::select! {
        _ = session => None,
        missed = slow.wait() => Some(missed),
    };
    if let Some(missed) = lagged {
        let reason =
            format!("subscriber too slow: {missed} events behind; resubscribe with `after`");
        let frame = CloseFrame {
            code: SLOW_SUBSCRIBER_CLOSE_CODE,
            reason: reason.into(),
        };
        let _ = socket_sink.send(Message::Close(Some(frame))).await;
    }
}

async fn connection_data(
    app: AppState,
    mut ctx: Ctx,
    client_ip: Option<IpAddr>,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let authorization = ["authorization", "Authorization"]
        .iter()
        .find_map(|name| payload.get(*name).and_then(|v| v.as_str()));
    if let Some(value) = authorization {
        // Admitted like any request: the socket's own principal and its rate limit.
        ctx.principal = app
            .admission
            .admit(
                &Credentials::from_authorization(value),
                client_ip,
                Some("connection_init /graphql/ws"),
            )
            .await
            .map_err(to_graphql_error)?
            .principal;
    }
    Ok(request_data(&app.services, ctx))
}
