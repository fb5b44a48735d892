//! Carts: guest carts opened by their token, customer carts (one active each), lines priced
//! live with their availability, expiry, and merging a guest cart into the customer's cart at
//! sign-in.

use stateset_domain::EventType;
use std::collections::HashMap;

use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::Validator;
use super::{Ctx, Error};
use crate::auth::Access;
use stateset_db::Db;
use stateset_db::carts::{self as q, CartChanges, CartRow, LineRow};
use stateset_db::customers as customer_q;
use stateset_domain::{Cart, CartItem, CartStatus, Money, ProductStatus};

/// Most lines in one cart, and the most units of one line.
const MAX_LINES: usize = 100;
use stateset_domain::quantity::{MAX_LINE_UNITS as MAX_QUANTITY, check_line_units};
/// How long a cart lives after its last change: a guest's, a customer's.
const GUEST_TTL_DAYS: i64 = 7;
const CUSTOMER_TTL_DAYS: i64 = 30;

/// How a caller names a cart: by id (its owner, or staff) or by its token (whoever holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartRef {
    Id(Uuid),
    Token(String),
}

impl CartRef {
    /// A cart id, or else a token.
    pub fn parse(raw: &str) -> Self {
        match Uuid::parse_str(raw.trim()) {
            Ok(id) => Self::Id(id),
            Err(_) => Self::Token(raw.trim().to_owned()),
        }
    }
}

/// Units of a variant to put in a cart.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CartLineInput {
    pub variant_id: Uuid,
    /// 1 to 10000; added to what the cart already holds of the variant.
    pub quantity: i32,
}

/// A new cart. Signed-in customers get their own cart (their active one, if they have one);
/// anyone else gets a guest cart opened by its token.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateCartInput {
    /// Lines to start with.
    #[serde(default)]
    #[graphql(default)]
    pub items: Vec<CartLineInput>,
    /// Staff only: make the cart for this customer.
    pub customer_id: Option<Uuid>,
}

/// A line's new quantity.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateCartItemInput {
    /// 1 to 10000.
    pub quantity: i32,
}

/// One change to a cart's lines.
enum Change {
    Add(CartLineInput),
    Set(Uuid, i32),
    Remove(Uuid),
}

/// Sets a line's quantity; more than is available is refused (less is always fine).
async fn set_line(
    conn: &mut AsyncPgConnection,
    cart: &CartRow,
    item_id: Uuid,
    quantity: i32,
) -> Result<(), Error> {
    let lines = q::lines(conn, cart.id).await?;
    let line = lines
        .iter()
        .find(|l| l.id == item_id)
        .ok_or_else(|| Error::not_found("cart item", item_id))?;
    let available = availability(conn, &[line.variant_id]).await?;
    if let Some(available) = available.get(&line.variant_id)
        && quantity > *available
        && quantity > line.quantity
    {
        return Err(Error::InsufficientStock {
            sku: line.sku.clone(),
            requested: quantity,
            available: *available,
        });
    }
    q::set_quantity(conn, cart.id, item_id, quantity).await?;
    Ok(())
}

/// Carts and their lines.
#[derive(Clone)]
pub struct CartService {
    db: Db,
}

fn ttl(row_customer: Option<Uuid>) -> Duration {
    match row_customer {
        Some(_) => Duration::days(CUSTOMER_TTL_DAYS),
        None => Duration::days(GUEST_TTL_DAYS),
    }
}

fn check_quantity(v: &mut Validator, field: &str, quantity: i32) {
    v.check(field, check_line_units(quantity));
}

/// Units available to sell now per variant; variants without stock records are absent
/// (untracked).
async fn availability(
    conn: &mut AsyncPgConnection,
    variant_ids: &[Uuid],
) -> Result<HashMap<Uuid, i32>, Error> {
    let mut available: HashMap<Uuid, i32> = HashMap::new();
    for item in stateset_db::inventory::items_of_variants(conn, variant_ids).await? {
        *available.entry(item.variant_id).or_default() += item.available().max(0);
    }
    Ok(available)
}

/// The cart as shown: lines at current prices with availability.
/// Writes a cart event carrying the cart as shown, minus its token: the token is a guest's key
/// to the cart, and events travel to subscribers and webhooks.
async fn cart_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    cart: &Cart,
) -> Result<(), Error> {
    let mut event =
        crate::events::DomainEvent::about(event_type, "cart", cart.id, cart, serde_json::json!({}))
            .map_err(anyhow::Error::new)?;
    if let Some(data) = event.data.as_object_mut() {
        data.remove("token");
    }
    crate::events::record(conn, event).await?;
    Ok(())
}

