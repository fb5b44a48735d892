//! The database layer: pool, migrations, the diesel schema and the queries services compose.
//!
//! Query functions take `&mut AsyncPgConnection` so a service can run several of them inside
//! one transaction. Nothing here decides business rules.

pub mod acp;
pub mod carriers;
pub mod carts;
pub mod catalog;
pub mod checkout;
pub mod customers;
pub mod fulfillment;
pub mod idempotency;
pub mod identity;
pub mod inventory;
pub mod invoices;
pub mod order_links;
pub mod orders;
pub mod outbox;
pub mod payment_attempts;
pub mod pricing;
pub mod schema;
pub mod stablecoin;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use diesel::QueryResult;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection as _, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt as _;
use futures::future::BoxFuture;

/// The migrations in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Where a keyset page starts: strictly after this sort key (as text PostgreSQL can cast back
/// to the column's type) and row id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Keyset {
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "i")]
    pub id: uuid::Uuid,
}

impl Keyset {
    /// The position of a row in a list sorted by creation time (microseconds, as stored).
    pub fn created(created_at: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> Self {
        Self {
            key: created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            id,
        }
    }
}

/// Why a pooled connection could not be had.
pub type PoolError = diesel_async::pooled_connection::bb8::RunError;

/// An error a transaction can end with: made from diesel's and the pool's errors, told which
/// step failed (so a server-side error's log chain names it), and able to say whether running
/// the work again may succeed.
pub trait TxError: From<diesel::result::Error> + From<PoolError> + Send {
    /// The error as raised in `step`.
    fn in_step(self, step: &'static str) -> Self;
    /// True for a deadlock or serialization failure: a rerun may not meet it.
    fn is_retryable(&self) -> bool;
}

/// What [`Db::tx`] runs: an async closure over the connection whose future can cross threads.
/// (The future's type is named through this trait so that it can be required to be `Send`.)
pub trait TxWork<'c, R>:
    AsyncFnOnce(&'c mut AsyncPgConnection) -> R
    + FnOnce(&'c mut AsyncPgConnection) -> <Self as TxWork<'c, R>>::Fut
{
    type Fut: Future<Output = R>;
}

impl<'c, F, Fut, R> TxWork<'c, R> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection) -> R + FnOnce(&'c mut AsyncPgConnection) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

/// Most runs of one retried transaction.
const TX_ATTEMPTS: u32 = 5;

/// A connection checked out of the pool.
pub type Conn<'a> = PooledConnection<'a, AsyncPgConnection>;

/// The connection pool of the primary, the optional pool of a read replica, and a count of the
/// statements run through both.
#[derive(Clone)]
pub struct Db {
    pool: Pool<AsyncPgConnection>,
    replica: Option<Replica>,
    statements: Arc<AtomicU64>,
}

/// A streaming replica that reads which may lag behind the primary are sent to
/// (`DATABASE_READ_URL`).
#[derive(Clone)]
struct Replica {
    pool: Pool<AsyncPgConnection>,
    /// Until when (milliseconds since the Unix epoch) reads skip the replica because it could
    /// not be reached: one failed checkout costs one timeout, not one per request.
    unreachable_until: Arc<AtomicI64>,
}

/// How long reads go to the primary after the replica could not be reached.
const REPLICA_RETRY_AFTER_MS: i64 = 5_000;

/// Counts statements as the database driver starts them: the proof that list endpoints
/// batch their loads, and a cheap health signal.
struct StatementCounter(Arc<AtomicU64>);

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Db {
    /// Builds a pool that connects lazily, so the server starts even while PostgreSQL is down
    /// (readiness then says why).
    pub fn connect_lazy(url: &str, max_connections: u32) -> Self {
        let statements = Arc::new(AtomicU64::new(0));
        let pool = lazy_pool(url, max_connections, Duration::from_secs(5), &statements);
        Self {
            pool,
            replica: None,
            statements,
        }
    }

    /// Sends the reads that may lag ([`Db::read_conn`]) to the replica at `url`. Its pool waits
    /// at most a second for a connection; while the replica cannot be reached those reads go
    /// to the primary.
    pub fn with_read_replica(mut self, url: &str, max_connections: u32) -> Self {
        self.replica = Some(Replica {
            pool: lazy_pool(
                url,
                max_connections,
                Duration::from_secs(1),
                &self.statements,
            ),
            unreachable_until: Arc::new(AtomicI64::new(0)),
        });
        self
    }

    /// Checks a connection to the primary out of the pool: for writes, and for every read that
    /// must see a write already made (the caller's own, or one a decision depends on).
    pub async fn conn(&self) -> Result<Conn<'_>, PoolError> {
        self.pool.get().await
    }

    /// A connection for a read that may lag behind the primary by the replica's replay delay:
    /// the replica's when one is configured and reachable, else the primary's. Only for what
    /// is shown, never for what is decided or cached.
    pub async fn read_conn(&self) -> Result<Conn<'_>, PoolError> {
        let Some(replica) = &self.replica else {
            return self.conn().await;
        };
        let now = chrono::Utc::now().timestamp_millis();
        if AtomicI64::load(&replica.unreachable_until, Ordering::Relaxed) > now {
            return self.conn().await;
        }
        match replica.pool.get().await {
            Ok(conn) => Ok(conn),
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    "the read replica could not be reached; reads go to the primary for 5 s"
                );
                replica
                    .unreachable_until
                    .store(now + REPLICA_RETRY_AFTER_MS, Ordering::Relaxed);
                self.conn().await
            }
        }
    }

