#!/usr/bin/env python3
"""Turns PostgreSQL's log of real order placements into one pgbench script: the database
ceiling for scenario (d). Standard library only.

    ceiling.py LOG OUT_DIR SINCE_MS

LOG holds what PostgreSQL logged (log_statement = all) while the server placed orders, one
per variant; SINCE_MS is when logging began (Unix milliseconds). Every transaction that
inserts into "orders" is one placement. The placements that ran the same statements (all of
them, when the server is healthy) make:
  - OUT_DIR/setup.sql: a table `bench_ceiling` with one row per placement holding the values
    it bound to its statements' parameters;
  - OUT_DIR/order.sql: the pgbench script. It picks one placement at random, reads its values
    into pgbench variables (one indexed lookup, which also makes the fresh ids), then runs the server's statements with their
    parameters as those variables: the same SQL text as the server sent, so that with
    `-M prepared` PostgreSQL parses and plans each once per connection, as it does for the
    server. What must differ on every run is made fresh: an id the server made for the order
    (a UUIDv7 stamped after SINCE_MS, alone or in an array) comes from gen_random_uuid(), and
    the order number from
    the sequence again (the statement that draws it gets \\gset).
Prints how many placements were used and the statements each holds.
"""

import os
import re
import sys
from collections import Counter, defaultdict

ENTRY = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] .*?(LOG|DETAIL|ERROR|STATEMENT|HINT|CONTEXT):  (.*)$")
STATEMENT = re.compile(r"^(?:statement|execute [^:]+): (.*)$", re.S)
PARAMETER = re.compile(r"\$(\d+) = ('(?:[^']|'')*'|NULL)")
PLACEHOLDER = re.compile(r"\$(\d+)\b")
V7 = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID = re.compile(rf"^'({V7})'$")
UUID_ARRAY = re.compile(rf"^'\{{({V7}(?:,{V7})*)\}}'$")
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


def role(value, since_ms, fresh):
    """What one bound value is: a fresh id (its variable), an array of fresh ids ('[]' and
    their variables joined by '+'), the order number, or data (None)."""
    uuid = UUID.match(value)
    if uuid and v7_millis(uuid.group(1)) >= since_ms:
        return "new_id_" + str(fresh.setdefault(uuid.group(1), len(fresh) + 1))
    array = UUID_ARRAY.match(value)
    if array and all(v7_millis(u) >= since_ms for u in array.group(1).split(",")):
        return "[]" + "+".join(
            "new_id_" + str(fresh.setdefault(u, len(fresh) + 1)) for u in array.group(1).split(",")
        )
    if ORDER_NUMBER.match(value):
        return "number"
    return None


def build(placements, since_ms):
    """The script and the values table of placements that all ran the same statements."""
    roles = []  # per placement: {(statement, n): fresh variable or None}
    for placement in placements:
        fresh = {}
        roles.append(
            {
                (i, n): role(value, since_ms, fresh)
                for i, (_, params) in enumerate(placement)
                for n, value in sorted(params.items())
            }
        )
    template = placements[0]
    variables = {}  # (statement, n) -> variable name in the script
    data_columns = []
    for i, (sql, params) in enumerate(template):
        for n in sorted(params):
            seen = {r.get((i, n)) for r in roles}
            values = {p[i][1].get(n) for p in placements}
            if len(seen) == 1 and None not in seen:
                variables[(i, n)] = seen.pop()
            elif seen == {None} and values == {"NULL"}:
                variables[(i, n)] = None  # NULL in every placement: written in
            elif seen == {None} and "NULL" not in values:
                variables[(i, n)] = f"s{i}_{n}"
                data_columns.append((i, n))
            else:
                raise SystemExit(f"statement {i} parameter ${n} is not alike in every placement: {sql[:120]}")
    # An array of fresh ids is its own variable, made in the head from the ids.
    arrays = {}
    for key, name in list(variables.items()):
        if name and name.startswith("[]"):
            arrays[f"a{key[0]}_{key[1]}"] = name[2:].split("+")
            variables[key] = f"a{key[0]}_{key[1]}"
    fresh_names = sorted(
        {v for v in variables.values() if v and v.startswith("new_id_")}
        | {part for parts in arrays.values() for part in parts},
        key=lambda name: int(name.rsplit("_", 1)[1]),
    )
    body = []
    for i, (sql, params) in enumerate(template):

        def placeholder(match, i=i, params=params):
            n = int(match.group(1))
            if n not in params:
                raise SystemExit(f"statement {i} has no logged value for ${n} (is log_parameter_max_length 0?)")
            name = variables[(i, n)]
            return ":" + name if name else "NULL"

        text = PLACEHOLDER.sub(placeholder, sql)
        body.append(text + (" \\gset" if NUMBER_QUERY in sql else ";"))
    picks = [f"s{i}_{n}" for i, n in data_columns] + fresh_names
    picks += [f"'{{' || {', '.join(parts)} || '}}' AS {name}".replace(", ", " || ',' || ") for name, parts in arrays.items()]
    fresh_ids = ", ".join(f"gen_random_uuid() AS {name}" for name in fresh_names) or "1 AS none"
    head = [f"\\set k random(1, {len(placements)})"]
    if picks:
        head.append(
            f"SELECT {', '.join(picks)} FROM bench_ceiling, (SELECT {fresh_ids}) fresh WHERE k = :k \\gset"
        )
    script = "\n".join(head + body) + "\n"
    columns = "".join(f", s{i}_{n} text" for i, n in data_columns)
    setup = [
        "DROP TABLE IF EXISTS bench_ceiling;",
        f"CREATE TABLE bench_ceiling (k int PRIMARY KEY{columns});",
    ]
    for k, placement in enumerate(placements, 1):
        values = "".join(", " + placement[i][1][n] for i, n in data_columns)
        setup.append(f"INSERT INTO bench_ceiling VALUES ({k}{values});")
    setup.append("ANALYZE bench_ceiling;")
    return script, "\n".join(setup) + "\n"


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    log, out_dir, since_ms = argv[1], argv[2], int(argv[3])
    found = [
        transaction
        for sqls in statements(log).values()
        for transaction in transactions(sqls)
        if any(sql.startswith('INSERT INTO "orders"') for sql, _ in transaction)
    ]
    if not found:
        raise SystemExit("no order placement found in the log")
    shapes = Counter(tuple(sql for sql, _ in t) for t in found)
    shape, count = shapes.most_common(1)[0]
    placements = [t for t in found if tuple(sql for sql, _ in t) == shape]
    script, setup = build(placements, since_ms)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "order.sql"), "w") as out:
        out.write(script)
    with open(os.path.join(out_dir, "setup.sql"), "w") as out:
        out.write(setup)
    print(
        f"{count} of {len(found)} order placements ran the same {len(shape)} statements: "
        f"order.sql replays them (values in setup.sql)"
    )


if __name__ == "__main__":
    main(sys.argv)
