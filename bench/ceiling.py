#!/usr/bin/env python3
"""Turns PostgreSQL's log of real order placements into pgbench scripts: the database ceiling
for scenario (d). Standard library only.

    ceiling.py LOG OUT_DIR SINCE_MS

LOG holds what PostgreSQL logged (log_statement = all) while the server placed orders, one
per variant; SINCE_MS is when logging began (Unix milliseconds). Every transaction that
inserts into "orders" becomes one script, OUT_DIR/order-NNN.sql, its statements in the order
the server ran them with the logged parameters written in, except for what must differ on
every run of it:
  - an id the server made for the order (a UUIDv7 stamped after SINCE_MS) becomes a fresh
    gen_random_uuid() per transaction, one pgbench variable per id;
  - the order number comes from the sequence again (the statement that drew it gets \\gset);
  - a literal with ':' in it is written as an escape string with \\x3a, so that the scripts
    run with -M prepared (as the server's statements do) without pgbench reading it as a
    variable.
Prints how many scripts were written and the statements each holds.
"""

import os
import re
import sys
from collections import defaultdict

ENTRY = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] .*?(LOG|DETAIL|ERROR|STATEMENT|HINT|CONTEXT):  (.*)$")
STATEMENT = re.compile(r"^(?:statement|execute [^:]+): (.*)$", re.S)
PARAMETER = re.compile(r"\$(\d+) = ('(?:[^']|'')*'|NULL)")
UUID = re.compile(r"^'([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})'$")
ORDER_NUMBER = re.compile(r"^'ORD-\d+'$")
NUMBER_QUERY = "nextval('order_number_seq')"


def entries(path):
    """(pid, kind, text) per log entry; continuation lines (a tab first) join their entry."""
    current = None
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            line = line.rstrip("\n")
            match = ENTRY.match(line)
            if match:
                if current:
                    yield current
                current = [match.group(1), match.group(2), match.group(3)]
            elif current and line.startswith("\t"):
                current[2] += "\n" + line[1:]
    if current:
        yield current


def statements(path):
    """Per backend, its statements in order, each as (sql, {n: literal})."""
    by_pid = defaultdict(list)
    for pid, kind, text in entries(path):
        if kind == "LOG":
            match = STATEMENT.match(text)
            if match:
                by_pid[pid].append([match.group(1).strip(), {}])
        elif kind == "DETAIL" and text.startswith("parameters: ") and by_pid[pid]:
            by_pid[pid][-1][1] = {int(n): v for n, v in PARAMETER.findall(text)}
    return by_pid


def transactions(sqls):
    """The BEGIN ... COMMIT runs of one backend's statements."""
    run = None
    for sql, params in sqls:
        word = sql.split(None, 1)[0].upper() if sql else ""
        if word in ("BEGIN", "START"):
            run = [(sql, params)]
        elif run is not None:
            run.append((sql, params))
            if word in ("COMMIT", "ROLLBACK", "END"):
                yield run
                run = None


def v7_millis(uuid):
    return int(uuid.replace("-", "")[:12], 16)


def colon_free(value):
    """A literal with no ':' in its text (as an escape string), since pgbench in prepared mode
    takes every ':name' for one of its variables."""
    if ":" not in value or value == "NULL":
        return value
    inner = value[1:-1].replace("\\", "\\\\").replace(":", "\\x3a")
    return f"E'{inner}'"


def script(transaction, since_ms):
    """One pgbench script replaying `transaction` with fresh ids and order number."""
    fresh = {}
    body = []
    for sql, params in transaction:

        def literal(match):
            value = params.get(int(match.group(1)), "NULL")
            uuid = UUID.match(value)
            if uuid and v7_millis(uuid.group(1)) >= since_ms:
                return ":" + fresh.setdefault(uuid.group(1), f"new_id_{len(fresh) + 1}")
            if ORDER_NUMBER.match(value):
                return ":number"
            return colon_free(value)

        text = re.sub(r"\$(\d+)\b", literal, sql)
        body.append(text + (" \\gset" if NUMBER_QUERY in sql else ";"))
    ids = ", ".join(f"gen_random_uuid() AS {name}" for name in fresh.values())
    head = [f"SELECT {ids} \\gset"] if ids else []
    return "\n".join(head + body) + "\n", len(transaction)


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    log, out_dir, since_ms = argv[1], argv[2], int(argv[3])
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for sqls in statements(log).values():
        for transaction in transactions(sqls):
            if any(sql.startswith('INSERT INTO "orders"') for sql, _ in transaction):
                text, count = script(transaction, since_ms)
                path = os.path.join(out_dir, f"order-{len(written) + 1:03d}.sql")
                with open(path, "w") as out:
                    out.write(text)
                written.append(count)
    if not written:
        raise SystemExit("no order placement found in the log")
    counts = sorted(set(written))
    print(f"{len(written)} order transactions, {'/'.join(map(str, counts))} statements each")


if __name__ == "__main__":
    main(sys.argv)
