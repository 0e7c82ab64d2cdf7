#!/usr/bin/env bash
# analyze_cli.sh — `tcpwave analyze` as a user runs it: the public sample capture python3-dpkt
# ships (http.pcap, the Ethereal HTTP download, read where the package installs it, never
# copied), the seeds' close numbers on a simulator capture, JSON fields, the ladder in every
# format, stdin, a BPF filter, and each bad input with its documented exit code.
set -u
BUILD=${1:?usage: analyze_cli.sh BUILD_DIR}
BIN=$BUILD/tcpwave
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

expect_exit() { # expected command...
    local want=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "'$*' exited $got, want $want: $(head -c 300 "$tmp/err")"
    else
        ok
    fi
}

# ---- the public sample capture ------------------------------------------------------------
DPKT=/usr/share/doc/python3-dpkt/examples/data
if [ ! -r "$DPKT/http.pcap" ]; then
    if [ "${CI:-}" = true ]; then
        fail "python3-dpkt's http.pcap is missing ($DPKT): run scripts/setup.sh"
    else
        echo "SKIP: python3-dpkt not installed ($DPKT/http.pcap): public-sample checks skipped"
    fi
else
    expect_exit 0 "$BIN" analyze --json "$DPKT/http.pcap"
    cp "$tmp/out" "$tmp/http.json"
    python3 - "$tmp/http.json" <<'EOF' || fails=$((fails + 1))
import json, sys
conns = [json.loads(l) for l in open(sys.argv[1])]
def want(c, k, v):
    if c[k] != v:
        print(f"FAIL: http.pcap connection {c['id']}: {k} = {c[k]!r}, want {v!r}")
        return 1
    return 0
bad = 0
bad += len(conns) != 2 and (print(f"FAIL: http.pcap has {len(conns)} connections, want 2") or 1)
a, b = conns[0], conns[1]
# connection 1: the download; the web server closes first, four segments
for k, v in [("client", "145.254.160.237:3372"), ("server", "65.208.228.223:80"),
             ("opened_by", "client"), ("closed_first_by", "server"), ("close_pattern", "four-way"),
             ("final_state", {"client": "CLOSED", "server": "TIME_WAIT"}),
             ("zeek_conn_state", "SF"), ("zeek_history", "ShADadfF"), ("anomalies", [])]:
    bad += want(a, k, v)
# connection 2: the ad request, captured mid-stream and never closed
for k, v in [("client", "145.254.160.237:3371"), ("server", "216.239.59.99:80"),
             ("opened_by", "unknown"), ("closed_first_by", "none"), ("close_pattern", "none"),
             ("final_state", {"client": "ESTABLISHED", "server": "ESTABLISHED"}),
             ("zeek_conn_state", "OTH")]:
    bad += want(b, k, v)
if b["stats"]["server"]["retransmissions"] != 1:
    print("FAIL: http.pcap connection 2: the server's spurious retransmission not counted"); bad += 1
