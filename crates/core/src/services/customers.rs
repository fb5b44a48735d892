//! Customers: profiles, address books with default shipping and billing, wishlists, tags.
//! A customer with a login sees and changes only their own record.

use stateset_domain::EventType;
use std::collections::HashMap;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::{check_address, check_tags, optional_text};
use super::error::Validator;
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error};
use crate::auth::Access;
use crate::events::{self, DomainEvent};
use stateset_db::Db;
use stateset_db::customers::{self as q, AddressRow, CustomerChanges, CustomerFilter, CustomerRow};
use stateset_domain::{Address, Customer};

const MAX_NAME: usize = 100;
const MAX_NOTES: usize = 10_000;

/// A new customer.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateCustomerInput {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    #[graphql(default)]
    pub tags: Vec<String>,
    pub notes: Option<String>,
    /// The login this customer belongs to, if any.
    pub user_id: Option<Uuid>,
}

/// Changes to a customer; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateCustomerInput {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
}

/// An address for the address book.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CustomerAddressInput {
    #[serde(flatten)]
    #[graphql(flatten)]
    pub address: Address,
    /// Make it the default shipping address.
    pub default_shipping: Option<bool>,
    /// Make it the default billing address.
    pub default_billing: Option<bool>,
}

/// Which customers to list.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CustomerQuery {
    /// Part of the email, first or last name.
    pub query: Option<String>,
    pub tag: Option<String>,
}

/// The customer service.
#[derive(Clone)]
pub struct CustomerService {
    db: Db,
}

/// Whether `access` covers `row`: everything, or only the caller's own record.
fn visible(access: Access, row: &CustomerRow) -> bool {
    match access {
        Access::All => true,
        Access::Own(user) => row.user_id == Some(user),
    }
}

/// Loads a customer with addresses and wishlist.
pub(crate) async fn load_customer(
    conn: &mut AsyncPgConnection,
    row: CustomerRow,
) -> Result<Customer, Error> {
    Ok(assemble(conn, vec![row]).await?.remove(0))
}

async fn assemble(
    conn: &mut AsyncPgConnection,
    rows: Vec<CustomerRow>,
) -> Result<Vec<Customer>, Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut addresses: HashMap<Uuid, Vec<AddressRow>> = HashMap::new();
    for address in q::addresses_for(conn, &ids).await? {
        addresses
            .entry(address.customer_id)
            .or_default()
            .push(address);
    }
    let mut wishlists: HashMap<Uuid, Vec<_>> = HashMap::new();
    for (customer, item) in q::wishlists_for(conn, &ids).await? {
        wishlists.entry(customer).or_default().push(item);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            row.into_domain(
                addresses.remove(&id).unwrap_or_default(),
                wishlists.remove(&id).unwrap_or_default(),
            )
        })
        .collect())
}

/// Gives a new customer login its customer record, in the caller's transaction: the existing
/// record with the same email when it has no login yet (e.g. imported), else a new one.
pub(crate) async fn create_for_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    email: &str,
    name: Option<&str>,
) -> Result<Customer, Error> {
    if let Some(existing) = q::customer_by_email(conn, email).await? {
        if existing.user_id.is_some() {
            return Err(Error::Conflict {
                field: Some("email".into()),
                message: "a customer with this email already has a login".into(),
            });
        }
        let linked = q::link_user(conn, existing.id, user_id).await?;
        let customer = load_customer(conn, linked).await?;
        record(conn, EventType::CustomerUpdated, &customer).await?;
        return Ok(customer);
    }
    let (first_name, last_name) = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => match name.split_once(' ') {
            Some((first, last)) => (Some(first.to_owned()), Some(last.trim().to_owned())),
            None => (Some(name.to_owned()), None),
        },
        None => (None, None),
    };
    let now = Utc::now();
    let row = CustomerRow {
        id: Uuid::now_v7(),
        user_id: Some(user_id),
        email: email.to_owned(),
        first_name,
        last_name,
        phone: None,
        tags: vec![],
        notes: None,
        default_shipping_address_id: None,
        default_billing_address_id: None,
        created_at: now,
        updated_at: now,
    };
    q::insert_customer(conn, &row).await?;
    let customer = load_customer(conn, row).await?;
    record(conn, EventType::CustomerCreated, &customer).await?;
    Ok(customer)
}

