#!/usr/bin/env bash
# The benchmark harness: one command from a fresh machine.
#
# Builds the server and a bare axum "hello" in release mode, starts the server on a database of
# its own, loads the standard catalog through the public API (bench/load.py), and measures each
# scenario with wrk (bench/wrk/stateset.lua) after a warm-up:
#   products  (a) GraphQL products(first: 20) with each variant's id, title, price and stock
#   product   (b) GraphQL product(slug:) rotating over all 1,000 slugs
#   add       (c) GraphQL addCartItem on 128 existing guest carts
#   place     (d) REST POST /api/v1/orders, each reserving stock
#   orders    (f) REST GET /api/v1/orders?limit=20 over at least 10,000 orders
#   complete  (e) REST POST /api/v1/checkout/{id}/complete with the test card provider, each of
#                 BENCH_CHECKOUTS (6,000) prepared guest checkouts once (the run ends early
#                 when they are used up)
#   ceiling   (d)'s database ceiling: PostgreSQL logs every statement while the server places
#                 100 orders (one per variant); bench/ceiling.py turns them into one pgbench
#                 script of the server's own statements, each run taking one placement's
#                 values at random, and pgbench runs it at the same concurrency, prepared
#                 (bench/results/ceiling-sql/)
#   health    (g) GET /health of the server ...
#   hello     (g) ... and of the bare axum server, in the same run
#   subscriptions  BENCH_SUBSCRIBERS (10,000) idle graphql-ws subscriptions to product events
#                 (bench/js/subscribers.mjs, Node.js): the server's RSS while they are open,
#                 and BENCH_ROUNDS (20) product updates, each timed from the event's timestamp
#                 to its delivery to every subscriber
# For each it prints one RESULT line: requests/s, p50/p90/p99, errors (every answer is checked,
# a GraphQL error counts), and CPU milliseconds per request in the server and in PostgreSQL,
# read from /proc, since CPU per request is the steadier figure on a shared machine. The lines
# are also appended, dated, to bench/results/<date>.txt; at the end bench/report.py prints the
# Markdown table for BENCHMARKS.md and draws bench/results/chart.svg.
#
# With BENCH_PEER=1 the Vendure baseline (../shared/bench/peer-vendure) is set up if needed and
# run in the same invocation, and the server's database lives in the peer's PostgreSQL cluster,
# so both meet the same database.
#
# Env: BENCH_DURATION (30s), BENCH_WARMUP (5s), BENCH_CONCURRENCY (32), BENCH_THREADS (2),
#      BENCH_SCENARIOS (all of the above), BENCH_PEER (0), BENCH_DATABASE_URL (a database
#      `stateset_bench` on 127.0.0.1:5432, or in the peer's cluster), BENCH_SKIP_BUILD (0).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DURATION=${BENCH_DURATION:-30s}
WARMUP=${BENCH_WARMUP:-5s}
CONC=${BENCH_CONCURRENCY:-32}
THREADS=${BENCH_THREADS:-2}
SCENARIOS=${BENCH_SCENARIOS:-products product add orders place complete ceiling health hello subscriptions}
CHECKOUTS=${BENCH_CHECKOUTS:-6000}
SUBSCRIBERS=${BENCH_SUBSCRIBERS:-10000}
ROUNDS=${BENCH_ROUNDS:-20}
PEER=${BENCH_PEER:-0}
PEER_DIR=$ROOT/../shared/bench/peer-vendure
WORK=${BENCH_WORK:-/tmp/stateset-bench}
HTTP=127.0.0.1:18080
HELLO=127.0.0.1:18090
RESULTS=$ROOT/bench/results/$(date -u +%F).txt
RUN=$WORK/run.txt   # this run's lines alone, for the report
ADMIN_EMAIL=bench-admin@example.com
ADMIN_PASSWORD=bench-admin-passphrase
mkdir -p "$WORK/data" "$WORK/logs" "$ROOT/bench/results"
: >"$RUN"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# What the harness runs on: wrk and python3 come from Debian when missing.
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need python3 python3
need curl curl
need psql postgresql-client
need pgbench postgresql-contrib
if [[ " $SCENARIOS " == *" subscriptions "* ]]; then
    need node nodejs
    need npm npm
    [ -d bench/js/node_modules ] || (cd bench/js && npm ci --silent --no-audit --no-fund) || die "npm ci failed in bench/js"
    # Each subscriber is a socket at both ends; the server inherits this limit.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((SUBSCRIBERS + 1000)) ] \
        || die "open files are limited to $(ulimit -n): too few for $SUBSCRIBERS subscribers"
fi

