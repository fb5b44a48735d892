//! The one error type of the service layer, with stable machine-readable codes.
//!
//! Each adapter maps it exactly once: GraphQL `extensions.code`, REST status + JSON body,
//! gRPC status. Internal details are logged, never shown to clients.

use serde::Serialize;

/// A problem with one input field, named by its path (`variants[0].price.amount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field in the request, segments joined by dots, list indexes in brackets.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The entity does not exist (or the caller may not know it exists).
    #[error("{entity} `{id}` was not found")]
    NotFound { entity: &'static str, id: String },
    /// One or more input fields are invalid.
    #[error("invalid input: {}", summary(.0))]
    Validation(Vec<FieldError>),
    /// The change clashes with existing data, e.g. a duplicate SKU.
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// The entity is in a state that does not allow the action.
    #[error("cannot {action} while {from}")]
    InvalidState { from: String, action: String },
    /// Not enough stock of a SKU.
    #[error("not enough stock of `{sku}`: {requested} wanted, {available} available")]
    InsufficientStock {
        sku: String,
        requested: i32,
        available: i32,
    },
    /// The payment provider declined the payment; nothing was charged or created.
    #[error("the payment was declined: {decline_code}")]
    PaymentDeclined {
        /// The provider's reason, e.g. `card_declined`, `insufficient_funds`.
        decline_code: String,
    },
    /// No credentials, or credentials that are not valid.
    #[error("authentication is required")]
    Unauthenticated,
    /// The caller lacks the permission the operation needs.
    #[error("missing permission `{permission}`")]
    Forbidden { permission: String },
    /// Too many requests; try again after `retry_after_secs`.
    #[error("rate limit exceeded; retry in {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        limit: u32,
        reset_secs: u64,
    },
    /// The Idempotency-Key was used before with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// A request with this Idempotency-Key is still running.
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    IdempotencyInFlight { retry_after_secs: u64 },
    /// A live subscriber fell too far behind and was cut off; resubscribe with `after`.
    #[error("the subscriber fell behind by {missed} events; resubscribe with `after` to catch up")]
    Lagged { missed: u64 },
    /// A dependency (the database) is not reachable right now; retrying later may work.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or an unexpected failure; the source is logged, never shown.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

fn summary(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Validation(_) => "VALIDATION",
            Self::Conflict { .. } => "CONFLICT",
            Self::InvalidState { .. } => "INVALID_STATE",
            Self::InsufficientStock { .. } => "INSUFFICIENT_STOCK",
            Self::PaymentDeclined { .. } => "PAYMENT_DECLINED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden { .. } => "FORBIDDEN",
            Self::Lagged { .. } => "SUBSCRIBER_LAGGED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::IdempotencyInFlight { .. } => "IDEMPOTENCY_IN_FLIGHT",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// A not-found error for `entity` with the given id or key.
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// A validation error on a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// Structured details for clients: field errors, the missing entity, the state, ...
    pub fn details(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Self::NotFound { entity, id } => json!({ "entity": entity, "id": id }),
            Self::Validation(fields) => json!({ "fields": fields }),
            Self::Conflict { field, .. } => json!({ "field": field }),
            Self::InvalidState { from, action } => json!({ "from": from, "action": action }),
            Self::PaymentDeclined { decline_code } => json!({ "decline_code": decline_code }),
            Self::InsufficientStock {
                sku,
                requested,
                available,
            } => {
                json!({ "sku": sku, "requested": requested, "available": available })
            }
            Self::Forbidden { permission } => json!({ "permission": permission }),
            Self::Lagged { missed } => json!({ "missed": missed }),
            Self::RateLimited {
                retry_after_secs,
                limit,
                reset_secs,
            } => {
                json!({ "retry_after": retry_after_secs, "limit": limit, "reset": reset_secs })
            }
            Self::IdempotencyInFlight { retry_after_secs } => {
                json!({ "retry_after": retry_after_secs })
            }
            Self::IdempotencyKeyReused => json!({}),
            Self::Unauthenticated | Self::Unavailable(_) | Self::Internal(_) => json!({}),
        }
    }

    /// Seconds a client should wait before retrying, for errors where waiting helps.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited {
                retry_after_secs, ..
            }
            | Self::IdempotencyInFlight { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// True for errors whose cause is ours, not the caller's: they are logged with their source.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Internal(_))
    }

    /// The codes of the errors [`Self::is_server_fault`] is true for, as clients see them.
    pub const SERVER_FAULT_CODES: &[&str] = &["UNAVAILABLE", "INTERNAL"];
}

/// Unique constraints and the input field each one guards.
const UNIQUE_FIELDS: &[(&str, &str, &str)] = &[
    (
        "invoices_one_live_per_order",
        "order_id",
        "the order already has an invoice that is not void",
    ),
    (
        "products_slug_key",
        "slug",
        "a product with this slug already exists",
    ),
    (
        "product_variants_sku_key",
        "sku",
        "a variant with this SKU already exists",
    ),
    (
        "categories_slug_key",
        "slug",
        "a category with this slug already exists",
    ),
];

/// Foreign keys whose input field is not the column named in the constraint
/// (`<table>_<column>_fkey`, PostgreSQL's default name, covers the rest).
const REFERENCE_FIELDS: &[(&str, &str)] = &[
    (
        "customers_default_billing_fkey",
        "default_billing_address_id",
    ),
    (
        "customers_default_shipping_fkey",
        "default_shipping_address_id",
    ),
];

