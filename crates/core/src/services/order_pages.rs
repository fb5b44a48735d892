//! Order status pages: the link ACP hands out as `permalink_url` (and any order can get),
//! `{PUBLIC_BASE_URL}/orders/{id}?token=...`, opens a page only for whoever holds the token.
//!
//! The token is an HMAC of the order id under a server secret, so the same link can be shown
//! again (session reads, webhooks) without keeping the token; the table keeps only its
//! SHA-256 hash, and a page is served only when a link was handed out and the hashes match.

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::orders::OrderRef;
use super::{Ctx, Error, OrderService};
use crate::config::AcpSettings;
use stateset_db::Db;
use stateset_db::order_links as q;
use stateset_domain::OrderDetail;

/// Keeps tokens of status links apart from anything else the secret signs.
const TOKEN_CONTEXT: &[u8] = b"stateset order status link\n";

fn token(secret: &str, order_id: Uuid) -> Result<String, Error> {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| Error::Internal(anyhow::anyhow!("status link key: {e}")))?;
    mac.update(TOKEN_CONTEXT);
    mac.update(order_id.as_bytes());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Hands out the order's status link, recording the hash of its token when it is new.
pub async fn status_url(
    conn: &mut AsyncPgConnection,
    settings: &AcpSettings,
    order_id: Uuid,
) -> Result<String, Error> {
    let token = token(&settings.status_link_secret, order_id)?;
    let hash = crate::auth::api_key_hash(&token);
    if q::token_hash(conn, order_id).await?.as_deref() != Some(hash.as_str()) {
        q::upsert(conn, order_id, &hash).await?;
    }
    Ok(format!(
        "{}/orders/{order_id}?token={token}",
        settings.public_base_url
    ))
}

/// Status links and the pages they open.
#[derive(Clone)]
pub struct OrderPageService {
    db: Db,
    orders: OrderService,
    settings: AcpSettings,
}

impl OrderPageService {
    pub fn new(db: Db, orders: OrderService, settings: AcpSettings) -> Self {
        Self {
            db,
            orders,
            settings,
        }
    }

    /// The status link of an order the caller may read (staff, or the buyer signed in).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn status_url(&self, ctx: &Ctx, order: OrderRef) -> Result<String, Error> {
        let order = self.orders.get_order(ctx, order).await?;
        let mut conn = self.db.conn().await?;
        status_url(&mut conn, &self.settings, order.id).await
    }

    /// The order behind a status link. A wrong or missing token, an order never linked and an
    /// unknown order are all the same `NOT_FOUND`, so a page discloses nothing to a stranger.
    #[tracing::instrument(skip_all, fields(order.id = %order_id))]
    pub async fn page(&self, order_id: Uuid, given: Option<&str>) -> Result<OrderDetail, Error> {
        use sha2::Digest as _;
        let not_found = || Error::not_found("order", order_id);
        let given = given.filter(|t| !t.is_empty()).ok_or_else(not_found)?;
        let mut conn = self.db.conn().await?;
        let stored = q::token_hash(&mut conn, order_id)
            .await?
            .ok_or_else(not_found)?;
        // Compare digests, not hex strings, in constant time.
        let given_hash = sha2::Sha256::digest(given.as_bytes());
        let stored_hash = hex::decode(&stored).map_err(|_| not_found())?;
        let same = given_hash.len() == stored_hash.len()
            && given_hash
                .iter()
                .zip(&stored_hash)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(not_found());
        }
        super::orders::order_detail_by_id(&mut conn, order_id).await
    }
}
