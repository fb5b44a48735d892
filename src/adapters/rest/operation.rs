//! One declaration per REST operation. [`operations!`] takes, for each operation, its method,
//! path, handler name, the permission it needs, its OpenAPI description (parameters, request
//! body, responses) and the handler's arguments and body, and generates from that:
//!
//! - the axum handler, with its `utoipa::path` OpenAPI operation;
//! - `routes`, which registers every handler of the module on the router (and so in the
//!   OpenAPI document);
//! - `OPERATIONS`, the rows the permission-matrix test walks.
//!
//! Adding a REST operation for an existing service method is one entry in its module.

/// What a caller needs to be let through an operation's permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// This permission (or its `:own` form, which narrows the caller to their own records).
    Permission(&'static str),
    /// Any signed-in caller (a user or an API key); what they see is their own.
    SignedIn,
    /// Nothing: open to anyone (sign-in, provider callbacks), or guarded by a capability in the
    /// request itself (a cart or checkout token, a signature) rather than by a permission.
    Anyone,
}

/// One REST operation as served under `/api/v1`.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The full route template, e.g. `/api/v1/products/{id}`.
    pub path: &'static str,
    /// The handler, e.g. `get_product`.
    pub handler: &'static str,
    pub needs: Needs,
}

/// The permission an operation declares: `"products:read"`, `signed_in` or `anyone`.
#[doc(hidden)]
#[macro_export]
macro_rules! __rest_needs {
    (anyone) => {
        $crate::adapters::rest::Needs::Anyone
    };
    (signed_in) => {
        $crate::adapters::rest::Needs::SignedIn
    };
    ($permission:literal) => {
        $crate::adapters::rest::Needs::Permission($permission)
    };
}

/// Declares a module's REST operations; see the module documentation.
///
/// ```text
/// operations! {
///     /// Doc comment: the operation's OpenAPI summary and description.
///     get "/products/{id}" get_product needs "products:read"
///         openapi(tag = "catalog", params(...), responses(...))
///         (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
///         -> ApiResult<Json<ProductDetail>> { ... }
/// }
/// ```
macro_rules! operations {
    ($(
        $(#[$meta:meta])*
        $method:ident $path:literal $name:ident needs $needs:tt
            openapi($($openapi:tt)*)
            ($($args:tt)*) -> $ret:ty $body:block
    )*) => {
        $(
            $(#[$meta])*
            #[utoipa::path($method, path = $path, $($openapi)*)]
            pub async fn $name($($args)*) -> $ret $body
        )*

        /// Registers every operation of this module.
        pub(super) fn routes(
            router: utoipa_axum::router::OpenApiRouter<$crate::app::AppState>,
        ) -> utoipa_axum::router::OpenApiRouter<$crate::app::AppState> {
            router $(.routes(utoipa_axum::routes!($name)))*
        }

        /// Every operation of this module, for the permission matrix.
        pub(super) const OPERATIONS: &[$crate::adapters::rest::Operation] = &[$(
            $crate::adapters::rest::Operation {
                method: $crate::adapters::rest::operation::method_name(stringify!($method)),
                path: concat!("/api/v1", $path),
                handler: stringify!($name),
                needs: $crate::__rest_needs!($needs),
            },
        )*];
    };
}

pub(crate) use operations;

/// `get` → `GET`, at compile time.
pub const fn method_name(method: &'static str) -> &'static str {
    match method.as_bytes() {
        b"get" => "GET",
        b"post" => "POST",
        b"put" => "PUT",
        b"patch" => "PATCH",
        b"delete" => "DELETE",
        _ => panic!("an operation's method is get, post, put, patch or delete"),
    }
}