if [ "$PEER" = 1 ]; then
    [ -f /tmp/peer-vendure/.populated ] || "$PEER_DIR/setup.sh"
    # shellcheck source=/dev/null
    source "$PEER_DIR/common.sh"
    pg_start   # the peer's cluster, shared by both servers; the peer's run.sh stops it
    DEFAULT_DB="postgres://postgres@127.0.0.1:$PV_PG_PORT/stateset_bench"
else
    DEFAULT_DB="postgres://postgres@127.0.0.1:5432/stateset_bench"
fi
DB=${BENCH_DATABASE_URL:-$DEFAULT_DB}
DB_ADMIN=${DB%/*}/postgres

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building the server and the bare axum server (release)"
    cargo build --release --quiet -p stateset --bin stateset
    cargo build --release --quiet -p bench-hello
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release

SERVER_PID=
HELLO_PID=
cleanup() {
    local rc=$?
    for pid in $SERVER_PID $HELLO_PID; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for addr in $HTTP $HELLO; do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then die "$addr is already in use"; fi
done

export DATABASE_URL=$DB HTTP_ADDR=$HTTP GRPC_ADDR=127.0.0.1:15051 METRICS_ADDR=127.0.0.1:19090
export JWT_SECRET=bench-only-secret-bench-only-secret-0123456789 LOG_FORMAT=json RUST_LOG=warn
# The harness is one client hammering from one address: the limits would measure themselves.
export RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_ANONYMOUS_PER_MINUTE=1000000000
# Scenario (e) completes checkouts with the test provider; it is off unless asked for.
export PAYMENTS_TEST_PROVIDER=true

# Every run starts from the same state: a new database that this run loads, so that (d) and (f)
# do not meet the orders earlier runs placed.
psql "$DB_ADMIN" -XAtqc "DROP DATABASE IF EXISTS \"${DB##*/}\" WITH (FORCE)" >/dev/null \
    || die "could not drop the benchmark database ${DB##*/}"
"$TARGET/stateset" migrate >"$WORK/logs/migrate.log" 2>&1 || { cat "$WORK/logs/migrate.log" >&2; die "migration failed"; }
t0=$(date +%s%N)
"$TARGET/stateset" serve --no-migrate >"$WORK/logs/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
    curl -sf -o /dev/null "http://$HTTP/health" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/logs/server.log" >&2; die "the server exited"; }
    sleep 0.05
done
curl -sf -o /dev/null "http://$HTTP/health" || die "the server did not answer /health"
log "server ready $(( ($(date +%s%N) - t0) / 1000000 )) ms after start (pid $SERVER_PID, $DB)"

STATESET_ADMIN_PASSWORD=$ADMIN_PASSWORD "$TARGET/stateset" admin create --email "$ADMIN_EMAIL" \
    >"$WORK/logs/admin.log" 2>&1 || grep -qi "exists\|taken\|conflict" "$WORK/logs/admin.log" \
    || { cat "$WORK/logs/admin.log" >&2; die "could not create the benchmark administrator"; }
