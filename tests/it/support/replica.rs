//! A real streaming replica for the read-replica tests: a throwaway primary and a hot standby
//! of it, started once per machine by `pg-replica.sh` and shared by every test process.

use diesel::QueryableByName;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;

const PRIMARY_PORT: u16 = 55442;
const STANDBY_PORT: u16 = 55443;

/// The pair's servers, as URLs of their `postgres` databases.
pub struct StreamingPair {
    pub primary: String,
    pub standby: String,
}

static PAIR: OnceCell<StreamingPair> = OnceCell::const_new();

/// The running primary/standby pair, started when it is not running yet.
pub async fn streaming_pair() -> &'static StreamingPair {
    PAIR.get_or_init(|| async {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/support/pg-replica.sh"
        );
        let output = tokio::process::Command::new("bash")
            .args([script, &PRIMARY_PORT.to_string(), &STANDBY_PORT.to_string()])
            .output()
            .await
            .expect("run pg-replica.sh");
        assert!(
            output.status.success(),
            "pg-replica.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        StreamingPair {
            primary: format!("postgres://postgres@127.0.0.1:{PRIMARY_PORT}/postgres"),
            standby: format!("postgres://postgres@127.0.0.1:{STANDBY_PORT}/postgres"),
        }
    })
    .await
}

#[derive(QueryableByName)]
struct Answer {
    #[diesel(sql_type = Bool)]
    yes: bool,
}

async fn ask(url: &str, sql: &str) -> bool {
    let mut conn = AsyncPgConnection::establish(url).await.expect("connect");
    diesel::sql_query(sql)
        .get_result::<Answer>(&mut conn)
        .await
        .expect(sql)
        .yes
}

impl StreamingPair {
    /// Waits until the standby has replayed everything the primary has written so far.
    pub async fn caught_up(&self) {
        let mut conn = AsyncPgConnection::establish(&self.primary)
            .await
            .expect("connect primary");
        #[derive(QueryableByName)]
        struct Lsn {
            #[diesel(sql_type = diesel::sql_types::Text)]
            lsn: String,
        }
        let written = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
            .get_result::<Lsn>(&mut conn)
            .await
            .expect("primary position")
            .lsn;
        let check = format!("SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn AS yes");
        for _ in 0..300 {
            if ask(&self.standby, &check).await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the standby did not replay up to {written} within 6 s");
    }

    /// Stops (`true`) or restarts (`false`) the standby's replay; it keeps receiving WAL.
    pub async fn pause_replay(&self, paused: bool) {
        let sql = if paused {
            "SELECT true AS yes FROM (SELECT pg_wal_replay_pause()) AS done"
        } else {
            "SELECT true AS yes FROM (SELECT pg_wal_replay_resume()) AS done"
        };
        ask(&self.standby, sql).await;
    }
}