    /// True when a read replica is configured.
    pub fn has_read_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// Runs `work` in one transaction on a pooled connection: committed when it returns `Ok`,
    /// rolled back otherwise. An error is marked with `step`.
    pub async fn tx<R, E, F>(&self, step: &'static str, work: F) -> Result<R, E>
    where
        for<'c> F: AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, E>
            + TxWork<'c, Result<R, E>, Fut: Send>
            + Send,
        E: TxError,
        R: Send,
    {
        let mut conn = self.conn().await.map_err(|e| E::from(e).in_step(step))?;
        (*conn).transaction(work).await.map_err(|e| e.in_step(step))
    }

    /// Like [`Db::tx`], and runs `work` again (up to 5 times) when PostgreSQL reports a
    /// deadlock or a serialization failure: both mean "retry", never a client error.
    pub async fn tx_retrying<R, E, F>(&self, step: &'static str, work: F) -> Result<R, E>
    where
        for<'c> F: Fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<R, E>> + Send + Sync,
        E: TxError,
        R: Send,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.conn().await.map_err(|e| E::from(e).in_step(step))?;
            let result = (*conn)
                .transaction(async |conn: &mut AsyncPgConnection| work(conn).await)
                .await;
            match result {
                Err(err) if attempt < TX_ATTEMPTS && err.is_retryable() => {
                    tracing::info!(
                        attempt,
                        step,
                        "retrying a transaction after a deadlock or serialization failure"
                    );
                }
                other => return other.map_err(|e| e.in_step(step)),
            }
        }
    }

    /// Statements run through this pool so far.
    pub fn statements_executed(&self) -> u64 {
        AtomicU64::load(&self.statements, Ordering::Relaxed)
    }

    /// `(idle, in use)` connections right now.
    pub fn connection_counts(&self) -> (u32, u32) {
        let state = self.pool.state();
        (
            state.idle_connections,
            state.connections - state.idle_connections,
        )
    }

    /// Runs `SELECT 1`, for readiness checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn().await.context("no database connection")?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .context("database did not answer")?;
        Ok(())
    }
}

/// A pool that connects lazily and checks a connection on checkout without a round trip: one
/// whose socket has closed (PostgreSQL restarted, or an administrator ended the backend) or
/// whose transaction state is broken is dropped and another taken. The default check,
/// `SELECT 1` on every checkout, cost a third of the round trips of a catalog read.
fn lazy_pool(
    url: &str,
    max_connections: u32,
    connection_timeout: Duration,
    statements: &Arc<AtomicU64>,
) -> Pool<AsyncPgConnection> {
    let counter = statements.clone();
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|conn| {
        let usable = if conn.is_broken() {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection,
                Box::new("the pooled connection is closed".to_owned()),
            ))
        } else {
            Ok(())
        };
        Box::pin(std::future::ready(usable))
    }));
    config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.set_instrumentation(StatementCounter(counter));
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    Pool::builder()
        .max_size(max_connections)
        .connection_timeout(connection_timeout)
        .build_unchecked(manager)
}

/// A query of fixed SQL text around one bind parameter. diesel keeps it prepared on each
/// connection, keyed by its text, which it never does for `sql_query`: a hot hand-written query
/// is then parsed and planned once per connection instead of on every call.
pub struct FixedSql<ST, V> {
    before: &'static str,
    value: V,
    after: &'static str,
    sql_type: std::marker::PhantomData<fn() -> ST>,
}

/// `before`, then `value` bound as the SQL type `ST`, then `after`; load rows of it with a
/// `QueryableByName` type.
pub fn fixed_sql<ST, V>(before: &'static str, value: V, after: &'static str) -> FixedSql<ST, V> {
    FixedSql {
        before,
        value,
        after,
        sql_type: std::marker::PhantomData,
    }
}