sys.exit(1 if bad else 0)
EOF
    ok
    # the table names the close and the TIME_WAIT holder
    "$BIN" analyze "$DPKT/http.pcap" >"$tmp/t" 2>&1
    grep -q "the server closed first: four-way close" "$tmp/t" || fail "http.pcap table: no four-way verdict"
    grep -q "65.208.228.223:80 .*TIME_WAIT" "$tmp/t" || fail "http.pcap table: TIME_WAIT holder not named"
    ok
    # a filter, and stdin
    expect_exit 0 "$BIN" analyze -f 'port 3371' --json "$DPKT/http.pcap"
    [ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "-f 'port 3371' kept $(wc -l <"$tmp/out") connections"
    "$BIN" analyze --json - <"$DPKT/http.pcap" >"$tmp/stdin.json" || fail "stdin read failed"
    cmp -s "$tmp/stdin.json" "$tmp/http.json" || fail "stdin and file analyses differ"
    ok
    # bad inputs shipped by the same package
    expect_exit 4 "$BIN" analyze "$DPKT/dns_icmp.pcap"
    grep -q "no TCP" "$tmp/err" || fail "dns_icmp.pcap: no 'no TCP' message"
    expect_exit 1 "$BIN" analyze "$DPKT/truncated_dns_2.pcap"
    grep -q "record 2" "$tmp/err" || fail "truncated_dns_2.pcap: the bad record is not named: $(cat "$tmp/err")"
fi

# ---- the seeds' numbers on a simulated four-way close --------------------------------------
"$BIN" sim --client-bytes 160 --server-bytes 733 --pcap "$tmp/seeds.pcap" -q >/dev/null ||
    fail "tcpwave sim --pcap failed"
expect_exit 0 "$BIN" analyze --packets "$tmp/seeds.pcap"
grep -Eq 'C>S +\[FIN, ACK\] Seq=161 Ack=734 Len=0 +FIN_WAIT_1 +CLOSE_WAIT' "$tmp/out" ||
    fail "the seeds' first wave [FIN, ACK] Seq=161 Ack=734 with FIN_WAIT_1/CLOSE_WAIT not shown"
grep -Eq 'S>C +\[ACK\] Seq=734 Ack=162 Len=0 +FIN_WAIT_2 +CLOSE_WAIT' "$tmp/out" ||
    fail "the seeds' second wave not shown"
grep -Eq 'S>C +\[FIN, ACK\] Seq=734 Ack=162 Len=0 +TIME_WAIT +LAST_ACK' "$tmp/out" ||
    fail "the seeds' third wave not shown"
grep -Eq 'C>S +\[ACK\] Seq=162 Ack=735 Len=0 +TIME_WAIT +CLOSED' "$tmp/out" ||
    fail "the seeds' fourth wave not shown"
expect_exit 0 "$BIN" analyze --json --packets "$tmp/seeds.pcap"
python3 - "$tmp/out" <<'EOF' || fails=$((fails + 1))
import json, sys
c = json.loads(open(sys.argv[1]).readline())
need = ["id", "client", "server", "opened_by", "closed_first_by", "close_pattern", "final_state",
        "zeek_conn_state", "zeek_history", "anomalies", "packets", "stats"]
missing = [k for k in need if k not in c]
if missing: print("FAIL: JSON lacks", missing); sys.exit(1)
if (c["close_pattern"], c["closed_first_by"]) != ("four-way", "client"):
    print("FAIL: seeds capture verdict", c["close_pattern"], c["closed_first_by"]); sys.exit(1)
fins = [p for p in c["packets"] if "FIN" in p["flags"]]
if (fins[0]["seq"], fins[0]["ack"], fins[0]["state"]) != (161, 734, {"client": "FIN_WAIT_1", "server": "CLOSE_WAIT"}):
    print("FAIL: first FIN record", fins[0]); sys.exit(1)
EOF
ok

# ---- the ladder, in every format -------------------------------------------------------------
for fmt in text mermaid svg json; do
    expect_exit 0 "$BIN" analyze --conn 1 --format "$fmt" "$tmp/seeds.pcap"
    cp "$tmp/out" "$tmp/ladder.$fmt"
done
grep -q "sequenceDiagram" "$tmp/ladder.mermaid" || fail "mermaid ladder is not a sequenceDiagram"
grep -q "<svg" "$tmp/ladder.svg" || fail "svg ladder has no <svg>"
python3 -c "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])" "$tmp/ladder.svg" ||
    fail "svg ladder is not well-formed XML"
python3 -c "
import json,sys
for l in open(sys.argv[1]):
    json.loads(l)" "$tmp/ladder.json" || fail "json ladder lines do not parse"
grep -q "FIN_WAIT_1" "$tmp/ladder.text" || fail "text ladder lacks the states"
if command -v rsvg-convert >/dev/null; then
    rsvg-convert "$tmp/ladder.svg" -o "$tmp/ladder.png" || fail "rsvg-convert cannot render the ladder"
fi
ok

# ---- bad input and bad usage -----------------------------------------------------------------
: >"$tmp/empty.pcap"
expect_exit 3 "$BIN" analyze "$tmp/empty.pcap"
grep -q "empty" "$tmp/err" || fail "empty file: no 'empty' in the message"
printf 'this is not a capture at all, just some text\n' >"$tmp/text.pcap"
expect_exit 3 "$BIN" analyze "$tmp/text.pcap"
grep -q "not a pcap" "$tmp/err" || fail "wrong magic: no 'not a pcap' in the message"
expect_exit 3 "$BIN" analyze "$tmp/does-not-exist.pcap"
head -c 130 "$tmp/seeds.pcap" >"$tmp/trunc.pcap"
expect_exit 1 "$BIN" analyze "$tmp/trunc.pcap"
grep -q "record" "$tmp/err" || fail "truncated capture: the record is not named"
head -c 12 "$tmp/seeds.pcap" >"$tmp/hdr.pcap"
expect_exit 3 "$BIN" analyze "$tmp/hdr.pcap"
expect_exit 2 "$BIN" analyze -f 'port port' "$tmp/seeds.pcap"
expect_exit 2 "$BIN" analyze --bogus "$tmp/seeds.pcap"
expect_exit 2 "$BIN" analyze --conn 99 "$tmp/seeds.pcap"
expect_exit 2 "$BIN" analyze --format svg "$tmp/seeds.pcap"
expect_exit 0 "$BIN" analyze --help

echo "$checks passed, $fails failed"
[ "$fails" -eq 0 ]
