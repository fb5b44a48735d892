#!/usr/bin/env python3
"""Turns one run's RESULT lines into a Markdown table (with the ratio to the baseline where the
same run measured it) and an SVG chart of throughput and p99 per scenario.

    report.py RUN_FILE CHART.svg

StateSet's lines say `scenario=...`, the peer's `mode=...`; both say `server=...`. The
`ceiling` line (server=pgbench) is PostgreSQL alone running the SQL of (d)'s order placements;
the table says what fraction of it (d) reaches. The `subscriptions` line (idle subscribers,
memory and fan-out latency) is a sentence under the table, not a row.
"""

import math
import sys
from html import escape


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            if "RESULT" not in line:
                continue
            fields = dict(
                word.split("=", 1) for word in line.split("RESULT", 1)[1].split() if "=" in word
            )
            fields["scenario"] = fields.get("scenario") or fields.get("mode")
            server = fields.get("server", "")
            fields["server"] = "stateset" if server.startswith("stateset") else server
            rows.append(fields)
    return rows


OURS = ("stateset", "pgbench")


def measured(rows):
    """The rows with a throughput: every scenario but `subscriptions`."""
    return [r for r in rows if "rps" in r]


def table(rows):
    subscriptions = [r for r in rows if r["scenario"] == "subscriptions"]
    rows = measured(rows)
    ours = [r for r in rows if r["server"] in OURS]
    peers = {r["scenario"]: r for r in rows if r["server"] not in OURS}
    out = [
        "| scenario | req/s | p50 ms | p99 ms | errors | server CPU ms/req | PostgreSQL CPU ms/req | baseline req/s | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in ours:
        peer = peers.get(r["scenario"])
        ratio = f"{float(r['rps']) / float(peer['rps']):.1f}×" if peer and float(peer["rps"]) else ""
        out.append(
            "| {scenario} | {rps} | {p50_ms} | {p99_ms} | {errors} | {server_cpu_ms_req} | {pg_cpu_ms_req} | {peer} | {ratio} |".format(
                peer=peer["rps"] if peer else "", ratio=ratio, **r
            )
        )
    by_scenario = {r["scenario"]: r for r in ours}
    place, ceiling = by_scenario.get("place"), by_scenario.get("ceiling")
    if place and ceiling and float(ceiling["rps"]):
        share = 100 * float(place["rps"]) / float(ceiling["rps"])
        out.append("")
        out.append(
            f"(d) places {place['rps']} orders/s through the server; PostgreSQL alone runs their "
            f"SQL {ceiling['rps']} times/s (pgbench, `ceiling`): {share:.0f} % of the ceiling."
        )
    for s in subscriptions:
        out.append("")
        out.append(
            f"Subscriptions: {s['subscribers']} idle `graphql-ws` subscribers on one server, "
            f"{s['rss_idle_mib']} MiB RSS while idle ({s['rss_before_mib']} MiB before them, "
            f"{s['kib_per_subscriber']} KiB each); an event reaches them in p50 {s['p50_ms']} ms, "
            f"p99 {s['p99_ms']} ms from its timestamp, all of them within {s['all_delivered_max_ms']} ms "
            f"({s['rounds']} rounds, {s['errors']} errors)."
        )
    return "\n".join(out)


def chart(rows, path):
    rows = measured(rows)
    ours = [r for r in rows if r["server"] in OURS]
    peers = {r["scenario"]: r for r in rows if r["server"] not in OURS}
    width, bar, gap, top, left = 900, 18, 26, 40, 110
    height = top + len(ours) * (2 * bar + gap) + 40
    peak_rps = max([float(r["rps"]) for r in rows] + [1])
    peak_p99 = max([float(r["p99_ms"]) for r in rows] + [1])
    half = (width - left - 40) / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="20" font-weight="bold">requests/s, log scale (longer is better)</text>',
        f'<text x="{left + half + 20}" y="20" font-weight="bold">p99 latency, ms (shorter is better)</text>',
    ]
    y = top
    for r in ours:
        parts.append(f'<text x="5" y="{y + bar}">{escape(r["scenario"])}</text>')
        for i, (row, colour, name) in enumerate(
            [
                (r, "#2b6cb0", {"hello": "bare axum", "ceiling": "pgbench"}.get(r["scenario"], "StateSet")),
                (peers.get(r["scenario"]), "#a0aec0", "baseline"),
            ]
        ):
            if not row:
                continue
            yy = y + i * bar
            w = (half - 120) * math.log10(1 + float(row["rps"])) / math.log10(1 + peak_rps)
            parts.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar - 2}" fill="{colour}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{yy + bar - 5}">{escape(name)} {float(row["rps"]):.0f}</text>')
            w = (half - 60) * float(row["p99_ms"]) / peak_p99
            x = left + half + 20
            parts.append(f'<rect x="{x}" y="{yy}" width="{w:.1f}" height="{bar - 2}" fill="{colour}"/>')
            parts.append(f'<text x="{x + w + 4:.1f}" y="{yy + bar - 5}">{float(row["p99_ms"]):.1f}</text>')
        y += 2 * bar + gap
    parts.append("</svg>")
    with open(path, "w") as out:
        out.write("\n".join(parts) + "\n")


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    rows = parse(argv[1])
    if not rows:
        raise SystemExit(f"no RESULT lines in {argv[1]}")
    print(table(rows))
    chart(rows, argv[2])


if __name__ == "__main__":
    main(sys.argv)
