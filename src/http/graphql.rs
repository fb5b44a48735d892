//! HTTP and WebSocket transport for the GraphQL schema.

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{FromRequest, Request, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use async_graphql::Data;

use crate::adapters::graphql::{request_data, to_graphql_error};
use crate::app::AppState;
use crate::services::Ctx;

/// `POST /graphql`: runs a query, mutation or batch.
pub async fn post(
    State(app): State<AppState>,
    ctx: Ctx,
    request: GraphQLBatchRequest,
) -> GraphQLResponse {
    execute(&app, ctx, request).await
}

/// `GET /graphql`: GraphiQL for a browser, or a query in the query string for clients.
pub async fn get(State(app): State<AppState>, ctx: Ctx, request: Request) -> Response {
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

/// `GET /graphql/ws`: subscriptions over `graphql-transport-ws` or the legacy `graphql-ws`.
/// Credentials may come with the upgrade request or in the `connection_init` payload as
/// `{"authorization": "Bearer ..."}`; the payload wins.
pub async fn websocket(
    State(app): State<AppState>,
    ctx: Ctx,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let schema = app.graphql.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| connection_data(app, ctx, payload))
                .serve()
                .await
        })
        .into_response()
}

async fn connection_data(
    app: AppState,
    mut ctx: Ctx,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let authorization = ["authorization", "Authorization"]
        .iter()
        .find_map(|name| payload.get(*name).and_then(|v| v.as_str()));
    if let Some(value) = authorization {
        let credentials = crate::http::parse_authorization(value);
        ctx.principal = app
            .services
            .auth
            .authenticate(&credentials)
            .await
            .map_err(to_graphql_error)?;
    }
    Ok(request_data(&app.services, ctx))
}
