//! Rows and queries for order status links (the hash of each order's buyer-facing token).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::order_status_links as links;

/// Records `token_hash` as the order's link; a link minted under another secret is replaced.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    token_hash: &str,
) -> QueryResult<()> {
    diesel::insert_into(links::table)
        .values((
            links::order_id.eq(order_id),
            links::token_hash.eq(token_hash),
        ))
        .on_conflict(links::order_id)
        .do_update()
        .set(links::token_hash.eq(token_hash))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The hash of the order's link token, when one was handed out.
pub async fn token_hash(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Option<String>> {
    links::table
        .find(order_id)
        .select(links::token_hash)
        .first(conn)
        .await
        .optional()
}