TOKEN=$(curl -sf "http://$HTTP/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || die "sign-in failed"

log "loading the catalog"
python3 bench/load.py catalog "http://$HTTP" "$TOKEN" "$WORK/data"
python3 bench/load.py carts "http://$HTTP" "$WORK/data" 128
BENCH_CUSTOMER=$(cat "$WORK/data/customer.txt")
export BENCH_CUSTOMER

# CPU ticks of processes, of the PostgreSQL cluster the server uses, and of the machine.
proc_ticks() {
    local pid t=0 v
    for pid in "$@"; do
        v=$(awk '{sub(/^.*\) /, ""); print $12 + $13 + $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || v=0
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
PG_DATA=$(psql "$DB_ADMIN" -XAtc 'show data_directory')
PG_PID=$(head -1 "$PG_DATA/postmaster.pid")
pg_ticks() { proc_ticks "$PG_PID" $(ps -o pid= --ppid "$PG_PID"); }
HZ=$(getconf CLK_TCK)

# One request per scenario first: fail loudly rather than benchmark error answers.
sanity() {
    local mode=$1 url=$2 out
    out=$(BENCH_MODE=$mode BENCH_DATA=$3 BENCH_TOKEN=${4:-} \
        wrk -t1 -c1 -d1s -s bench/wrk/stateset.lua "$url" -- 1 2>&1) || die "wrk failed for $mode: $out"
    grep -q ' errors=0 ' <<<"$out" || die "scenario $mode answers errors: $out"
}

# A scenario whose requests each use up what they act on (complete) gets separate data for its
# sanity request and warm-up in SANITY_DATA and WARMUP_DATA.
run() {
    local mode=$1 url=$2 data=${3:-} token=${4:-} pid=$5 label=$6
    sanity "$mode" "$url" "${SANITY_DATA:-$data}" "$token"
    export BENCH_MODE=$mode BENCH_DATA=${WARMUP_DATA:-$data} BENCH_TOKEN=$token
    [ "$WARMUP" = 0 ] || wrk -t "$THREADS" -c "$CONC" -d "$WARMUP" -s bench/wrk/stateset.lua "$url" -- "$THREADS" >/dev/null 2>&1 || true
    export BENCH_DATA=$data
    local s0 p0 s1 p1 n0 n1 out line reqs
    s0=$(proc_ticks "$pid"); p0=$(pg_ticks); n0=$(date +%s%N)
    out=$(wrk -t "$THREADS" -c "$CONC" -d "$DURATION" --timeout 10s --latency -s bench/wrk/stateset.lua "$url" -- "$THREADS" 2>&1) \
        || die "wrk failed for $mode: $out"
    s1=$(proc_ticks "$pid"); p1=$(pg_ticks); n1=$(date +%s%N)
    line=$(grep '^RESULT' <<<"$out") || die "no RESULT line for $mode: $out"
    ! grep -q '^EXHAUSTED' <<<"$out" || die "$mode ran out of prepared checkouts before the end: raise BENCH_CHECKOUTS"
    grep '^FIRST_ERROR' <<<"$out" >&2 || true
    reqs=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
    line="$line $(awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v hz="$HZ" -v n="$reqs" -v ns=$((n1 - n0)) 'BEGIN {
        printf "server_cpu_ms_req=%.3f pg_cpu_ms_req=%.3f server_core_pct=%.0f pg_core_pct=%.0f",
            (n ? 1000 * s / hz / n : 0), (n ? 1000 * p / hz / n : 0), 100 * s / hz / (ns / 1e9), 100 * p / hz / (ns / 1e9) }')"
    line="${line/scenario=$mode/scenario=$label} server=stateset conc=$CONC dur=$DURATION"
    echo "$line" | tee -a "$RUN"
    echo "$(date -u +%FT%TZ) $line" >>"$RESULTS"
}

# Where the cluster writes its log: the collector's file, else Debian's per-cluster file, else
# the peer's.
pg_log_file() {
    local file
    file=$(psql "$DB_ADMIN" -XAtc "SELECT pg_current_logfile()" 2>/dev/null) || true
    if [ -n "$file" ]; then
        case $file in /*) echo "$file" ;; *) echo "$PG_DATA/$file" ;; esac
    elif [ "$PEER" = 1 ]; then
        echo "$PV_LOGS/postgres.log"
    else
        ls -t /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -1
    fi
}

# The database ceiling of (d): the SQL of real order placements, from PostgreSQL's log,
# replayed by pgbench. The server's connections are ended so that new ones log, then again so
# that they stop.
ceiling() {
    local log start since dir out line s0 p0 n0 s1 p1 n1 tps reqs lat
    log=$(pg_log_file)
    [ -r "$log" ] || die "cannot find PostgreSQL's log file (set log_destination or logging_collector)"
    end_server_sessions() {
        psql "$DB_ADMIN" -XAtqc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = '${DB##*/}' AND pid <> pg_backend_pid()" >/dev/null
    }
    psql "$DB_ADMIN" -XAtqc "ALTER DATABASE \"${DB##*/}\" SET log_statement = 'all'"
    end_server_sessions
    start=$(stat -c %s "$log"); since=$(date +%s%3N)
    local placed
    placed=$(psql "$DB" -XAtc "SELECT count(*) FROM orders")
    python3 bench/load.py orders "http://$HTTP" "$TOKEN" "$WORK/data" $((placed + 100))
    sleep 1
    psql "$DB_ADMIN" -XAtqc "ALTER DATABASE \"${DB##*/}\" RESET log_statement"
    end_server_sessions
    tail -c +$((start + 1)) "$log" >"$WORK/logs/placements.log"
    dir=$ROOT/bench/results/ceiling-sql
    rm -rf "$dir"
    python3 bench/ceiling.py "$WORK/logs/placements.log" "$dir" "$since" >&2
    psql "$DB" -XAtq -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -f "$dir/setup.sql" >/dev/null \
        || die "could not load the placements' values"
    local scripts=(-f "$dir/order.sql")
    pgbench -n -M prepared -c "$CONC" -j "$THREADS" -T "${WARMUP%s}" "${scripts[@]}" "$DB" >/dev/null 2>&1 || true
    rm -f "$WORK"/pgbench_log*
    p0=$(pg_ticks); n0=$(date +%s%N)
    out=$(cd "$WORK" && pgbench -n -M prepared -c "$CONC" -j "$THREADS" -T "${DURATION%s}" -l \
        --log-prefix=pgbench_log "${scripts[@]}" "$DB" 2>&1) || die "pgbench failed: $out"
    p1=$(pg_ticks); n1=$(date +%s%N)
    grep -q "aborted" <<<"$out" && die "pgbench clients aborted: $out"
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | awk '{printf "%.1f", $1}')
    reqs=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    # Per-transaction latencies (microseconds, third field) from pgbench's log.
    lat=$(cat "$WORK"/pgbench_log* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {
        printf "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f", v[int(NR*0.5)]/1000, v[int(NR*0.9)]/1000, v[int(NR*0.99)]/1000 }')
    line="RESULT scenario=ceiling requests=$reqs rps=$tps $lat errors=0 checked=$reqs"
    line="$line $(awk -v p=$((p1 - p0)) -v hz="$HZ" -v n="$reqs" -v ns=$((n1 - n0)) 'BEGIN {
        printf "server_cpu_ms_req=0 pg_cpu_ms_req=%.3f server_core_pct=0 pg_core_pct=%.0f",
            (n ? 1000 * p / hz / n : 0), 100 * p / hz / (ns / 1e9) }') server=pgbench conc=$CONC dur=$DURATION"
    echo "$line" | tee -a "$RUN"
    echo "$(date -u +%FT%TZ) $line" >>"$RESULTS"
}

