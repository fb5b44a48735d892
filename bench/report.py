#!/usr/bin/env python3
"""Turns one run's RESULT lines into a Markdown table (with the ratio to the baseline where the
same run measured it) and an SVG chart of throughput and p99 per scenario.

    report.py RUN_FILE CHART.svg

StateSet's lines say `scenario=...`, the peer's `mode=...`; both say `server=...`.
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


def table(rows):
    ours = [r for r in rows if r["server"] == "stateset"]
    peers = {r["scenario"]: r for r in rows if r["server"] != "stateset"}
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
    return "\n".join(out)


def chart(rows, path):
    ours = [r for r in rows if r["server"] == "stateset"]
    peers = {r["scenario"]: r for r in rows if r["server"] != "stateset"}
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
                (r, "#2b6cb0", "bare axum" if r["scenario"] == "hello" else "StateSet"),
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
