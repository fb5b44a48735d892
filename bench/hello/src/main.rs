//! The floor for scenario (g): the same axum and tokio as the server, one route, nothing else.
//! Listens on `HELLO_ADDR` (default `127.0.0.1:18090`).

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("HELLO_ADDR").unwrap_or_else(|_| "127.0.0.1:18090".to_owned());
    let app = Router::new().route("/health", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