async fn record(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    customer: &Customer,
) -> Result<(), Error> {
    let data = serde_json::to_value(customer).map_err(anyhow::Error::new)?;
    events::record(
        conn,
        DomainEvent {
            event_type,
            entity_type: "customer",
            entity_id: customer.id,
            data,
        },
    )
    .await?;
    Ok(())
}

impl CustomerService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates a customer; writes `customer.created`. Customers may only create their own record.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_customer(
        &self,
        ctx: &Ctx,
        input: CreateCustomerInput,
    ) -> Result<Customer, Error> {
        let access = ctx.authorize("customers:write")?;
        let mut v = Validator::default();
        let email = v.email("email", &input.email);
        let first_name = optional_text(&mut v, "first_name", input.first_name.as_deref(), MAX_NAME);
        let last_name = optional_text(&mut v, "last_name", input.last_name.as_deref(), MAX_NAME);
        let phone = optional_text(&mut v, "phone", input.phone.as_deref(), 50);
        let tags = check_tags(&mut v, "tags", &input.tags);
        let notes = optional_text(&mut v, "notes", input.notes.as_deref(), MAX_NOTES);
        let user_id = match access {
            Access::All => input.user_id,
            Access::Own(user) if input.user_id.is_none_or(|u| u == user) => Some(user),
            Access::Own(_) => {
                v.add("user_id", "you can only create your own customer record");
                None
            }
        };
        v.finish()?;
        let now = Utc::now();
        let row = CustomerRow {
            id: Uuid::now_v7(),
            user_id,
            email,
            first_name,
            last_name,
            phone,
            tags,
            notes,
            default_shipping_address_id: None,
            default_billing_address_id: None,
            created_at: now,
            updated_at: now,
        };
        self.db
            .tx(
                "create_customer",
                async move |conn: &mut AsyncPgConnection| {
                    q::insert_customer(conn, &row)
                        .await
                        .map_err(|e| match Error::from(e) {
                            Error::Conflict { field: None, .. } => Error::Conflict {
                                field: Some("user_id".into()),
                                message: "this login already has a customer record".into(),
                            },
                            other => other,
                        })?;
                    let customer = load_customer(conn, row).await?;
                    record(conn, EventType::CustomerCreated, &customer).await?;
                    Ok(customer)
                },
            )
            .await
    }

    /// One customer; someone else's is `NOT_FOUND` for a customer.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, customer.id = %id))]
    pub async fn get_customer(&self, ctx: &Ctx, id: Uuid) -> Result<Customer, Error> {
        let access = ctx.authorize("customers:read")?;
        let mut conn = self.db.conn().await?;
        let row = q::customer_by_id(&mut conn, id)
            .await?
            .filter(|row| visible(access, row));
        load_customer(
            &mut conn,
            row.ok_or_else(|| Error::not_found("customer", id))?,
        )
        .await
    }

    /// The caller's own customer record.
    pub async fn my_customer(&self, ctx: &Ctx) -> Result<Customer, Error> {
        let user = ctx.principal.user_id().ok_or(Error::Unauthenticated)?;
        ctx.authorize("customers:read")?;
        let mut conn = self.db.conn().await?;
        let row = q::customer_by_user(&mut conn, user)
            .await?
            .ok_or_else(|| Error::not_found("customer", user))?;
        load_customer(&mut conn, row).await
    }

    /// Customers by id, for batch loading; ones the caller may not see are left out.
    pub async fn customers_by_ids(
        &self,
        ctx: &Ctx,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Customer>, Error> {
        let access = ctx.authorize("customers:read")?;
        let mut conn = self.db.conn().await?;
        let rows = q::customers_by_ids(&mut conn, ids)
            .await?
            .into_iter()
            .filter(|row| visible(access, row))
            .collect();
        Ok(assemble(&mut conn, rows)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect())
    }

    /// Customers, newest first, searched by name or email and filtered by tag.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_customers(
        &self,
        ctx: &Ctx,
        query: CustomerQuery,
        page: PageRequest,
    ) -> Result<Page<Customer>, Error> {
        let access = ctx.authorize("customers:read")?;
        let limit = page.limit()?;
        let after = page.keyset("created_at_desc")?;
        let filter = CustomerFilter {
            query: query.query,
            tag: query.tag,
            user_id: match access {
                Access::All => None,
                Access::Own(user) => Some(user),
            },
        };
        let mut conn = self.db.conn().await?;
        let rows = q::list_customers(&mut conn, &filter, after, limit + 1).await?;
        let total = page.total(q::count_customers(&mut conn, &filter)).await?;
        let position = |row: &CustomerRow| Keyset::created(row.created_at, row.id);
        let page = page.page("created_at_desc", limit, rows, total, position, |row| row);
        let (cursors, rows): (Vec<String>, Vec<CustomerRow>) = page.items.into_iter().unzip();
        let customers = assemble(&mut conn, rows).await?;
        Ok(Page {
            items: cursors.into_iter().zip(customers).collect(),
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            total_count: page.total_count,
        })
    }

    /// Locks a customer the caller may change, runs `change` and records `customer.updated`.
    async fn change<F>(&self, ctx: &Ctx, id: Uuid, change: F) -> Result<Customer, Error>
    where
        F: for<'c> FnOnce(
                &'c mut AsyncPgConnection,
                &'c CustomerRow,
            ) -> BoxFuture<'c, Result<(), Error>>
            + Send,
    {
        let access = ctx.authorize("customers:write")?;
        self.db
            .tx("change", async move |conn: &mut AsyncPgConnection| {
                let row = q::lock_customer(conn, id)
                    .await?
                    .filter(|row| visible(access, row));
                let row = row.ok_or_else(|| Error::not_found("customer", id))?;
                change(conn, &row).await?;
                let row = q::customer_by_id(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("customer", id))?;
                let customer = load_customer(conn, row).await?;
                record(conn, EventType::CustomerUpdated, &customer).await?;
                Ok(customer)
            })
            .await
    }

    /// Changes a customer's profile; writes `customer.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, customer.id = %id))]
    pub async fn update_customer(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateCustomerInput,
    ) -> Result<Customer, Error> {
        let mut v = Validator::default();
        let changes = CustomerChanges {
            email: input.email.as_deref().map(|e| v.email("email", e)),
            first_name: input
                .first_name
                .as_deref()
                .map(|n| optional_text(&mut v, "first_name", Some(n), MAX_NAME)),
            last_name: input
                .last_name
                .as_deref()
                .map(|n| optional_text(&mut v, "last_name", Some(n), MAX_NAME)),
            phone: input
                .phone
                .as_deref()
                .map(|p| optional_text(&mut v, "phone", Some(p), 50)),
            tags: input.tags.as_deref().map(|t| check_tags(&mut v, "tags", t)),
            notes: input
                .notes
                .as_deref()
                .map(|n| optional_text(&mut v, "notes", Some(n), MAX_NOTES)),
            updated_at: Some(Utc::now()),
            ..Default::default()
        };
        v.finish()?;
        self.change(ctx, id, move |conn, _| {
            Box::pin(async move {
                q::update_customer(conn, id, &changes).await?;
                Ok(())
            })
        })
        .await
    }

    /// Adds an address to the address book, optionally as a default.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, customer.id = %id))]
    pub async fn add_address(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: CustomerAddressInput,
    ) -> Result<Customer, Error> {
        let mut v = Validator::default();
        let address = check_address(&mut v, "address", &input.address);
        v.finish()?;
        self.change(ctx, id, move |conn, customer| {
            Box::pin(async move {
                let row = AddressRow::new(Uuid::now_v7(), customer.id, address, Utc::now());
                q::insert_address(conn, &row).await?;
                set_defaults(
                    conn,
                    customer,
                    row.id,
                    input.default_shipping,
                    input.default_billing,
                )
                .await
            })
        })
        .await
    }

    /// Replaces an address of the address book.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, customer.id = %id))]
    pub async fn update_address(
        &self,
        ctx: &Ctx,
        id: Uuid,
        address_id: Uuid,
        input: CustomerAddressInput,
    ) -> Result<Customer, Error> {
        let mut v = Validator::default();
        let address = check_address(&mut v, "address", &input.address);
        v.finish()?;
        self.change(ctx, id, move |conn, customer| {
            Box::pin(async move {
                let current = q::address_by_id(conn, address_id)
                    .await?
                    .filter(|a| a.customer_id == customer.id);
                let current = current.ok_or_else(|| Error::not_found("address", address_id))?;
                let row = AddressRow {
                    created_at: current.created_at,
                    ..AddressRow::new(address_id, customer.id, address, Utc::now())
                };
                q::update_address(conn, &row).await?;
                set_defaults(
                    conn,
                    customer,
                    address_id,
                    input.default_shipping,
                    input.default_billing,
                )
                .await
            })
        })
        .await
    }

    /// Removes an address (a default that is removed leaves no default).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, customer.id = %id))]
    pub async fn delete_address(
        &self,
        ctx: &Ctx,
        id: Uuid,
        address_id: Uuid,
    ) -> Result<Customer, Error> {
        self.change(ctx, id, move |conn, customer| {
            Box::pin(async move {
                let current = q::address_by_id(conn, address_id)
                    .await?
                    .filter(|a| a.customer_id == customer.id);
                current.ok_or_else(|| Error::not_found("address", address_id))?;
                q::delete_address(conn, address_id).await?;
                Ok(())
            })
        })
        .await
    }

    /// Adds a variant to the wishlist (adding it twice changes nothing).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, customer.id = %id))]
    pub async fn add_to_wishlist(
        &self,
        ctx: &Ctx,
        id: Uuid,
        variant_id: Uuid,
    ) -> Result<Customer, Error> {
        self.change(ctx, id, move |conn, customer| {
            Box::pin(async move {
                let found = stateset_db::orders::sellable_variants(conn, &[variant_id]).await?;
                if found.is_empty() {
                    return Err(Error::invalid("variant_id", "no such variant"));
                }
                q::add_wishlist_item(conn, customer.id, variant_id).await?;
                Ok(())
            })
        })
        .await
    }

    /// Removes a variant from the wishlist.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, customer.id = %id))]
    pub async fn remove_from_wishlist(
        &self,
        ctx: &Ctx,
        id: Uuid,
        variant_id: Uuid,
    ) -> Result<Customer, Error> {
        self.change(ctx, id, move |conn, customer| {
            Box::pin(async move {
                if q::remove_wishlist_item(conn, customer.id, variant_id).await? == 0 {
                    return Err(Error::not_found("wishlist item", variant_id));
                }
                Ok(())
            })
        })
        .await
    }
}

async fn set_defaults(
    conn: &mut AsyncPgConnection,
    customer: &CustomerRow,
    address_id: Uuid,
    shipping: Option<bool>,
    billing: Option<bool>,
) -> Result<(), Error> {
    // The first address becomes the default of whatever has none yet.
    let shipping = shipping.unwrap_or(customer.default_shipping_address_id.is_none());
    let billing = billing.unwrap_or(customer.default_billing_address_id.is_none());
    let pick = |wanted: bool, current: Option<Uuid>| match (wanted, current) {
        (true, _) => Some(Some(address_id)),
        (false, Some(current)) if current == address_id => Some(None),
        (false, _) => None,
    };
    let changes = CustomerChanges {
        default_shipping_address_id: pick(shipping, customer.default_shipping_address_id),
        default_billing_address_id: pick(billing, customer.default_billing_address_id),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    q::update_customer(conn, customer.id, &changes).await?;
    Ok(())
}