pub async fn view(conn: &mut AsyncPgConnection, row: CartRow) -> Result<Cart, Error> {
    let lines = q::lines(conn, row.id).await?;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.variant_id).collect();
    let available = availability(conn, &ids).await?;
    let items: Vec<CartItem> = lines
        .into_iter()
        .map(|line| item(line, &available))
        .collect();
    let subtotal: Decimal = items.iter().map(|i| i.line_total.amount).sum();
    Ok(Cart {
        id: row.id,
        token: row.token,
        customer_id: row.customer_id,
        status: row.status,
        item_count: items.iter().map(|i| i.quantity).sum(),
        subtotal: Money::from_stored(subtotal, &row.currency),
        purchasable: !items.is_empty() && items.iter().all(|i| i.purchasable),
        currency: row.currency,
        items,
        expires_at: row.expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn item(line: LineRow, available: &HashMap<Uuid, i32>) -> CartItem {
    let available = available.get(&line.variant_id).copied();
    let on_sale = line.product_status == ProductStatus::Active;
    CartItem {
        id: line.id,
        variant_id: line.variant_id,
        product_id: line.product_id,
        sku: line.sku,
        product_name: line.product_name,
        variant_title: line.variant_title,
        quantity: line.quantity,
        unit_price: Money::from_stored(line.price, &line.currency),
        line_total: Money::from_stored(line.price * Decimal::from(line.quantity), &line.currency),
        weight_grams: line.weight_grams,
        available,
        purchasable: on_sale && available.is_none_or(|a| a >= line.quantity),
    }
}

/// What adding more than is in stock does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// Refused with `INSUFFICIENT_STOCK` (carts people fill themselves).
    Refuse,
    /// Kept in the cart, shown not purchasable, so checkout cannot complete until the quantity
    /// is changed (ACP sessions, which report the shortage as a message to the agent).
    Keep,
}

/// Adds lines to a locked, active cart, refusing more than is in stock; see
/// [`add_lines_with`].
async fn add_lines(
    conn: &mut AsyncPgConnection,
    cart: &mut CartRow,
    lines: &[CartLineInput],
    field: &str,
) -> Result<(), Error> {
    add_lines_with(conn, cart, lines, field, Shortfall::Refuse).await
}

/// Adds lines to a locked, active cart, checking each variant: it exists, is on sale, is
/// priced in the cart's currency (an empty cart takes the first line's), and enough is
/// available (what a shortage does is `shortfall`). `field` names the input the lines came
/// from.
async fn add_lines_with(
    conn: &mut AsyncPgConnection,
    cart: &mut CartRow,
    lines: &[CartLineInput],
    field: &str,
    shortfall: Shortfall,
) -> Result<(), Error> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.variant_id).collect();
    let variants: HashMap<Uuid, _> = stateset_db::catalog::variants_by_ids(conn, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut v = Validator::default();
    let current = q::quantities(conn, cart.id).await?;
    let mut in_cart: HashMap<Uuid, i32> = current.iter().copied().collect();
    for (i, line) in lines.iter().enumerate() {
        let at = |name: &str| format!("{field}[{i}].{name}");
        check_quantity(&mut v, &at("quantity"), line.quantity);
        let Some(variant) = variants.get(&line.variant_id) else {
            v.add(at("variant_id"), "no such variant");
            continue;
        };
        let product = stateset_db::catalog::product_by_id(conn, variant.product_id).await?;
        if product.is_none_or(|p| p.status != ProductStatus::Active) {
            v.add(at("variant_id"), "is not on sale");
        }
        if in_cart.is_empty() && current.is_empty() {
            cart.currency = variant.currency.clone();
        }
        if variant.currency != cart.currency {
            v.add(
                at("variant_id"),
                format!(
                    "is priced in {}; this cart is in {}",
                    variant.currency, cart.currency
                ),
            );
        }
        let total = in_cart.entry(line.variant_id).or_default();
        *total = total.saturating_add(line.quantity.max(0));
        // A line already too large on its own is reported once, above.
        if *total > MAX_QUANTITY && line.quantity <= MAX_QUANTITY {
            v.add(
                at("quantity"),
                format!("would make {total}; at most {MAX_QUANTITY} per line"),
            );
        }
    }
    if in_cart.len() > MAX_LINES {
        v.add(field, format!("a cart holds at most {MAX_LINES} lines"));
    }
    v.finish()?;
    let available = match shortfall {
        Shortfall::Refuse => availability(conn, &ids).await?,
        Shortfall::Keep => HashMap::new(),
    };
    for (variant_id, wanted) in &in_cart {
        if let (Some(available), Some(variant)) =
            (available.get(variant_id), variants.get(variant_id))
            && wanted > available
        {
            return Err(Error::InsufficientStock {
                sku: variant.sku.clone(),
                requested: *wanted,
                available: *available,
            });
        }
    }
    for line in lines {
        q::add_quantity(conn, cart.id, line.variant_id, line.quantity).await?;
    }
    Ok(())
}

