#!/usr/bin/env bash
# cli_sim_all.sh — every scenario `tcpwave sim --list` prints runs in every format (text,
# mermaid, svg, json; plain and with --explain in English and Chinese) and exits 0 with a
# well-formed drawing: JSON lines that parse, SVG that is XML, a mermaid sequenceDiagram, a text
# ladder with its summary. Each run is deterministic: the same command gives the same bytes.
set -u
BUILD=${1:?usage: cli_sim_all.sh BUILD_DIR}
BIN=$BUILD/tcpwave
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$BIN" sim --list >"$tmp/list" || { echo "FAIL: tcpwave sim --list exited $?"; exit 1; }
mapfile -t names < <(awk '{print $1}' "$tmp/list")

# The issue's list: every one of these must be in --list.
fails=0
for want in four-way server-first half-close three-way-close simultaneous-close simultaneous-open \
    close-in-syn-rcvd lost-last-ack lost-fin time-wait-expiry old-duplicate rst-on-unread-data \
    abort fin-wait-2-timeout close-wait-leak tw-reuse; do
    grep -q "^$want  " "$tmp/list" || { echo "FAIL: --list lacks $want"; fails=$((fails + 1)); }
done
# one line each: a name, two spaces or more, a description
if grep -vqE '^[a-z0-9-]+  +[^ ].{20,}$' "$tmp/list"; then
    echo "FAIL: --list lines are not NAME  DESCRIPTION:"
    grep -vE '^[a-z0-9-]+  +[^ ].{20,}$' "$tmp/list"
    fails=$((fails + 1))
fi

runs=0
mkdir -p "$tmp/out"
for name in "${names[@]}"; do
    for fmt in text mermaid svg json; do
        for lang in plain en zh; do
            case $lang in
            plain) extra=() ;;
            en) extra=(--explain) ;;
            zh) extra=(--explain --lang zh) ;;
            esac
            out=$tmp/out/$name.$fmt.$lang
            "$BIN" sim --scenario "$name" --format "$fmt" "${extra[@]}" >"$out" 2>"$tmp/err"
            rc=$?
            runs=$((runs + 1))
            what="tcpwave sim --scenario $name --format $fmt ${extra[*]}"
            if [ $rc -ne 0 ]; then
                echo "FAIL: $what exited $rc"
                sed 's/^/    /' "$tmp/err"
                fails=$((fails + 1))
                rm -f "$out"
                continue
            fi
            [ -s "$tmp/err" ] && { echo "FAIL: $what wrote to stderr:"; sed 's/^/    /' "$tmp/err"; fails=$((fails + 1)); }
        done
    done
    # determinism: the same command again gives the same bytes
    "$BIN" sim --scenario "$name" --format json >"$tmp/again" 2>/dev/null
    cmp -s "$tmp/out/$name.json.plain" "$tmp/again" || { echo "FAIL: $name: two runs differ"; fails=$((fails + 1)); }
done

# Every output well-formed (one python for all of them).
python3 - "$tmp/out" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET
d = sys.argv[1]
bad = 0
for f in sorted(os.listdir(d)):
    name, fmt, lang = f.rsplit(".", 2)
    data = open(os.path.join(d, f), "rb").read()
    problems = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        problems.append("not UTF-8: %s" % err)
        text = data.decode("utf-8", "replace")
    if fmt == "json":
        segs = states = 0
        for n, line in enumerate(text.splitlines(), 1):
            try:
                e = json.loads(line)
            except ValueError as err:
                problems.append("line %d is not JSON: %s" % (n, err))
                continue
            segs += e.get("ev") == "seg"
            states += e.get("ev") == "state"
            if lang != "plain" and e.get("ev") in ("seg", "state") and "explain" not in e:
                problems.append("line %d has no explanation" % n)
            if lang == "plain" and "explain" in e:
                problems.append("line %d has an explanation without --explain" % n)
        if segs == 0 or states == 0:
            problems.append("%d segments, %d state changes" % (segs, states))
    elif fmt == "svg":
        try:
            root = ET.fromstring(data)
            if not root.tag.endswith("svg"):
                problems.append("root is %s" % root.tag)
        except ET.ParseError as err:
            problems.append("not XML: %s" % err)
    elif fmt == "mermaid":
        if not text.startswith("sequenceDiagram\n"):
            problems.append("does not start with sequenceDiagram")
        if "->>" not in text and "-x " not in text:
            problems.append("no arrows")
    else:
        if "|--[" not in text and "|<-" not in text:
            problems.append("no arrows in the ladder")
        if "data check:" not in text:
            problems.append("no summary")
        if "\033[" in text:
            problems.append("colour codes although stdout is not a terminal")
        if lang != "plain" and "RFC" not in text:
            problems.append("no explanations")
    if lang == "zh" and fmt != "json" and not any(w in text for w in ("挥手", "握手", "连接", "状态")):
        problems.append("--lang zh: no Chinese")
    if problems:
        bad += 1
        print("FAIL: tcpwave sim --scenario %s --format %s (%s): %s" % (name, fmt, lang, "; ".join(problems[:5])))
sys.exit(1 if bad else 0)
EOF
[ $? -eq 0 ] || fails=$((fails + 1))

if [ $fails -ne 0 ]; then
    echo "cli_sim_all: $fails failures in $runs runs"
    exit 1
fi
echo "cli_sim_all: ${#names[@]} scenarios x 4 formats x 3 languages = $runs runs, all ok"