# The server's resident memory after the request scenarios (before subscribers, which report
# their own), recorded once.
RSS_RECORDED=0
record_rss() {
    [ "$RSS_RECORDED" = 0 ] || return 0
    RSS_RECORDED=1
    local rss
    rss=$(ps -o rss= -p "$SERVER_PID" | tr -d ' ')
    log "server RSS after the request scenarios: $((rss / 1024)) MiB"
    echo "$(date -u +%FT%TZ) RSS server=stateset rss_mib=$((rss / 1024))" >>"$RESULTS"
}

log "machine: $(nproc) cores; $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); load $(cut -d' ' -f1-3 /proc/loadavg)"
for scenario in $SCENARIOS; do
    case $scenario in
        products) run products "http://$HTTP" "" "" "$SERVER_PID" products ;;
        product) run product "http://$HTTP" "$WORK/data/slugs.txt" "" "$SERVER_PID" product ;;
        add) run add "http://$HTTP" "$WORK/data/carts.txt" "" "$SERVER_PID" add ;;
        place) run place "http://$HTTP" "$WORK/data/variants.txt" "$TOKEN" "$SERVER_PID" place ;;
        orders)
            python3 bench/load.py orders "http://$HTTP" "$TOKEN" "$WORK/data" 10000
            run orders "http://$HTTP" "" "$TOKEN" "$SERVER_PID" orders ;;
        complete)
            for phase in sanity:4 warmup:1000 measure:$CHECKOUTS; do
                python3 bench/load.py checkouts "http://$HTTP" "$TOKEN" "$WORK/data/checkouts-${phase%:*}.txt" "${phase#*:}"
            done
            SANITY_DATA=$WORK/data/checkouts-sanity.txt WARMUP_DATA=$WORK/data/checkouts-warmup.txt \
                run complete "http://$HTTP" "$WORK/data/checkouts-measure.txt" "" "$SERVER_PID" complete ;;
        ceiling) ceiling ;;
        health) run health "http://$HTTP" "" "" "$SERVER_PID" health ;;
        hello)
            HELLO_ADDR=$HELLO "$TARGET/bench-hello" &
            HELLO_PID=$!
            for _ in $(seq 1 100); do curl -sf -o /dev/null "http://$HELLO/health" && break; sleep 0.05; done
            run health "http://$HELLO" "" "" "$HELLO_PID" hello ;;
        subscriptions)
            record_rss
            out=$(node bench/js/subscribers.mjs "http://$HTTP" "$SUBSCRIBERS" "$TOKEN" product-0001 \
                "$ROUNDS" "$SERVER_PID" 2>&1) || die "subscriptions failed: $out"
            line=$(grep '^RESULT' <<<"$out") || die "no RESULT line for subscriptions: $out"
            grep '^FIRST_ERROR' <<<"$out" >&2 || true
            line="$line server=stateset"
            echo "$line" | tee -a "$RUN"
            echo "$(date -u +%FT%TZ) $line" >>"$RESULTS" ;;
        *) die "unknown scenario $scenario" ;;
    esac
done
record_rss

if [ "$PEER" = 1 ]; then
    log "the baseline: Vendure, same machine, same PostgreSQL cluster"
    PEER_RESULTS=$RESULTS PEER_DURATION=$DURATION "$PEER_DIR/run.sh" | tee -a "$RUN"
fi

# The table for BENCHMARKS.md and the chart beside it.
python3 bench/report.py "$RUN" "$ROOT/bench/results/chart.svg"
log "chart: bench/results/chart.svg; dated lines: ${RESULTS#"$ROOT"/}"