/// Moves every line of the guest cart `token` into `customer`'s active cart (adopting the
/// guest cart as theirs when they have none); the guest cart ends `merged`. Returns the
/// customer's cart, or `None` when the token names no usable guest cart.
pub async fn merge_guest_cart(
    conn: &mut AsyncPgConnection,
    token: &str,
    customer: Uuid,
) -> Result<Option<CartRow>, Error> {
    let Some(guest) = q::lock_cart(conn, None, Some(token)).await? else {
        return Ok(None);
    };
    if guest.status != CartStatus::Active
        || guest.expires_at < Utc::now()
        || guest.customer_id.is_some()
    {
        return Ok(None);
    }
    let now = Utc::now();
    let Some(mut target) = q::lock_active_cart_of(conn, customer).await? else {
        let changes = CartChanges {
            customer_id: Some(Some(customer)),
            expires_at: Some(now + ttl(Some(customer))),
            updated_at: Some(now),
            ..Default::default()
        };
        return Ok(Some(q::update_cart(conn, guest.id, &changes).await?));
    };
    let lines: Vec<CartLineInput> = q::quantities(conn, guest.id)
        .await?
        .into_iter()
        .map(|(variant_id, quantity)| CartLineInput {
            variant_id,
            quantity,
        })
        .collect();
    let mut left_behind = 0;
    for line in &lines {
        // Each line in a savepoint: a refused line must not abort the merge of the others.
        let added = conn
            .transaction(async |conn: &mut AsyncPgConnection| {
                add_lines(conn, &mut target, std::slice::from_ref(line), "items").await
            })
            .await;
        match added {
            Ok(()) => q::remove_variant(conn, guest.id, line.variant_id).await?,
            // A line the customer's cart refuses (sold out, off sale, another currency) stays
            // on the guest cart, which its token still shows; anything else fails the merge.
            Err(Error::Validation(_) | Error::InsufficientStock { .. }) => left_behind += 1,
            Err(err) => return Err(err),
        }
    }
    if left_behind > 0 {
        tracing::info!(
            cart.id = %guest.id,
            cart.left_behind = left_behind,
            "guest cart lines the customer's cart refused stay on the merged guest cart"
        );
    }
    let merged = CartChanges {
        status: Some(CartStatus::Merged.as_str()),
        merged_into: Some(Some(target.id)),
        updated_at: Some(now),
        ..Default::default()
    };
    q::update_cart(conn, guest.id, &merged).await?;
    let touched = CartChanges {
        currency: Some(target.currency.clone()),
        expires_at: Some(now + ttl(Some(customer))),
        updated_at: Some(now),
        ..Default::default()
    };
    Ok(Some(q::update_cart(conn, target.id, &touched).await?))
}