impl<ST, V> diesel::query_builder::QueryId for FixedSql<ST, V> {
    type QueryId = ();
    // No static id: the statement cache keys it by its SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, V> diesel::query_builder::Query for FixedSql<ST, V> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<ST, V> diesel::query_builder::QueryFragment<diesel::pg::Pg> for FixedSql<ST, V>
where
    diesel::pg::Pg: diesel::sql_types::HasSqlType<ST>,
    V: diesel::serialize::ToSql<ST, diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(self.before);
        out.push_bind_param::<ST, V>(&self.value)?;
        out.push_sql(self.after);
        Ok(())
    }
}

/// Splits a PostgreSQL URL into the URL of the `postgres` maintenance database and the name of
/// the database the URL points at.
pub fn maintenance_url(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base
        .find("://")
        .map(|i| i + 3)
        .context("DATABASE_URL has no scheme")?;
    let slash = base[after_scheme..]
        .rfind('/')
        .map(|i| i + after_scheme)
        .context("DATABASE_URL names no database")?;
    let name = &base[slash + 1..];
    anyhow::ensure!(!name.is_empty(), "DATABASE_URL names no database");
    let mut admin = format!("{}/postgres", &base[..slash]);
    if let Some(query) = query {
        admin = format!("{admin}?{query}");
    }
    Ok((admin, name.to_owned()))
}

/// Escapes `text` for a `LIKE`/`ILIKE` pattern (and drops NUL, which PostgreSQL refuses).
pub fn like_escape(text: &str) -> String {
    text.replace('\0', "")
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The rows of `table` strictly after `at` in `(created_at, id)` ascending order: the keyset
/// condition of every list read oldest first. `table` is a fixed name, never input.
pub fn created_after<QS>(
    table: &'static str,
    at: Keyset,
) -> Box<dyn diesel::BoxableExpression<QS, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>> {
    created_beyond(table, ">", at)
}

/// The rows of `table` strictly after `at` in `(created_at, id)` descending order: the keyset
/// condition of every list read newest first.
pub fn created_before<QS>(
    table: &'static str,
    at: Keyset,
) -> Box<dyn diesel::BoxableExpression<QS, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>> {
    created_beyond(table, "<", at)
}

fn created_beyond<QS>(
    table: &'static str,
    comparison: &'static str,
    at: Keyset,
) -> Box<dyn diesel::BoxableExpression<QS, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>> {
    use diesel::sql_types::{Bool, Text};
    Box::new(
        diesel::dsl::sql::<Bool>(&format!(
            "({table}.created_at, {table}.id) {comparison} (CAST("
        ))
        .bind::<Text, _>(at.key)
        .sql(" AS timestamptz), ")
        .bind::<diesel::sql_types::Uuid, _>(at.id)
        .sql(")"),
    )
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the database `url` names, unless it exists.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Int4)]
        #[allow(dead_code)]
        found: i32,
    }
    let (admin_url, name) = maintenance_url(url)?;
    let mut conn = AsyncPgConnection::establish(&admin_url)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {admin_url}"))?;
    let existing: Vec<Found> =
        diesel::sql_query("SELECT 1 AS found FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(&name)
            .load(&mut conn)
            .await?;
    if !existing.is_empty() {
        return Ok(false);
    }
    match diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&name)))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Ok(true),
        // Another instance created it between our check and our CREATE.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) if e.to_string().contains("already exists") => Ok(false),
        Err(e) => Err(e).context("CREATE DATABASE failed"),
    }
}

/// Applies pending embedded migrations; returns how many ran.
///
/// Holds an advisory lock meanwhile so instances starting together migrate one at a time.
/// Needs the multi-thread tokio runtime (the harness uses `block_in_place`).
pub async fn migrate(url: &str) -> anyhow::Result<usize> {
    const MIGRATION_LOCK: i64 = 0x5354_4154_4553_4554; // "STATESET"
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("cannot connect to run migrations")?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.len())
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
    let mut conn = harness.into_inner();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_url_swaps_the_database() -> anyhow::Result<()> {
        let (admin, name) = maintenance_url("postgres://postgres@127.0.0.1:5432/stateset")?;
        assert_eq!(admin, "postgres://postgres@127.0.0.1:5432/postgres");
        assert_eq!(name, "stateset");
        let (admin, name) = maintenance_url("postgres://u:p@h/db_1?sslmode=disable")?;
        assert_eq!(admin, "postgres://u:p@h/postgres?sslmode=disable");
        assert_eq!(name, "db_1");
        assert!(maintenance_url("postgres://h:5432/").is_err());
        Ok(())
    }
}
