#!/usr/bin/env bash
# sim_svg_render.sh — the SVG of `tcpwave sim --format svg`, checked two ways:
#  1. parsed (python3 xml.etree): well-formed XML; one <g class="seg"> per segment of the JSON
#     of the same run; each dropped segment drawn dashed and ending in a cross; every state
#     either side passes through labelled (class="state"); timers drawn as spans (class="timer":
#     2MSL for every TIME_WAIT, one RTO span per retransmission timeout and none without one,
#     a FIN_WAIT_2 span for every orphaned FIN_WAIT_2 timeout); no text covers another text or
#     a lost segment's cross (boxes of the monospace font, turned with their arrows);
#  2. rendered to PNG by a real renderer (rsvg-convert, package librsvg2-bin, installed by
#     scripts/setup.sh): the render succeeds, and the image, decoded by a small zlib-based PNG
#     reader, has the SVG's size and is not blank (many colours, ink in both timelines' columns).
# Set TCPW_SVG_KEEP=DIR to keep the SVGs and PNGs for a look.
#  3. --lang zh: a font with Chinese glyphs is installed (fonts-wqy-microhei, scripts/setup.sh)
#     and the SVG names one, or the Chinese renders as boxes.
set -u
BUILD=${1:?usage: sim_svg_render.sh BUILD_DIR}
BIN=$BUILD/tcpwave
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
if ! command -v rsvg-convert >/dev/null; then
    echo "FAIL: rsvg-convert not found: install librsvg2-bin (bash scripts/setup.sh)"
    exit 1
fi
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh family)" ]; then
    echo "FAIL: no font with Chinese glyphs: --lang zh SVGs render as boxes (bash scripts/setup.sh installs fonts-wqy-microhei)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
keep=${TCPW_SVG_KEEP:-}
[ -n "$keep" ] && mkdir -p "$keep"