impl CartService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The customer record of a signed-in customer, when the caller is one.
    async fn own_customer(conn: &mut AsyncPgConnection, ctx: &Ctx) -> Result<Option<Uuid>, Error> {
        match (ctx.access("carts:write"), ctx.principal.user_id()) {
            (Some(Access::Own(user)), _) => Ok(customer_q::customer_by_user(conn, user)
                .await?
                .map(|c| c.id)),
            _ => Ok(None),
        }
    }

    /// Opens a cart for a change or a read, locked: by token for anyone holding it, by id for
    /// its owner or staff. Only active, unexpired carts can be used.
    async fn open(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        cart: &CartRef,
        permission: &'static str,
        action: &str,
    ) -> Result<CartRow, Error> {
        let row = match cart {
            CartRef::Token(token) => q::lock_cart(conn, None, Some(token)).await?,
            CartRef::Id(id) => {
                let access = ctx.authorize(permission)?;
                let row = q::lock_cart(conn, Some(*id), None).await?;
                match (access, row) {
                    (Access::All, row) => row,
                    (Access::Own(user), Some(row)) => {
                        let owner = match row.customer_id {
                            Some(customer) => customer_q::customer_by_id(conn, customer)
                                .await?
                                .and_then(|c| c.user_id),
                            None => None,
                        };
                        (owner == Some(user)).then_some(row)
                    }
                    (Access::Own(_), None) => None,
                }
            }
        };
        let name = match cart {
            CartRef::Id(id) => id.to_string(),
            CartRef::Token(_) => "(token)".to_owned(),
        };
        let row = row.ok_or_else(|| Error::not_found("cart", name))?;
        if permission == "carts:read" {
            return Ok(row);
        }
        if row.status != CartStatus::Active {
            return Err(Error::InvalidState {
                from: row.status.to_string(),
                action: action.to_owned(),
            });
        }
        if row.expires_at < Utc::now() {
            return Err(Error::InvalidState {
                from: "expired".into(),
                action: action.to_owned(),
            });
        }
        Ok(row)
    }

    /// Pushes a changed cart's expiry back and returns it as shown, writing `event_type`.
    async fn touched(
        conn: &mut AsyncPgConnection,
        row: CartRow,
        event_type: EventType,
    ) -> Result<Cart, Error> {
        let now = Utc::now();
        let changes = CartChanges {
            currency: Some(row.currency.clone()),
            expires_at: Some(now + ttl(row.customer_id)),
            updated_at: Some(now),
            ..Default::default()
        };
        let row = q::update_cart(conn, row.id, &changes).await?;
        let cart = view(conn, row).await?;
        cart_event(conn, event_type, &cart).await?;
        Ok(cart)
    }

    /// Creates a cart (see [`CreateCartInput`]).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create(&self, ctx: &Ctx, input: CreateCartInput) -> Result<Cart, Error> {
        let ctx = ctx.clone();
        self.db
            .tx("create", async move |conn: &mut AsyncPgConnection| {
                Self::create_in(conn, &ctx, input, Shortfall::Refuse).await
            })
            .await
    }

    /// Creates a cart inside the caller's transaction; `shortfall` says what lines beyond the
    /// stock do.
    pub(crate) async fn create_in(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        input: CreateCartInput,
        shortfall: Shortfall,
    ) -> Result<Cart, Error> {
        if input.customer_id.is_some() && ctx.access("carts:write") != Some(Access::All) {
            return Err(Error::invalid(
                "customer_id",
                "only staff may make a cart for a customer",
            ));
        }
        let customer = match input.customer_id {
            Some(id) => Some(
                customer_q::customer_by_id(conn, id)
                    .await?
                    .ok_or_else(|| Error::invalid("customer_id", "no such customer"))?
                    .id,
            ),
            None => Self::own_customer(conn, ctx).await?,
        };
        let existing = match customer {
            Some(customer) => q::lock_active_cart_of(conn, customer).await?,
            None => None,
        };
        let mut event = EventType::CartUpdated;
        let mut cart = match existing {
            Some(cart) => cart,
            None => {
                event = EventType::CartCreated;
                let now = Utc::now();
                let row = CartRow {
                    id: Uuid::now_v7(),
                    token: format!("cart_{}", crate::auth::random_token(32)),
                    customer_id: customer,
                    currency: "USD".into(),
                    status: CartStatus::Active,
                    merged_into: None,
                    expires_at: now + ttl(customer),
                    created_at: now,
                    updated_at: now,
                };
                q::insert_cart(conn, &row).await?;
                row
            }
        };
        if !input.items.is_empty() {
            add_lines_with(conn, &mut cart, &input.items, "items", shortfall).await?;
        }
        Self::touched(conn, cart, event).await
    }

    /// A cart as it is now, read inside the caller's transaction (by token, or by id for its
    /// owner or staff).
    pub(crate) async fn get_in(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        cart: &CartRef,
    ) -> Result<Cart, Error> {
        let row = Self::open(conn, ctx, cart, "carts:read", "read").await?;
        view(conn, row).await
    }

    /// Replaces every line of an active cart with `lines`, inside the caller's transaction;
    /// `shortfall` says what lines beyond the stock do.
    pub(crate) async fn replace_lines_in(
        conn: &mut AsyncPgConnection,
        ctx: &Ctx,
        cart: &CartRef,
        lines: &[CartLineInput],
        shortfall: Shortfall,
    ) -> Result<Cart, Error> {
        let mut row = Self::open(conn, ctx, cart, "carts:write", "change items").await?;
        for line in q::lines(conn, row.id).await? {
            q::remove_line(conn, row.id, line.id).await?;
        }
        add_lines_with(conn, &mut row, lines, "items", shortfall).await?;
        Self::touched(conn, row, EventType::CartUpdated).await
    }

    /// A cart as it is now.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn get(&self, ctx: &Ctx, cart: &CartRef) -> Result<Cart, Error> {
        let mut conn = self.db.conn().await?;
        Self::get_in(&mut conn, ctx, cart).await
    }

    /// Adds units of a variant (to the line already holding it, if any).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn add_item(
        &self,
        ctx: &Ctx,
        cart: &CartRef,
        input: CartLineInput,
    ) -> Result<Cart, Error> {
        self.change(ctx, cart, Change::Add(input)).await
    }

    /// Sets a line's quantity.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, cart.item = %item_id))]
    pub async fn update_item(
        &self,
        ctx: &Ctx,
        cart: &CartRef,
        item_id: Uuid,
        input: UpdateCartItemInput,
    ) -> Result<Cart, Error> {
        let mut v = Validator::default();
        check_quantity(&mut v, "quantity", input.quantity);
        v.finish()?;
        self.change(ctx, cart, Change::Set(item_id, input.quantity))
            .await
    }

    /// Takes a line out of the cart.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, cart.item = %item_id))]
    pub async fn remove_item(
        &self,
        ctx: &Ctx,
        cart: &CartRef,
        item_id: Uuid,
    ) -> Result<Cart, Error> {
        self.change(ctx, cart, Change::Remove(item_id)).await
    }

    /// Moves a guest cart's lines into the signed-in customer's cart.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn merge(&self, ctx: &Ctx, token: &str) -> Result<Cart, Error> {
        ctx.authorize("carts:write")?;
        let ctx = ctx.clone();
        let token = token.trim().to_owned();
        self.db
            .tx("merge", async move |conn: &mut AsyncPgConnection| {
                let Some(customer) = Self::own_customer(conn, &ctx).await? else {
                    return Err(Error::invalid(
                        "token",
                        "only a signed-in customer can take over a cart",
                    ));
                };
                let merged = merge_guest_cart(conn, &token, customer)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid("token", "no active guest cart has this token")
                    })?;
                let cart = view(conn, merged).await?;
                cart_event(conn, EventType::CartUpdated, &cart).await?;
                Ok(cart)
            })
            .await
    }

    /// Applies one change to an opened cart in one transaction, then shows the cart.
    async fn change(&self, ctx: &Ctx, cart: &CartRef, change: Change) -> Result<Cart, Error> {
        let ctx = ctx.clone();
        let cart = cart.clone();
        self.db
            .tx("change", async move |conn: &mut AsyncPgConnection| {
                let action = match change {
                    Change::Add(_) => "add items",
                    Change::Set(..) | Change::Remove(_) => "change items",
                };
                let mut row = Self::open(conn, &ctx, &cart, "carts:write", action).await?;
                match change {
                    Change::Add(line) => {
                        add_lines(conn, &mut row, std::slice::from_ref(&line), "items").await?
                    }
                    Change::Set(item_id, quantity) => {
                        set_line(conn, &row, item_id, quantity).await?
                    }
                    Change::Remove(item_id) => {
                        if !q::remove_line(conn, row.id, item_id).await? {
                            return Err(Error::not_found("cart item", item_id));
                        }
                    }
                }
                Self::touched(conn, row, EventType::CartUpdated).await
            })
            .await
    }

    /// Deletes carts expired for more than a week (housekeeping); returns how many.
    pub async fn sweep_expired(&self) -> Result<usize, Error> {
        let mut conn = self.db.conn().await?;
        Ok(q::delete_expired(&mut conn, Utc::now() - Duration::days(7)).await?)
    }
}
