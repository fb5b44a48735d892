//! Rows and queries for customers, their addresses and wishlists.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Keyset;
use super::schema::{customer_addresses, customers, wishlist_items};
use stateset_domain::{Address, Customer, CustomerAddress, WishlistItem};

/// A `customers` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customers)]
pub struct CustomerRow {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub default_shipping_address_id: Option<Uuid>,
    pub default_billing_address_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CustomerRow {
    pub fn into_domain(self, addresses: Vec<AddressRow>, wishlist: Vec<WishlistItem>) -> Customer {
        let addresses = addresses
            .into_iter()
            .map(|a| CustomerAddress {
                id: a.id,
                is_default_shipping: self.default_shipping_address_id == Some(a.id),
                is_default_billing: self.default_billing_address_id == Some(a.id),
                address: a.into_address(),
            })
            .collect();
        Customer {
            id: self.id,
            user_id: self.user_id,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            tags: self.tags,
            notes: self.notes,
            default_shipping_address_id: self.default_shipping_address_id,
            default_billing_address_id: self.default_billing_address_id,
            addresses,
            wishlist,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Changes to a customer; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = customers)]
pub struct CustomerChanges {
    pub email: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<Option<String>>,
    pub default_shipping_address_id: Option<Option<Uuid>>,
    pub default_billing_address_id: Option<Option<Uuid>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A `customer_addresses` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = customer_addresses)]
pub struct AddressRow {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AddressRow {
    pub fn new(id: Uuid, customer_id: Uuid, a: Address, now: DateTime<Utc>) -> Self {
        Self {
            id,
            customer_id,
            first_name: a.first_name,
            last_name: a.last_name,
            company: a.company,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn into_address(self) -> Address {
        Address {
            first_name: self.first_name,
            last_name: self.last_name,
            company: self.company,
            line1: self.line1,
            line2: self.line2,
            city: self.city,
            region: self.region,
            postal_code: self.postal_code,
            country: self.country,
            phone: self.phone,
        }
    }
}

pub async fn insert_customer(conn: &mut AsyncPgConnection, row: &CustomerRow) -> QueryResult<()> {
    diesel::insert_into(customers::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn customer_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The customer record of a login, if it has one.
pub async fn customer_by_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .filter(customers::user_id.eq(user_id))
        .select(CustomerRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn customer_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .filter(customers::email.eq(email))
        .select(CustomerRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn link_user(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    user_id: Uuid,
) -> QueryResult<CustomerRow> {
    diesel::update(customers::table.find(id))
        .set((
            customers::user_id.eq(user_id),
            customers::updated_at.eq(Utc::now()),
        ))
        .returning(CustomerRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn customers_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<CustomerRow>> {
    customers::table
        .filter(customers::id.eq_any(ids))
        .select(CustomerRow::as_select())
        .load(conn)
        .await
}

pub async fn lock_customer(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update_customer(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &CustomerChanges,
) -> QueryResult<CustomerRow> {
    diesel::update(customers::table.find(id))
        .set(changes)
        .returning(CustomerRow::as_returning())
        .get_result(conn)
        .await
}

/// Which customers to list.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Part of the email, first or last name (case-insensitive).
    pub query: Option<String>,
    pub tag: Option<String>,
    /// Only the customer of this login.
    pub user_id: Option<Uuid>,
}

fn filtered(filter: &CustomerFilter) -> customers::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = customers::table.into_boxed();
    if let Some(text) = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = format!("%{}%", super::like_escape(text));
        query = query.filter(
            customers::email
                .ilike(pattern.clone())
                .or(customers::first_name.ilike(pattern.clone()))
                .or(customers::last_name.ilike(pattern)),
        );
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(customers::tags.contains(vec![tag.replace('\0', "")]));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(customers::user_id.eq(user_id));
    }
    query
}

/// Customers matching `filter`, newest first, strictly after `after`.
pub async fn list_customers(
    conn: &mut AsyncPgConnection,
    filter: &CustomerFilter,
    after: Option<Keyset>,
    limit: i64,
) -> QueryResult<Vec<CustomerRow>> {
    let mut query = filtered(filter)
        .select(CustomerRow::as_select())
        .limit(limit);
    if let Some(at) = after {
        query = query.filter(super::created_before("customers", at));
    }
    query
        .order((customers::created_at.desc(), customers::id.desc()))
        .load(conn)
        .await
}

pub async fn count_customers(
    conn: &mut AsyncPgConnection,
    filter: &CustomerFilter,
) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn).await
}

pub async fn addresses_for(
    conn: &mut AsyncPgConnection,
    customer_ids: &[Uuid],
) -> QueryResult<Vec<AddressRow>> {
    customer_addresses::table
        .filter(customer_addresses::customer_id.eq_any(customer_ids))
        .select(AddressRow::as_select())
        .order((
            customer_addresses::customer_id,
            customer_addresses::created_at,
            customer_addresses::id,
        ))
        .load(conn)
        .await
}

pub async fn address_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<AddressRow>> {
    customer_addresses::table
        .find(id)
        .select(AddressRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert_address(conn: &mut AsyncPgConnection, row: &AddressRow) -> QueryResult<()> {
    diesel::insert_into(customer_addresses::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn update_address(conn: &mut AsyncPgConnection, row: &AddressRow) -> QueryResult<usize> {
    diesel::update(customer_addresses::table.find(row.id))
        .set(row)
        .execute(conn)
        .await
}

pub async fn delete_address(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(customer_addresses::table.find(id))
        .execute(conn)
        .await
}

pub async fn wishlists_for(
    conn: &mut AsyncPgConnection,
    customer_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, WishlistItem)>> {
    let rows: Vec<(Uuid, Uuid, DateTime<Utc>)> = wishlist_items::table
        .filter(wishlist_items::customer_id.eq_any(customer_ids))
        .select((
            wishlist_items::customer_id,
            wishlist_items::variant_id,
            wishlist_items::added_at,
        ))
        .order(wishlist_items::added_at)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(c, variant_id, added_at)| {
            (
                c,
                WishlistItem {
                    variant_id,
                    added_at,
                },
            )
        })
        .collect())
}

pub async fn add_wishlist_item(
    conn: &mut AsyncPgConnection,
    customer_id: Uuid,
    variant_id: Uuid,
) -> QueryResult<()> {
    diesel::insert_into(wishlist_items::table)
        .values((
            wishlist_items::customer_id.eq(customer_id),
            wishlist_items::variant_id.eq(variant_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn remove_wishlist_item(
    conn: &mut AsyncPgConnection,
    customer_id: Uuid,
    variant_id: Uuid,
) -> QueryResult<usize> {
    diesel::delete(
        wishlist_items::table
            .filter(wishlist_items::customer_id.eq(customer_id))
            .filter(wishlist_items::variant_id.eq(variant_id)),
    )
    .execute(conn)
    .await
}
