#!/usr/bin/env python3
"""figure.py — draws bench/tun/results.csv as an SVG bar chart and a markdown table.

  figure.py results.csv throughput.svg results.md "subtitle"
"""
import csv
import html
import sys


def main():
    src, svg_path, md_path, subtitle = sys.argv[1:5]
    rows = list(csv.DictReader(open(src)))
    mtus = sorted({int(r["mtu"]) for r in rows})
    groups = []  # (mtu, direction label, [(path, value)])
    for mtu in mtus:
        for d in ("in", "out"):
            pair = []
            for r in rows:
                if int(r["mtu"]) != mtu:
                    continue
                is_in = r["direction"] in ("kernel -> tcpwave", "kernel A -> kernel B")
                if is_in == (d == "in"):
                    pair.append((r["path"], r["direction"], float(r["MB_per_s"])))
            groups.append((mtu, d, pair))
    vmax = max(v for _, _, p in groups for _, _, v in p) or 1.0
    bar_w, gap, group_gap, left, top, h = 34, 4, 30, 70, 60, 300
    width = left + len(groups) * (2 * bar_w + gap + group_gap) + 220
    height = top + h + 90
    colors = {"TUN tcpwave<->kernel": "#1f77b4", "veth kernel<->kernel": "#aaaaaa"}
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="16" font-weight="bold">Bulk TCP throughput over TUN: tcpwave &lt;-&gt; Linux vs Linux &lt;-&gt; Linux (veth)</text>' % left,
           '<text x="%d" y="42" fill="#555">%s</text>' % (left, html.escape(subtitle))]
    for i in range(6):
        v = vmax * i / 5
        y = top + h - h * i / 5
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (left, width - 220, y, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end" fill="#555">%.0f</text>' % (left - 6, y + 4, v))
    out.append('<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle" fill="#555">MB/s</text>' % (top + h / 2, top + h / 2))
    x = left + 10
    for mtu, d, pair in groups:
        for j, path in enumerate(("TUN tcpwave<->kernel", "veth kernel<->kernel")):
            v = next((val for p, _, val in pair if p == path), 0.0)
            bh = h * v / vmax
            bx = x + j * (bar_w + gap)
            out.append('<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/>' % (bx, top + h - bh, bar_w, bh, colors[path]))
            out.append('<text x="%d" y="%.1f" text-anchor="middle" font-size="10">%.0f</text>' % (bx + bar_w / 2, top + h - bh - 3, v))
        label = "to tcpwave" if d == "in" else "from tcpwave"
        cx = x + bar_w + gap / 2
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (cx, top + h + 16, label))
        out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">MTU %d</text>' % (cx, top + h + 32, mtu))
        x += 2 * bar_w + gap + group_gap
    lx = width - 200
    for k, (path, c) in enumerate(colors.items()):
        out.append('<rect x="%d" y="%d" width="14" height="14" fill="%s"/>' % (lx, top + 20 * k, c))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 20, top + 12 + 20 * k, html.escape(path)))
    out.append('<text x="%d" y="%d" fill="#555" font-size="11">"to tcpwave": the kernel sends (veth: A to B); "from tcpwave": the kernel receives (veth: B to A).</text>' % (left, height - 14))
    out.append("</svg>")
    open(svg_path, "w").write("\n".join(out) + "\n")

    md = ["| MTU | direction | tcpwave <-> kernel (TUN) | kernel <-> kernel (veth) | ratio |",
          "|----:|-----------|-------------------------:|-------------------------:|------:|"]
    for mtu, d, pair in groups:
        t = next((v for p, _, v in pair if p.startswith("TUN")), 0.0)
        k = next((v for p, _, v in pair if p.startswith("veth")), 0.0)
        md.append("| %d | %s | %.0f MB/s | %.0f MB/s | %.2f |" % (
            mtu, "kernel sends, tcpwave receives" if d == "in" else "tcpwave sends, kernel receives",
            t, k, t / k if k else 0))
    md.append("")
    md.append(subtitle)
    open(md_path, "w").write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