/// The input field a foreign key guards: the explicit entry, else the column between the
/// table prefix and the `_fkey` suffix of PostgreSQL's default constraint name.
fn reference_field(table: Option<&str>, constraint: &str) -> Option<String> {
    if let Some((_, field)) = REFERENCE_FIELDS
        .iter()
        .find(|(name, _)| *name == constraint)
    {
        return Some((*field).to_owned());
    }
    let column = constraint.strip_suffix("_fkey")?;
    let column = match table {
        Some(table) => column.strip_prefix(table)?.strip_prefix('_')?,
        None => column,
    };
    (!column.is_empty()).then(|| column.to_owned())
}

impl Error {
    /// A write named an id that does not exist: a VALIDATION error on the field the foreign
    /// key guards, so callers hear which id is wrong instead of a server fault.
    fn missing_reference(info: &dyn diesel::result::DatabaseErrorInformation) -> Option<Self> {
        let field = reference_field(info.table_name(), info.constraint_name()?)?;
        let entity = field
            .strip_suffix("_id")
            .unwrap_or(&field)
            .replace('_', " ");
        Some(Self::invalid(
            field.clone(),
            format!("no {entity} with this id exists"),
        ))
    }

    /// Maps the error of a delete: a row other rows still refer to is a CONFLICT (the caller
    /// must remove the references first), everything else as [`From`] maps it.
    pub fn from_delete(err: diesel::result::Error, entity: &str) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match &err {
            D::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => Self::Conflict {
                field: None,
                message: format!(
                    "the {entity} is still referenced by {}; remove those first",
                    info.table_name()
                        .unwrap_or("other records")
                        .replace('_', " ")
                ),
            },
            _ => err.into(),
        }
    }
}

impl stateset_db::TxError for Error {
    fn in_step(self, step: &'static str) -> Self {
        match self {
            Self::Internal(err) => Self::Internal(err.context(step)),
            Self::Unavailable(err) => Self::Unavailable(err.context(step)),
            other => other,
        }
    }

    fn is_retryable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error as D};
        let Self::Internal(err) = self else {
            return false;
        };
        match err.downcast_ref::<D>() {
            Some(D::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            Some(D::DatabaseError(_, info)) => info.message().contains("deadlock detected"),
            _ => false,
        }
    }
}

impl From<crate::limits::Limited> for Error {
    fn from(limited: crate::limits::Limited) -> Self {
        Self::RateLimited {
            retry_after_secs: limited.retry_after_secs,
            limit: limited.limit,
            reset_secs: limited.reset_secs,
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match &err {
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                let constraint = info.constraint_name().unwrap_or_default();
                match UNIQUE_FIELDS.iter().find(|(name, ..)| *name == constraint) {
                    Some((_, field, message)) => Self::Conflict {
                        field: Some((*field).to_owned()),
                        message: (*message).to_owned(),
                    },
                    None => Self::Conflict {
                        field: None,
                        message: "the record already exists".into(),
                    },
                }
            }
            D::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                Self::missing_reference(info.as_ref())
                    .unwrap_or_else(|| Self::Internal(anyhow::Error::new(err)))
            }
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                Self::Unavailable(anyhow::Error::new(err))
            }
            _ => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<stateset_db::PoolError> for Error {
    fn from(err: stateset_db::PoolError) -> Self {
        Self::Unavailable(anyhow::Error::new(err))
    }
}

/// Collects field errors so a caller hears about every bad field at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Records `message` against `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Records the error of `check`, if any, against `field`.
    pub fn check(&mut self, field: impl Into<String>, check: Result<(), String>) {
        if let Err(message) = check {
            self.add(field, message);
        }
    }

    /// Reads the email address sent as `field` (trimmed, lower-cased); a malformed one is
    /// recorded against `field` and comes back as sent, normalised.
    pub fn email(&mut self, field: impl Into<String>, raw: &str) -> String {
        match stateset_domain::Email::parse(raw) {
            Ok(email) => email.into_string(),
            Err(message) => {
                self.add(field, message);
                raw.trim().to_lowercase()
            }
        }
    }

    /// Reads the currency code sent as `field`; a malformed one is recorded against `field`.
    pub fn currency(
        &mut self,
        field: impl Into<String>,
        raw: &str,
    ) -> Option<stateset_domain::Currency> {
        match stateset_domain::Currency::parse(raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// Reads the SKU sent as `field`; a malformed one is recorded against `field`.
    pub fn sku(&mut self, field: impl Into<String>, raw: &str) -> Option<stateset_domain::Sku> {
        match stateset_domain::Sku::parse(raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// How many errors were recorded so far.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` when nothing was recorded, else every recorded error.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use stateset_db::TxError as _;

    use super::*;

    #[test]
    fn a_server_side_error_names_the_step_that_failed_and_a_client_error_is_left_alone() {
        let failed = Error::Internal(anyhow::anyhow!("connection reset")).in_step("place_order");
        assert_eq!(format!("{failed:#}"), "internal error");
        let Error::Internal(chain) = failed else {
            panic!("still internal");
        };
        assert_eq!(format!("{chain:#}"), "place_order: connection reset");
        let refused = Error::not_found("order", "x").in_step("place_order");
        assert_eq!(refused.code(), "NOT_FOUND");
        assert!(!refused.to_string().contains("place_order"));
    }

    #[test]
    fn only_deadlocks_and_serialization_failures_are_retried() {
        use diesel::result::{DatabaseErrorKind, Error as D};
        let serialization = Error::from(D::DatabaseError(
            DatabaseErrorKind::SerializationFailure,
            Box::new("could not serialize access".to_owned()),
        ));
        assert!(serialization.is_retryable());
        assert!(
            serialization.in_step("reserve").is_retryable(),
            "the step's context hides nothing"
        );
        assert!(!Error::from(D::NotFound).is_retryable());
        assert!(!Error::Internal(anyhow::anyhow!("deadlock detected")).is_retryable());
    }
}
