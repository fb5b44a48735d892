#!/usr/bin/env bash
# The read-replica tests' second PostgreSQL: a throwaway primary on 127.0.0.1:$1 and a
# streaming standby of it (pg_basebackup -R, hot standby) on 127.0.0.1:$2, both under
# $STATESET_REPLICA_DIR (default /tmp/stateset-pg-replica), with trust authentication. Starts
# only what is not running yet, so every test process may call it; the pair keeps running
# after the tests (stop it with `pg_ctl -D <dir>/standby stop` and `.../primary stop`).
set -euo pipefail
PRIMARY_PORT=${1:-55442}
STANDBY_PORT=${2:-55443}
DIR=${STATESET_REPLICA_DIR:-/tmp/stateset-pg-replica}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BIN/initdb" ] || { echo "no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 1; }

# PostgreSQL refuses to run as root; as root, run its tools as the postgres user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
ready() { "$BIN/pg_isready" -h 127.0.0.1 -p "$1" -q; }
start() { # data directory, port
    ready "$2" && return 0
    as_pg "$BIN/pg_ctl" -D "$1" -l "$1.log" -w -t 60 -o "-p $2 -k $DIR \
        -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB \
        -c max_connections=60" start >/dev/null 9>&-   # the servers must not hold the lock
}

# One test process at a time sets the pair up.
exec 9>"/tmp/stateset-pg-replica.lock"
flock 9
if ready "$PRIMARY_PORT" && ready "$STANDBY_PORT"; then exit 0; fi

[ -d "$DIR" ] || { mkdir -p "$DIR"; [ "$(id -u)" != 0 ] || chown postgres: "$DIR"; }
if [ ! -f "$DIR/primary/PG_VERSION" ]; then
    as_pg "$BIN/initdb" -D "$DIR/primary" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
fi
start "$DIR/primary" "$PRIMARY_PORT"
if [ ! -f "$DIR/standby/PG_VERSION" ]; then
    as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$DIR/standby" \
        -R -X stream -c fast
fi
start "$DIR/standby" "$STANDBY_PORT"