fails=0
n=0
run_case() { # ARGS...
    n=$((n + 1))
    local base=$tmp/case$n
    local what="tcpwave sim $*"
    "$BIN" sim "$@" --format svg >"$base.svg" 2>"$base.err" || { echo "FAIL: $what --format svg exited $?"; fails=$((fails + 1)); return; }
    "$BIN" sim "$@" --format json >"$base.jsonl" 2>>"$base.err" || { echo "FAIL: $what --format json exited $?"; fails=$((fails + 1)); return; }
    if ! rsvg-convert "$base.svg" -o "$base.png" 2>"$base.rsvg"; then
        echo "FAIL: $what: rsvg-convert failed:"
        sed 's/^/    /' "$base.rsvg"
        fails=$((fails + 1))
        return
    fi
    # a small copy for the pixel check (the pure-python PNG decoder is slow on big images)
    rsvg-convert -z 0.3 "$base.svg" -o "$base.small.png" 2>>"$base.rsvg" || { echo "FAIL: $what: rsvg-convert -z 0.3 failed"; fails=$((fails + 1)); return; }
    if [ -n "$keep" ]; then
        local tag
        tag=$(echo "$*" | tr -c 'a-zA-Z0-9\n-' '_')
        [ -n "$tag" ] || tag=default
        cp "$base.svg" "$keep/$tag.svg"
        cp "$base.png" "$keep/$tag.png"
    fi
    python3 - "$base" "$what" <<'EOF' || fails=$((fails + 1))
import json, struct, sys, zlib
import xml.etree.ElementTree as ET
base, what = sys.argv[1], sys.argv[2]
problems = []
NS = "{http://www.w3.org/2000/svg}"

# ---- the SVG, parsed ----
try:
    root = ET.parse(base + ".svg").getroot()
except ET.ParseError as e:
    print("FAIL: %s: the SVG is not well-formed XML: %s" % (what, e))
    sys.exit(1)
if root.tag != NS + "svg":
    problems.append("root element is %s" % root.tag)
ev = [json.loads(l) for l in open(base + ".jsonl", encoding="utf-8")]
segs = [e for e in ev if e["ev"] == "seg"]
def classes(el):
    return (el.get("class") or "").split()
groups = [el for el in root.iter() if "seg" in classes(el)]
if len(groups) != len(segs):
    problems.append("%d elements of class seg, %d segments in the JSON" % (len(groups), len(segs)))
if any(g.tag != NS + "g" for g in groups):
    problems.append("a class=seg element is not a <g>")
# a dropped segment: a dashed line ending in a cross (a path of two strokes, M..L..M..L..)
def is_cross(g):
    return any(p.get("d", "").count("M") == 2 and p.get("fill") in (None, "none") for p in g.iter(NS + "path"))
def is_dashed(g):
    return any(l.get("stroke-dasharray") for l in g.iter(NS + "line"))
drawn_dropped = [g for g in groups if is_cross(g) and is_dashed(g)]
dropped = [s for s in segs if s["fate"] == "dropped"]
if len(drawn_dropped) != len(dropped):
    problems.append("%d segments drawn as lost, %d dropped in the JSON" % (len(drawn_dropped), len(dropped)))
# each segment's label: flags and numbers as the view spells them, in JSON order
labels = ["".join(g.itertext()) for g in groups]
for i, (s, lab) in enumerate(zip(segs, labels)):
    want = "seq=%d" % s["rel_seq"]
    if want not in lab:
        problems.append("segment %d (%s %s) drawn without %s: %r" % (i + 1, s["from"], s["flags"], want, lab[-80:]))
        break
# every state either side passes through is labelled along its timeline
state_text = " ".join("".join(el.itertext()) for el in root.iter() if "state" in classes(el))
seen = set()
for e in ev:
    if e["ev"] == "state":
        seen.add(e["from"]); seen.add(e["to"])
for st in sorted(seen):
    if st not in state_text:
        problems.append("state %s not labelled" % st)
# timers: a 2MSL span for every entry into TIME_WAIT, an RTO span per retransmission timeout
timers = ["".join(el.itertext()) for el in root.iter() if "timer" in classes(el)]
tw = [e for e in ev if e["ev"] == "state" and e["to"] == "TIME_WAIT"]
if tw and not any("2MSL" in t for t in timers):
    problems.append("TIME_WAIT without a 2MSL span")
rto = [e for e in ev if e["ev"] == "note" and "retransmission timeout" in e["text"]]
if len([t for t in timers if "RTO" in t]) < len(rto):
    problems.append("%d retransmission timeouts, %d RTO spans" % (len(rto), len([t for t in timers if "RTO" in t])))
if not any(e["ev"] == "note" and "retransmi" in e["text"] for e in ev) and any("RTO" in t for t in timers):
    problems.append("an RTO span without any retransmission")
fw2 = [e for e in ev if e["ev"] == "state" and e["cause"] == "timer:fin_wait_2"]
if len([t for t in timers if "FIN_WAIT_2" in t]) != len(fw2):
    problems.append("%d FIN_WAIT_2 timeouts, %d FIN_WAIT_2 spans" % (len(fw2), len([t for t in timers if "FIN_WAIT_2" in t])))
if "WenQuanYi Micro Hei" not in (root.get("font-family") or ""):
    problems.append("no CJK font in the font-family")

# ---- nothing covers anything: texts (monospace, 0.602 em wide, turned with their arrow) and
# lost segments' crosses, as boxes with the halo's margin ----
import math, re
def cols(s):
    return sum(2 if (0x2E80 <= ord(c) <= 0xA4CF or 0xFF00 <= ord(c) <= 0xFF60) else 1 for c in s)
parent = {c: p for p in root.iter() for c in p}
def up(el, attr):
    while el is not None:
        if el.get(attr): return el.get(attr)
        el = parent.get(el)
    return None
def owner(el):
    while el is not None:
        if el.tag == NS + "g" and el.get("class"): return id(el)
        el = parent.get(el)
    return None
def quad(x0, x1, y0, y1, tf):
    m = re.match(r"translate\(([-\d.]+)[ ,]([-\d.]+)\)(?: rotate\(([-\d.]+)\))?", tf or "")
    tx, ty, a = (float(m.group(1)), float(m.group(2)), float(m.group(3) or 0)) if m else (0, 0, 0)
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return [(tx + u * c - v * s, ty + u * s + v * c) for u, v in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
def apart(a, b):
    for k in range(4):
        (x1, y1), (x2, y2) = a[k], a[(k + 1) % 4]
        nx, ny = y2 - y1, x1 - x2
        l = math.hypot(nx, ny)
        if l < 1e-9: continue
        pa = [(p[0] * nx + p[1] * ny) / l for p in a]
        pb = [(p[0] * nx + p[1] * ny) / l for p in b]
        if max(pa) <= min(pb) + 0.5 or max(pb) <= min(pa) + 0.5: return True
    return False
boxes = []
for t in root.iter(NS + "text"):
    if up(t, "class") in ("explain", "participant", "title") or "explain" in [up(a, "class") for a in [t]]:
        continue
    if any((a.get("class") or "") in ("explain", "participant") for a in [parent.get(t), parent.get(parent.get(t))] if a is not None):
        continue
    fs = float(up(t, "font-size") or 12)
    w = cols(t.text or "") * 0.602 * fs
    for sp in t.iter(NS + "tspan"):
        w += cols("".join(sp.itertext())) * 0.602 * float(sp.get("font-size") or fs) + float(sp.get("dx") or 0)
        w += cols(sp.tail or "") * 0.602 * fs
    if w <= 0 or t.get("class") == "title": continue
    x, y = float(t.get("x") or 0), float(t.get("y") or 0)
    anchor = t.get("text-anchor") or "start"
    x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
    boxes.append((quad(x0 - 1.5, x0 + w + 1.5, y - 0.75 * fs - 1.5, y + 0.22 * fs + 1.5, up(t, "transform")),
                  "".join(t.itertext())[:40], owner(t)))
for g in groups:
    for p in g.iter(NS + "path"):
        d = p.get("d", "")
        if d.count("M") == 2 and p.get("fill") in (None, "none"):
            v = [float(x) for x in re.findall(r"[-\d.]+", d)]
            cx, cy = (v[0] + v[2]) / 2, (v[1] + v[3]) / 2
            boxes.append((quad(cx - 6, cx + 6, cy - 6, cy + 6, None), "a cross", id(g)))
covered = []
for i in range(len(boxes)):
    for j in range(i + 1, len(boxes)):
        a, b = boxes[i], boxes[j]
        if a[2] is not None and a[2] == b[2]: continue
        if not apart(a[0], b[0]) and not apart(b[0], a[0]):
            covered.append("%r covers %r" % (a[1], b[1]))
if covered:
    problems.append("%d overlaps, e.g. %s" % (len(covered), "; ".join(covered[:3])))

# ---- the PNG, decoded ----
def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unexpected PNG format depth=%d type=%d interlace=%d" % (depth, ctype, interlace))
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, off = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        off += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows

try:
    full = open(base + ".png", "rb").read()
    fw, fh = struct.unpack(">II", full[16:24])
    sw, sh = int(float(root.get("width"))), int(float(root.get("height")))
    if (fw, fh) != (sw, sh):
        problems.append("PNG is %dx%d, the SVG says %dx%d" % (fw, fh, sw, sh))
    if len(full) < 10000:
        problems.append("PNG is only %d bytes" % len(full))
    w, h, bpp, rows = read_png(base + ".small.png")
    colours, ink = set(), 0
    ink_cols = [0] * w
    for row in rows:
        for x in range(w):
            px = row[x * bpp:x * bpp + 3]
            colours.add(px)
            if px != b"\xff\xff\xff":
                ink += 1
                ink_cols[x] += 1
    frac = ink / float(w * h)
    if len(colours) < 8:
        problems.append("the render has only %d colours: blank?" % len(colours))
    if not (0.01 < frac < 0.6):
        problems.append("%.1f%% of the render is not white" % (100 * frac))
    # the two timelines (x = 300 and 760 of 1000 in the SVG) are drawn down the whole height
    for name, x in (("client", 300), ("server", 760)):
        col = int(x * w / sw)
        if max(ink_cols[col - 2:col + 3]) < 0.5 * h:
            problems.append("the %s timeline is not drawn" % name)
except Exception as e:  # a decoding problem is a failure, not a crash
    problems.append("PNG check: %s" % e)

if problems:
    print("FAIL: %s --format svg:" % what)
    for p in problems[:10]:
        print("  " + p)
    sys.exit(1)
print("ok: %s: %d segments (%d lost), %d states, %d timers, rendered %dx%d" % (what, len(segs), len(dropped), len(seen), len(timers), fw, fh))
EOF
}

run_case
run_case --scenario four-way --explain
run_case --scenario four-way --explain --lang zh
for name in $("$BIN" sim --list | awk '{print $1}'); do
    [ "$name" = four-way ] || run_case --scenario "$name"
done
run_case --scenario lost-last-ack --msl 0
run_case --scenario lost-last-ack --msl 0 --explain --lang zh
run_case --scenario old-duplicate --msl 0
run_case --scenario tw-reuse --tw-reuse --explain
run_case --scenario half-close --explain
run_case --drop 'server>client#1:F' --loss 10% --seed 5
run_case --reorder 30% --seed 2

if [ $fails -ne 0 ]; then
    echo "sim_svg_render: $fails of $n cases FAILED"
    exit 1
fi
echo "sim_svg_render: $n cases ok"
