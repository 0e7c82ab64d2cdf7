#!/usr/bin/env bash
# cli_msl_units.sh — `tcpwave sim --msl` and `tcpwave analyze --msl` read the same text the same
# way (one parser, src/util/duration.h): a plain number is seconds, or a unit is given (500ms,
# 2s). The same --msl given to both makes TIME_WAIT equally long: sim runs it, analyze infers it
# from a capture of the run.
set -u
BUILD=${1:?usage: cli_msl_units.sh BUILD_DIR}
BIN=$BUILD/tcpwave
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

"$BIN" sim --pcap "$tmp/fw.pcap" -q >/dev/null || fail "sim --pcap exited $?"
# MSL as typed -> TIME_WAIT (2MSL) in µs, as sim runs it and as analyze reports it
for spec in "5 10000000 10 s" "0.5 1000000 1 s" "500ms 1000000 1 s" "2s 4000000 4 s" "1.5 3000000 3 s"; do
    set -- $spec
    msl=$1 tw_us=$2 tw_text="$3 $4"
    "$BIN" sim --msl "$msl" --format json >"$tmp/sim.jsonl" || { fail "sim --msl $msl exited $?"; continue; }
    python3 - "$tmp/sim.jsonl" "$tw_us" <<'PY' || fail "sim --msl $msl: TIME_WAIT does not last $tw_us us"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
st = [e for e in ev if e["ev"] == "state" and e["who"] == "client"]
tw = [e["t_us"] for e in st if e["to"] == "TIME_WAIT"][0]
end = [e["t_us"] for e in st if e["from"] == "TIME_WAIT"][0]
sys.exit(0 if end - tw == int(sys.argv[2]) else 1)
PY
    "$BIN" analyze --no-progress --msl "$msl" "$tmp/fw.pcap" >"$tmp/an.txt" 2>"$tmp/err" ||
        { fail "analyze --msl $msl exited $?: $(head -1 "$tmp/err")"; continue; }
    grep -q "TIME_WAIT = 2MSL = $tw_text" "$tmp/an.txt" ||
        fail "analyze --msl $msl: not 'TIME_WAIT = 2MSL = $tw_text': $(grep -m1 'TIME_WAIT =' "$tmp/an.txt")"
done
# the default: 30 s, TIME_WAIT 60 s
"$BIN" analyze --no-progress "$tmp/fw.pcap" | grep -q "TIME_WAIT = 2MSL = 60 s" || fail "analyze: default MSL is not 30 s"
# what neither accepts
for v in abc -1 1e3 5m "" 1.; do
    "$BIN" sim --msl "$v" >/dev/null 2>&1
    [ $? -eq 2 ] || fail "sim --msl '$v' does not exit 2"
    "$BIN" analyze --no-progress --msl "$v" "$tmp/fw.pcap" >/dev/null 2>"$tmp/err"
    [ $? -eq 2 ] || fail "analyze --msl '$v' does not exit 2"
    grep -q -- "--msl" "$tmp/err" || fail "analyze --msl '$v': the error does not name --msl"
done
# analyze's range: 1 ms to 3600 s (30000 is no longer read as milliseconds)
for v in 0 300us 30000 3601; do
    "$BIN" analyze --no-progress --msl "$v" "$tmp/fw.pcap" >/dev/null 2>&1
    [ $? -eq 2 ] || fail "analyze --msl $v is not refused"
done
"$BIN" analyze --help | grep -q -- "--msl S .*seconds" || fail "analyze --help does not say --msl is in seconds"

[ $fails -eq 0 ] || { echo "cli_msl_units: $fails FAILED"; exit 1; }
echo "cli_msl_units: ok"
