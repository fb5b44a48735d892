//! `/api/v1/carts`: guest and customer carts. `{id}` is the cart's id or its token.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path};
use super::operation::operations;
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::Cart;
use crate::http::Caller;
use crate::services::carts::{CartLineInput, CartRef, CreateCartInput, UpdateCartItemInput};

type ApiResult<T> = Result<T, ApiError>;

/// A guest cart to take over.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MergeCartRequest {
    /// The guest cart's token.
    pub token: String,
}

operations! {
    post "/carts" create_cart needs anyone
        openapi(tag = "carts", request_body(content = Option<CreateCartInput>),
            responses((status = 201, body = Cart, description = "The cart; guests keep its `token`"),
            (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, body: axum::body::Bytes)
        -> ApiResult<(StatusCode, Json<Cart>)> {
        // The body is optional: an empty one makes an empty cart.
        let input: CreateCartInput = if body.iter().all(u8::is_ascii_whitespace) {
            CreateCartInput::default()
        } else {
            serde_json::from_slice(&body).map_err(|e| ApiError::malformed("body", e.to_string()))?
        };
        let cart = app.services.carts.create(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(cart)))
    }

    get "/carts/{id}" get_cart needs anyone
        openapi(tag = "carts",
            params(("id" = String, Path, description = "The cart's id or token")),
            responses((status = 200, body = Cart), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<String>)
        -> ApiResult<Json<Cart>> {
        Ok(Json(
            app.services.carts.get(&ctx, &CartRef::parse(&id)).await?,
        ))
    }

    post "/carts/{id}/items" add_cart_item needs anyone
        openapi(tag = "carts",
            params(("id" = String, Path, description = "The cart's id or token")), request_body = CartLineInput,
            responses((status = 200, body = Cart), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<String>,
            Json(input): Json<CartLineInput>,
        )
        -> ApiResult<Json<Cart>> {
        let cart = CartRef::parse(&id);
        Ok(Json(app.services.carts.add_item(&ctx, &cart, input).await?))
    }

    put "/carts/{id}/items/{item_id}" update_cart_item needs anyone
        openapi(tag = "carts",
            params(("id" = String, Path, description = "The cart's id or token"), ("item_id" = Uuid, Path)),
            request_body = UpdateCartItemInput,
            responses((status = 200, body = Cart), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path((id, item_id)): Path<(String, Uuid)>,
            Json(input): Json<UpdateCartItemInput>,
        )
        -> ApiResult<Json<Cart>> {
        let cart = CartRef::parse(&id);
        Ok(Json(
            app.services
                .carts
                .update_item(&ctx, &cart, item_id, input)
                .await?,
        ))
    }

    delete "/carts/{id}/items/{item_id}" remove_cart_item needs anyone
        openapi(tag = "carts",
            params(("id" = String, Path, description = "The cart's id or token"), ("item_id" = Uuid, Path)),
            responses((status = 200, body = Cart, description = "The cart without the line"), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path((id, item_id)): Path<(String, Uuid)>,
        )
        -> ApiResult<Json<Cart>> {
        let cart = CartRef::parse(&id);
        Ok(Json(
            app.services.carts.remove_item(&ctx, &cart, item_id).await?,
        ))
    }

    post "/carts/merge" merge_cart needs "carts:write"
        openapi(tag = "carts", request_body = MergeCartRequest,
            responses((status = 200, body = Cart, description = "The signed-in customer's cart with the guest cart's lines"),
            (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<MergeCartRequest>)
        -> ApiResult<Json<Cart>> {
        Ok(Json(app.services.carts.merge(&ctx, &input.token).await?))
    }
}
